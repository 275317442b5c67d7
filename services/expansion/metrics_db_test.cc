// The ledger, subscription imports, retention and expansion measures, the pipeline
// and forecast snapshots over MariaDB. Every expected figure is worked out by hand
// in the comments from the small ledger the test writes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <thread>

#include "common/server/proto_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "services/expansion/fake_health_server.h"
#include "services/expansion/grpc_health_client.h"
#include "services/expansion/expansion_db_fixture.h"
#include "services/expansion/metrics_service.h"
#include "services/expansion/mysql_opportunity_repository.h"
#include "services/expansion/mysql_revenue_repository.h"
#include "services/expansion/opportunity_service.h"
#include "services/expansion/proto_mapping.h"
#include "services/expansion/revenue_service.h"

namespace cs::expansion {
namespace {

namespace v1 = ::cs::expansion::v1;
using ::cs::testing::StatusIs;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class MetricsDbTest : public ExpansionDbFixture {
 protected:
  void SetUp() override {
    SetUpSchema("expmet");
    if (IsSkipped() || HasFatalFailure()) return;
    metrics_ = std::make_unique<MetricsService>(opportunity_repository_.get(),
                                                revenue_repository_.get(), &clock_);
    opportunity_codec_ = ProtoCodec<Opportunity, v1::Opportunity>(
        [](const Opportunity& o, v1::Opportunity* p) { OpportunityToProto(o, p); },
        OpportunityFromProto);
    advance_codec_ =
        ProtoCodec<AdvanceResult, v1::AdvanceStageResponse>(AdvanceToProto, AdvanceFromProto);
    snapshot_codec_ =
        ProtoCodec<ForecastSnapshot, v1::ForecastSnapshot>(SnapshotToProto, SnapshotFromProto);
  }

  void SetTier(const std::string& account, Tier tier) {
    AccountProfile p;
    p.account_id = account;
    p.tier = tier;
    ASSERT_OK(opportunities_->UpsertProfile(Key("Profile", absl::StrCat("p-", ++requests_)),
                                            profile_codec_, p));
  }

  absl::StatusOr<Opportunity> NewOpportunity(const std::string& account, OpportunityKind kind,
                                             int64_t amount, absl::CivilDay close,
                                             Tier tier = Tier::kUnspecified, int probability = 0,
                                             const std::string& currency = "USD") {
    Opportunity o;
    o.account_id = account;
    o.kind = kind;
    o.amount = {amount, currency};
    o.expected_close_date = close;
    o.source = OpportunitySource::kManual;
    o.tier = tier;
    o.probability_percent = probability;
    return opportunities_->Create(Key("Create", absl::StrCat("o-", ++requests_)),
                                  opportunity_codec_, o);
  }

  absl::StatusOr<AdvanceResult> Advance(int64_t id, Stage to, const std::string& loss = "") {
    AdvanceRequest r;
    r.opportunity_id = id;
    r.to = to;
    r.loss_reason = loss;
    return opportunities_->Advance(Key("Advance", absl::StrCat("a-", ++requests_)), advance_codec_,
                                   r);
  }

  // Walks an opportunity to CLOSED_WON at the clock's time.
  void Win(int64_t id) {
    for (Stage s : {Stage::kQualified, Stage::kProposal, Stage::kNegotiation, Stage::kClosedWon}) {
      ASSERT_OK(Advance(id, s));
    }
  }

  // The small ledger of the retention and expansion tests (minor units, USD):
  //   A ENTERPRISE  NEW 100000 (2025-10); +50000 in 2026-02 from a won opportunity
  //   B ENTERPRISE  NEW 200000 (2025-11); CONTRACTION -50000 (2026-03)
  //   C SMB         NEW 100000 (2025-12); CHURN -100000 (2026-02)
  //   D SMB         NEW  50000 (2026-02)
  //   E SMB         NEW 100000 (2025-09); CONTRACTION -20000 (2026-01); EXPANSION +70000 (2026-03)
  //   F (EUR)       NEW 100000 (2025-10); CHURN (2026-01): another currency, never counted
  void WriteLedger() {
    SetTier("A", Tier::kEnterprise);
    SetTier("B", Tier::kEnterprise);
    for (const char* a : {"C", "D", "E"}) SetTier(a, Tier::kSmb);
    Move("A", 2025, 10, MovementKind::kNew, 100000);
    Move("B", 2025, 11, MovementKind::kNew, 200000);
    Move("B", 2026, 3, MovementKind::kContraction, -50000);
    Move("C", 2025, 12, MovementKind::kNew, 100000);
    Move("C", 2026, 2, MovementKind::kChurn, -100000);
    Move("D", 2026, 2, MovementKind::kNew, 50000);
    Move("E", 2025, 9, MovementKind::kNew, 100000);
    Move("E", 2026, 1, MovementKind::kContraction, -20000);
    Move("E", 2026, 3, MovementKind::kExpansion, 70000);
    Move("F", 2025, 10, MovementKind::kNew, 100000, "EUR");
    Move("F", 2026, 1, MovementKind::kChurn, -100000, "EUR");
    // A's seat expansion: created 2026-01-05, won 2026-02-10 (36 days), ARR 600000
    // = MRR 50000 posted in February. B's seat expansion is lost on 2026-03-01.
    clock_.Set(At(2026, 1, 5));
    absl::StatusOr<Opportunity> a =
        NewOpportunity("A", OpportunityKind::kSeatExpansion, 600000, absl::CivilDay(2026, 2, 28));
    ASSERT_OK(a);
    EXPECT_EQ(a->tier, Tier::kEnterprise);
    absl::StatusOr<Opportunity> b =
        NewOpportunity("B", OpportunityKind::kSeatExpansion, 120000, absl::CivilDay(2026, 3, 31));
    ASSERT_OK(b);
    clock_.Set(At(2026, 2, 10));
    Win(a->opportunity_id);
    clock_.Set(At(2026, 3, 1));
    ASSERT_OK(Advance(b->opportunity_id, Stage::kClosedLost, "chose a competitor"));
    // Lost after the period: not counted.
    absl::StatusOr<Opportunity> late =
        NewOpportunity("B", OpportunityKind::kFeatureUpsell, 1200, absl::CivilDay(2026, 4, 30));
    ASSERT_OK(late);
    clock_.Set(At(2026, 4, 2));
    ASSERT_OK(Advance(late->opportunity_id, Stage::kClosedLost, "later"));
  }

  std::unique_ptr<MetricsService> metrics_;
  db::ResultCodec<Opportunity> opportunity_codec_;
  db::ResultCodec<AdvanceResult> advance_codec_;
  db::ResultCodec<ForecastSnapshot> snapshot_codec_;
};

constexpr double kEps = 1e-9;

TEST_F(MetricsDbTest, RetentionOverAQuarterMatchesTheHandComputation) {
  WriteLedger();
  absl::StatusOr<RetentionReport> r =
      metrics_->Retention({absl::CivilMonth(2026, 1), absl::CivilMonth(2026, 3)}, "USD", 0);
  ASSERT_OK(r);
  const RetentionFigures& f = r->overall;
  // Cohort: A, B, C, E (D is new in the period) with 100000+200000+100000+100000.
  EXPECT_EQ(f.starting_accounts, 4);
  EXPECT_EQ(f.starting_mrr, 500000);
  // End: A 150000, B 150000, C 0, E 150000.
  // GRR = (min(150,100) + min(150,200) + 0 + min(150,100)) / 500 = 350/500.
  EXPECT_THAT(*f.grr, DoubleNear(0.70, kEps));
  // NRR = (150 + 150 + 0 + 150) / 500.
  EXPECT_THAT(*f.nrr, DoubleNear(0.90, kEps));
  EXPECT_EQ(f.expansion_mrr, 120000);   // A 50000 (the won opportunity) + E 70000
  EXPECT_EQ(f.contraction_mrr, 70000);  // B 50000 + E 20000
  EXPECT_EQ(f.churned_mrr, 100000);     // C
  EXPECT_EQ(f.churned_accounts, 1);
  EXPECT_THAT(*f.logo_churn_period, DoubleNear(0.25, kEps));
  const double monthly = 1 - std::cbrt(0.75);  // 0.0914397...
  EXPECT_THAT(*f.logo_churn_monthly, DoubleNear(monthly, kEps));
  // (1 - monthly)^12 = 0.75^4.
  EXPECT_THAT(*f.logo_churn_annual, DoubleNear(1 - 0.31640625, kEps));
  EXPECT_THAT(*f.revenue_churn_period, DoubleNear(0.30, kEps));
  EXPECT_THAT(*f.revenue_churn_monthly, DoubleNear(1 - std::cbrt(0.70), kEps));
  EXPECT_EQ(*f.arpa, 125000);  // 500000 / 4
  // CLV = 125000 x 0.8 / 0.0914397 = 1093617 (rounded).
  EXPECT_EQ(*f.clv, std::llround(125000 * 0.8 / monthly));
  EXPECT_EQ(*f.clv, 1093617);

  ASSERT_EQ(r->by_tier.size(), 2u);
  const RetentionFigures& ent = r->by_tier.at(Tier::kEnterprise);
  EXPECT_EQ(ent.starting_mrr, 300000);
  EXPECT_THAT(*ent.grr, DoubleNear(250000.0 / 300000, kEps));
  EXPECT_THAT(*ent.nrr, DoubleNear(1.0, kEps));
  EXPECT_FALSE(ent.clv.has_value());  // nobody churned: no finite lifetime
  const RetentionFigures& smb = r->by_tier.at(Tier::kSmb);
  EXPECT_EQ(smb.starting_accounts, 2);  // C and E
  EXPECT_THAT(*smb.grr, DoubleNear(0.5, kEps));
  EXPECT_THAT(*smb.nrr, DoubleNear(0.75, kEps));
  EXPECT_THAT(*smb.logo_churn_period, DoubleNear(0.5, kEps));
}

TEST_F(MetricsDbTest, OneMonthClvAndMarginOverride) {
  WriteLedger();
  const MonthPeriod feb{absl::CivilMonth(2026, 2), absl::CivilMonth(2026, 2)};
  absl::StatusOr<RetentionReport> r = metrics_->Retention(feb, "USD", 0);
  ASSERT_OK(r);
  // Start of February: A 100000, B 200000, C 100000, E 80000 = 480000 over 4.
  // End: A 150000, B 200000, C 0, E 80000.
  EXPECT_EQ(r->overall.starting_mrr, 480000);
  EXPECT_THAT(*r->overall.grr, DoubleNear(380000.0 / 480000, kEps));
  EXPECT_THAT(*r->overall.nrr, DoubleNear(430000.0 / 480000, kEps));
  EXPECT_THAT(*r->overall.logo_churn_monthly, DoubleNear(0.25, kEps));
  EXPECT_THAT(*r->overall.logo_churn_annual, DoubleNear(1 - std::pow(0.75, 12), kEps));
  EXPECT_EQ(*r->overall.arpa, 120000);
  EXPECT_EQ(*r->overall.clv, 384000);  // 120000 x 0.8 / 0.25
  absl::StatusOr<RetentionReport> half = metrics_->Retention(feb, "USD", 50);
  ASSERT_OK(half);
  EXPECT_EQ(*half->overall.clv, 240000);  // 120000 x 0.5 / 0.25
  EXPECT_THAT(metrics_->Retention(feb, "USD", 150), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(metrics_->Retention({absl::CivilMonth(2026, 3), absl::CivilMonth(2026, 2)}, "USD", 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("period.last_month")));
  // The EUR ledger is its own: F churned all of it in January.
  absl::StatusOr<RetentionReport> eur =
      metrics_->Retention({absl::CivilMonth(2026, 1), absl::CivilMonth(2026, 1)}, "EUR", 0);
  ASSERT_OK(eur);
  EXPECT_EQ(eur->overall.starting_accounts, 1);
  EXPECT_THAT(*eur->overall.grr, DoubleNear(0, kEps));
}

TEST_F(MetricsDbTest, ExpansionMeasuresMatchTheHandComputation) {
  WriteLedger();
  const MonthPeriod q1{absl::CivilMonth(2026, 1), absl::CivilMonth(2026, 3)};
  absl::StatusOr<ExpansionReport> r = metrics_->Expansion(q1, "USD", Tier::kUnspecified);
  ASSERT_OK(r);
  EXPECT_EQ(r->new_mrr, 50000);         // D
  EXPECT_EQ(r->expansion_mrr, 120000);  // A 50000 + E 70000
  EXPECT_EQ(r->reactivation_mrr, 0);
  EXPECT_THAT(*r->expansion_share, DoubleNear(120000.0 / 170000, kEps));
  EXPECT_EQ(r->starting_accounts, 4);
  EXPECT_EQ(r->expanded_accounts, 2);  // A and E
  EXPECT_THAT(*r->expansion_rate, DoubleNear(0.5, kEps));
  EXPECT_EQ(*r->expansion_arpu, 60000);  // 120000 / 2
  EXPECT_EQ(r->won_opportunities, 1);
  EXPECT_THAT(*r->cycle_median_days, DoubleNear(36, kEps));  // 2026-01-05 -> 2026-02-10
  EXPECT_THAT(*r->cycle_mean_days, DoubleNear(36, kEps));
  ASSERT_EQ(r->win_rate_by_kind.size(), 1u);  // the April loss is outside the period
  const KindWinRate& seats = r->win_rate_by_kind.at(OpportunityKind::kSeatExpansion);
  EXPECT_EQ(seats.won, 1);
  EXPECT_EQ(seats.lost, 1);
  EXPECT_THAT(*seats.win_rate, DoubleNear(0.5, kEps));

  absl::StatusOr<ExpansionReport> smb = metrics_->Expansion(q1, "USD", Tier::kSmb);
  ASSERT_OK(smb);
  EXPECT_EQ(smb->new_mrr, 50000);
  EXPECT_EQ(smb->expansion_mrr, 70000);
  EXPECT_THAT(*smb->expansion_share, DoubleNear(70000.0 / 120000, kEps));
  EXPECT_EQ(smb->starting_accounts, 2);
  EXPECT_EQ(smb->expanded_accounts, 1);
  EXPECT_EQ(smb->won_opportunities, 0);  // both opportunities are enterprise
}

TEST_F(MetricsDbTest, ImportDerivesMovementsAndReimportChangesNothing) {
  auto row = [](const std::string& account, int y, int m, int64_t mrr,
                const std::string& cur = "USD") {
    SubscriptionMonth s;
    s.account_id = account;
    s.month = absl::CivilMonth(y, m);
    s.mrr = {mrr, cur};
    return s;
  };
  // June is not imported: between the first and last month that means no revenue.
  const std::vector<SubscriptionMonth> rows = {row("G", 2025, 1, 1000), row("G", 2025, 2, 1500),
                                               row("G", 2025, 3, 1200), row("G", 2025, 4, 0),
                                               row("G", 2025, 5, 800),  row("G", 2025, 7, 900)};
  absl::StatusOr<ImportResult> first = revenue_->Import(Key("Import", "i1"), import_codec_, rows);
  ASSERT_OK(first);
  EXPECT_EQ(first->months_changed, 6);
  EXPECT_EQ(first->movements_added, 7);
  auto ledger = [&] {
    std::vector<std::pair<MovementKind, int64_t>> out;
    absl::StatusOr<MovementPage> page = revenue_->ListMovements("G", 0, 100);
    EXPECT_OK(page);
    for (const RevenueMovement& m : page->movements) {
      EXPECT_EQ(m.source, MovementSource::kSubscriptionImport);
      out.emplace_back(m.kind, m.mrr_change.minor_units);
    }
    return out;
  };
  using P = std::pair<MovementKind, int64_t>;
  EXPECT_THAT(ledger(),
              ElementsAre(P{MovementKind::kNew, 1000}, P{MovementKind::kExpansion, 500},
                          P{MovementKind::kContraction, -300}, P{MovementKind::kChurn, -1200},
                          P{MovementKind::kReactivation, 800}, P{MovementKind::kChurn, -800},
                          P{MovementKind::kReactivation, 900}));
  // The same figures again, under a new request id: nothing changes.
  absl::StatusOr<ImportResult> again = revenue_->Import(Key("Import", "i2"), import_codec_, rows);
  ASSERT_OK(again);
  EXPECT_EQ(again->months_changed, 0);
  EXPECT_EQ(again->movements_added + again->movements_changed + again->movements_removed, 0);
  EXPECT_EQ(ledger().size(), 7u);
  // A corrected March (1500): February to March is flat, April churns 1500.
  absl::StatusOr<ImportResult> fix =
      revenue_->Import(Key("Import", "i3"), import_codec_, {row("G", 2025, 3, 1500)});
  ASSERT_OK(fix);
  EXPECT_EQ(fix->months_changed, 1);
  EXPECT_EQ(fix->movements_removed, 1);
  EXPECT_EQ(fix->movements_changed, 1);
  EXPECT_THAT(ledger(),
              ElementsAre(P{MovementKind::kNew, 1000}, P{MovementKind::kExpansion, 500},
                          P{MovementKind::kChurn, -1500}, P{MovementKind::kReactivation, 800},
                          P{MovementKind::kChurn, -800}, P{MovementKind::kReactivation, 900}));

  // One account in another currency than its ledger: the whole import is refused.
  Move("H", 2025, 1, MovementKind::kNew, 500, "EUR");
  EXPECT_THAT(revenue_->Import(Key("Import", "i4"), import_codec_,
                               {row("K", 2025, 1, 100), row("H", 2025, 2, 700)}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("subscriptions[1]")));
  EXPECT_TRUE(revenue_->ListMovements("K", 0, 10)->movements.empty());
  // Bad rows name themselves and write nothing.
  EXPECT_THAT(revenue_->Import(Key("Import", "i5"), import_codec_, {row("K", 2025, 1, -1)}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subscriptions[0].mrr")));
  EXPECT_THAT(revenue_->Import(Key("Import", "i6"), import_codec_,
                               {row("K", 2025, 1, 1), row("K", 2025, 1, 2)}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subscriptions[1]")));
  EXPECT_THAT(revenue_->Import(Key("Import", "i7"), import_codec_,
                               {row("K", 2025, 1, 1), row("K", 2025, 2, 2, "EUR")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("currency_code")));
  EXPECT_TRUE(revenue_->ListMovements("K", 0, 10)->movements.empty());
}

TEST_F(MetricsDbTest, OverflowingAmountsAreRefused) {
  Move("big", 2025, 1, MovementKind::kNew, kMaxMovementMinor);
  RevenueMovement more;
  more.account_id = "big";
  more.month = absl::CivilMonth(2025, 2);
  more.kind = MovementKind::kExpansion;
  more.mrr_change = {1, "USD"};
  EXPECT_THAT(
      revenue_->RecordMovement(Key("Record", "x1"), movement_codec_, more),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("movement.mrr_change.minor_units")));
  more.mrr_change = {INT64_MAX, "USD"};
  more.account_id = "other";
  EXPECT_THAT(revenue_->RecordMovement(Key("Record", "x2"), movement_codec_, more),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(revenue_->ListMovements("", 0, 10)->movements.size(), 1u);
}

TEST_F(MetricsDbTest, PipelineForecastSnapshotAndAccuracy) {
  // Open: o1 ENTERPRISE 1,000,000 IDENTIFIED (10 %) closing Q1 -> weighted 100000
  //       o2 SMB 2,000,000 QUALIFIED (25 %) closing Q2 -> 500000
  //       o3 SMB 333,333 IDENTIFIED at 33 % closing Q2 -> round(109999.89) = 110000
  // Not open or not USD: a won one and a EUR one.
  absl::StatusOr<Opportunity> o1 = NewOpportunity("A", OpportunityKind::kSeatExpansion, 1'000'000,
                                                  absl::CivilDay(2026, 3, 31), Tier::kEnterprise);
  absl::StatusOr<Opportunity> o2 = NewOpportunity("B", OpportunityKind::kCrossSell, 2'000'000,
                                                  absl::CivilDay(2026, 5, 15), Tier::kSmb);
  absl::StatusOr<Opportunity> o3 = NewOpportunity("C", OpportunityKind::kAddOn, 333'333,
                                                  absl::CivilDay(2026, 6, 30), Tier::kSmb, 33);
  absl::StatusOr<Opportunity> o4 =
      NewOpportunity("D", OpportunityKind::kAddOn, 24'000, absl::CivilDay(2026, 2, 1));
  absl::StatusOr<Opportunity> o5 = NewOpportunity("E", OpportunityKind::kAddOn, 24'000,
                                                  absl::CivilDay(2026, 2, 1), Tier::kSmb, 0, "EUR");
  for (const auto* o : {&o1, &o2, &o3, &o4, &o5}) ASSERT_OK(*o);
  ASSERT_OK(Advance(o2->opportunity_id, Stage::kQualified));
  Win(o4->opportunity_id);

  absl::StatusOr<PipelineReport> p = metrics_->Pipeline("USD", "", Tier::kUnspecified);
  ASSERT_OK(p);
  EXPECT_EQ(p->open.count, 3);
  EXPECT_EQ(p->open.total, 3'333'333);
  EXPECT_EQ(p->open.weighted, 710'000);
  EXPECT_EQ(p->by_stage.at(Stage::kIdentified).total, 1'333'333);
  EXPECT_EQ(p->by_stage.at(Stage::kIdentified).weighted, 210'000);
  EXPECT_EQ(p->by_stage.at(Stage::kQualified).weighted, 500'000);
  EXPECT_EQ(p->by_kind.at(OpportunityKind::kAddOn).weighted, 110'000);
  EXPECT_EQ(p->by_tier.at(Tier::kSmb).total, 2'333'333);
  EXPECT_EQ(p->by_tier.at(Tier::kEnterprise).weighted, 100'000);
  const Quarter q1{2026, 1}, q2{2026, 2};
  EXPECT_EQ(p->by_quarter.at(q1).weighted, 100'000);
  EXPECT_EQ(p->by_quarter.at(q2).weighted, 610'000);
  EXPECT_EQ(p->by_quarter.size(), 2u);
  absl::StatusOr<PipelineReport> smb = metrics_->Pipeline("USD", "", Tier::kSmb);
  ASSERT_OK(smb);
  EXPECT_EQ(smb->open.weighted, 610'000);

  absl::StatusOr<ForecastSnapshot> snap =
      metrics_->Snapshot(Key("Snapshot", "s1"), snapshot_codec_, "USD");
  ASSERT_OK(snap);
  EXPECT_FALSE(snap->scheduled);
  // What closes afterwards: o1 is won in Q1 (1,000,000 against 100,000 weighted).
  clock_.Set(At(2026, 3, 1));
  Win(o1->opportunity_id);
  absl::StatusOr<ForecastAccuracy> acc = metrics_->Accuracy(snap->snapshot_id);
  ASSERT_OK(acc);
  ASSERT_EQ(acc->quarters.size(), 2u);
  EXPECT_EQ(acc->quarters[0].quarter, q1);
  EXPECT_EQ(acc->quarters[0].forecast.weighted, 100'000);
  // Q1 also holds o4, won on 2026-01-05 (the clock's start) for 24,000.
  EXPECT_EQ(acc->quarters[0].actual_won, 1'024'000);
  EXPECT_THAT(*acc->quarters[0].accuracy_ratio, DoubleNear(10.24, kEps));
  EXPECT_THAT(*acc->quarters[0].error_ratio, DoubleNear(9.24, kEps));
  EXPECT_EQ(acc->quarters[1].actual_won, 0);
  EXPECT_THAT(*acc->quarters[1].accuracy_ratio, DoubleNear(0, kEps));
  // The snapshot is what it was: o1 still counts in it.
  absl::StatusOr<SnapshotPage> list = metrics_->ListSnapshots(0, 10);
  ASSERT_OK(list);
  ASSERT_EQ(list->snapshots.size(), 1u);
  EXPECT_EQ(list->snapshots[0].by_quarter.at(q1).total, 1'000'000);
  EXPECT_THAT(metrics_->Accuracy(999), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(MetricsDbTest, ScheduledSnapshotIsTakenOncePerDayAcrossReplicas) {
  ASSERT_OK(
      NewOpportunity("A", OpportunityKind::kSeatExpansion, 1'000, absl::CivilDay(2026, 3, 31)));
  // Two replicas: their own pools and services over the same schema.
  db::Pool other_pool(db_->config());
  MySqlOpportunityRepository other_opps(&other_pool, &clock_);
  MySqlRevenueRepository other_revenue(&other_pool, &clock_);
  MetricsService other(&other_opps, &other_revenue, &clock_);
  int taken[2] = {0, 0};
  std::thread t1([&] { taken[0] = metrics_->RunScheduledSnapshots().value_or(-1); });
  std::thread t2([&] { taken[1] = other.RunScheduledSnapshots().value_or(-1); });
  t1.join();
  t2.join();
  EXPECT_EQ(taken[0] + taken[1], 1);
  EXPECT_EQ(*metrics_->RunScheduledSnapshots(), 0);  // the day's is taken
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(*other.RunScheduledSnapshots(), 1);
  absl::StatusOr<SnapshotPage> list = metrics_->ListSnapshots(0, 10);
  ASSERT_OK(list);
  ASSERT_EQ(list->snapshots.size(), 2u);
  EXPECT_TRUE(list->snapshots[0].scheduled);
  EXPECT_EQ(list->snapshots[0].by_quarter.at(Quarter{2026, 1}).weighted, 100);
}

}  // namespace
}  // namespace cs::expansion
