// Over MariaDB: the in-memory ledger index answers exactly what the SQL
// LoadPeriods answers while movements arrive through the service and straight into
// the table, commit out of id order, roll back, get corrected by a re-import, and
// while tiers change; and the pipeline summed in SQL equals ComputePipeline over
// every open opportunity.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cppconn/connection.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <memory>
#include <random>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/db/sql_values.h"
#include "common/server/proto_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "services/expansion/fake_health_server.h"
#include "services/expansion/grpc_health_client.h"
#include "services/expansion/expansion_db_fixture.h"
#include "services/expansion/ledger_index.h"
#include "services/expansion/metrics_service.h"
#include "services/expansion/mysql_opportunity_repository.h"
#include "services/expansion/mysql_revenue_repository.h"
#include "services/expansion/opportunity_service.h"
#include "services/expansion/proto_mapping.h"
#include "services/expansion/revenue_service.h"

namespace cs::expansion {
namespace {

namespace v1 = ::cs::expansion::v1;

std::string Describe(const AccountPeriod& a) {
  return absl::StrCat(a.account_id, " tier=", static_cast<int>(a.tier), " start=", a.start_mrr,
                      " end=", a.end_mrr, " new=", a.new_mrr, " exp=", a.expansion_mrr,
                      " react=", a.reactivation_mrr, " contr=", a.contraction_mrr,
                      " churn=", a.churn_mrr, " exp_n=", a.expansion_movements);
}

std::vector<std::string> Sorted(const std::vector<AccountPeriod>& periods) {
  std::vector<std::string> out;
  for (const AccountPeriod& a : periods) out.push_back(Describe(a));
  std::sort(out.begin(), out.end());
  return out;
}

class LedgerIndexDbTest : public ExpansionDbFixture {
 protected:
  void SetUp() override {
    SetUpSchema("expidx");
    if (IsSkipped() || HasFatalFailure()) return;
    LedgerIndexOptions options;
    options.gap_probe_age = absl::ZeroDuration();  // probe at once: open transactions must hold
    options.page_rows = 7;                         // several pages per refresh
    options.scan_accounts = 3;                     // and both ways of reading account facts
    index_ = std::make_unique<LedgerIndex>(pool_.get(), options);
    indexed_ = std::make_unique<MetricsService>(opportunity_repository_.get(),
                                                revenue_repository_.get(), &clock_,
                                                MetricsSettings{}, index_.get());
    sql_ = std::make_unique<MetricsService>(opportunity_repository_.get(),
                                            revenue_repository_.get(), &clock_);
  }

  void SetTier(const std::string& account, Tier tier) {
    AccountProfile p;
    p.account_id = account;
    p.tier = tier;
    ASSERT_OK(opportunities_->UpsertProfile(Key("Profile", absl::StrCat("p-", ++requests_)),
                                            profile_codec_, p));
  }

  void Import(const std::vector<std::tuple<std::string, int, int, int64_t>>& months,
              Tier tier = Tier::kUnspecified) {
    std::vector<SubscriptionMonth> rows;
    for (const auto& m : months) {
      SubscriptionMonth s;
      s.account_id = std::get<0>(m);
      s.month = absl::CivilMonth(std::get<1>(m), std::get<2>(m));
      s.mrr = {std::get<3>(m), "USD"};
      s.tier = static_cast<int>(tier);
      rows.push_back(s);
    }
    ASSERT_OK(revenue_->Import(Key("Import", absl::StrCat("i-", ++requests_)), import_codec_, rows));
  }

  // A movement written straight into the table (another tool, a replica of an older
  // version), on `conn`, which may be inside a transaction.
  static void InsertRaw(db::Connection& conn, const std::string& account, absl::CivilDay month,
                        const std::string& kind, int64_t amount) {
    auto& stmt = conn.Prepare(
        "INSERT INTO revenue_movements (account_id, month, kind, mrr_change_minor, currency,"
        " recorded_at) VALUES (?, ?, ?, ?, 'USD', UTC_TIMESTAMP(6))");
    stmt.setString(1, account);
    db::SetOptionalDate(stmt, 2, month);
    stmt.setString(3, kind);
    stmt.setInt64(4, amount);
    stmt.executeUpdate();
  }

  void InsertRaw(const std::string& account, absl::CivilDay month, const std::string& kind,
                 int64_t amount) {
    ASSERT_OK(pool_->Run([&](db::Connection& conn) -> absl::Status {
      InsertRaw(conn, account, month, kind, amount);
      return absl::OkStatus();
    }));
  }

  void InsertLedgerAccount(const std::string& account) {
    ASSERT_OK(pool_->Run([&](db::Connection& conn) -> absl::Status {
      auto& stmt =
          conn.Prepare("INSERT INTO ledger_accounts (account_id, currency) VALUES (?, 'USD')");
      stmt.setString(1, account);
      stmt.executeUpdate();
      return absl::OkStatus();
    }));
  }

  int64_t CountRows() {
    int64_t n = -1;
    EXPECT_OK(pool_->Run([&](db::Connection& conn) -> absl::Status {
      std::unique_ptr<sql::ResultSet> rs(
          conn.Prepare("SELECT COUNT(*) FROM revenue_movements").executeQuery());
      rs->next();
      n = rs->getInt64(1);
      return absl::OkStatus();
    }));
    return n;
  }

  // The index's answer equals LoadPeriods's for several periods, currencies and
  // tiers, and the retention report through either path is the same.
  void ExpectSameAsSql(const std::string& when) {
    SCOPED_TRACE(when);
    const std::vector<std::pair<absl::CivilMonth, absl::CivilMonth>> periods = {
        {absl::CivilMonth(2026, 1), absl::CivilMonth(2026, 3)},
        {absl::CivilMonth(2025, 9), absl::CivilMonth(2026, 12)},
        {absl::CivilMonth(2026, 2), absl::CivilMonth(2026, 2)},
        {absl::CivilMonth(2024, 1), absl::CivilMonth(2025, 10)}};
    for (const auto& [first, last] : periods) {
      for (const char* currency : {"USD", "EUR", "GBP"}) {
        for (Tier tier : {Tier::kUnspecified, Tier::kEnterprise, Tier::kSmb, Tier::kSolo}) {
          SCOPED_TRACE(absl::StrCat(absl::FormatCivilTime(first), "..",
                                    absl::FormatCivilTime(last), " ", currency, " tier ",
                                    static_cast<int>(tier)));
          absl::StatusOr<std::vector<AccountPeriod>> memory =
              index_->Periods(currency, tier, first, last);
          absl::StatusOr<std::vector<AccountPeriod>> database =
              revenue_repository_->LoadPeriods(currency, tier, first, last);
          ASSERT_OK(memory);
          ASSERT_OK(database);
          EXPECT_EQ(Sorted(*memory), Sorted(*database));
        }
      }
      const MonthPeriod period{first, last};
      absl::StatusOr<RetentionReport> a = indexed_->Retention(period, "USD", 0);
      absl::StatusOr<RetentionReport> b = sql_->Retention(period, "USD", 0);
      ASSERT_OK(a);
      ASSERT_OK(b);
      EXPECT_EQ(a->overall.starting_accounts, b->overall.starting_accounts);
      EXPECT_EQ(a->overall.starting_mrr, b->overall.starting_mrr);
      EXPECT_EQ(a->overall.churned_accounts, b->overall.churned_accounts);
      EXPECT_EQ(a->overall.expansion_mrr, b->overall.expansion_mrr);
      EXPECT_EQ(a->overall.contraction_mrr, b->overall.contraction_mrr);
      EXPECT_EQ(a->overall.churned_mrr, b->overall.churned_mrr);
      EXPECT_EQ(a->overall.nrr, b->overall.nrr);
      EXPECT_EQ(a->overall.grr, b->overall.grr);
      EXPECT_EQ(a->overall.clv, b->overall.clv);
      EXPECT_EQ(a->by_tier.size(), b->by_tier.size());
      for (const auto& [tier, f] : b->by_tier) {
        ASSERT_TRUE(a->by_tier.count(tier)) << static_cast<int>(tier);
        EXPECT_EQ(a->by_tier.at(tier).starting_mrr, f.starting_mrr);
        EXPECT_EQ(a->by_tier.at(tier).nrr, f.nrr);
      }
      absl::StatusOr<ExpansionReport> ea = indexed_->Expansion(period, "USD", Tier::kSmb);
      absl::StatusOr<ExpansionReport> eb = sql_->Expansion(period, "USD", Tier::kSmb);
      ASSERT_OK(ea);
      ASSERT_OK(eb);
      EXPECT_EQ(ea->new_mrr, eb->new_mrr);
      EXPECT_EQ(ea->expansion_mrr, eb->expansion_mrr);
      EXPECT_EQ(ea->expanded_accounts, eb->expanded_accounts);
      EXPECT_EQ(ea->expansion_arpu, eb->expansion_arpu);
    }
    // Nothing counted twice, nothing missing.
    EXPECT_EQ(index_->stats().movements, CountRows());
  }

  std::unique_ptr<LedgerIndex> index_;
  std::unique_ptr<MetricsService> indexed_;
  std::unique_ptr<MetricsService> sql_;
};

TEST_F(LedgerIndexDbTest, AnswersWhatTheDatabaseSumsThroughEveryKindOfWrite) {
  ExpectSameAsSql("empty ledger");

  // Through the service.
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
  Move("E", 2026, 3, MovementKind::kExpansion, 5000);  // same cell as the one before
  Move("F", 2025, 10, MovementKind::kNew, 100000, "EUR");
  Move("F", 2026, 1, MovementKind::kChurn, -100000, "EUR");
  ExpectSameAsSql("service writes");

  // Straight into the table, with and without the account's ledger row; one row is
  // dated mid-month (LoadPeriods compares whole dates).
  InsertLedgerAccount("H");
  InsertRaw("H", absl::CivilDay(2025, 12, 1), "NEW", 30000);
  InsertRaw("H", absl::CivilDay(2026, 3, 15), "EXPANSION", 3000);
  InsertRaw("A", absl::CivilDay(2026, 2, 1), "EXPANSION", 777);
  InsertRaw("Z", absl::CivilDay(2025, 12, 1), "NEW", 40000);  // no ledger row: not counted
  ExpectSameAsSql("direct writes");
  InsertLedgerAccount("Z");  // now it is
  ExpectSameAsSql("late ledger row");

  // Out-of-order commit: a transaction takes an id, a later id commits first.
  {
    absl::StatusOr<db::Pool::Lease> slow = pool_->Acquire();
    ASSERT_OK(slow);
    (*slow)->raw().setAutoCommit(false);
    InsertRaw(**slow, "A", absl::CivilDay(2026, 1, 1), "EXPANSION", 11111);
    Move("B", 2026, 2, MovementKind::kExpansion, 22222);
    ExpectSameAsSql("lower id not committed yet");
    EXPECT_GE(index_->stats().movement_gap_ids, 1);
    (*slow)->raw().commit();
    (*slow)->raw().setAutoCommit(true);
  }
  ExpectSameAsSql("lower id committed after the higher one");
  EXPECT_EQ(index_->stats().movement_gap_ids, 0);

  // A rolled-back insert leaves a gap for good: the probe lets it go.
  {
    absl::StatusOr<db::Pool::Lease> doomed = pool_->Acquire();
    ASSERT_OK(doomed);
    (*doomed)->raw().setAutoCommit(false);
    InsertRaw(**doomed, "A", absl::CivilDay(2026, 1, 1), "EXPANSION", 99999);
    Move("C", 2026, 3, MovementKind::kReactivation, 60000);
    ExpectSameAsSql("before the rollback");
    (*doomed)->raw().rollback();
    (*doomed)->raw().setAutoCommit(true);
  }
  ExpectSameAsSql("after the rollback");
  EXPECT_EQ(index_->stats().movement_gap_ids, 0);

  // Tier changes.
  SetTier("A", Tier::kSmb);
  SetTier("H", Tier::kSolo);
  ExpectSameAsSql("tiers changed");

  // A re-import corrects and removes derived movements the index has already read,
  // and one it reads only after the correction.
  Import({{"G", 2025, 9, 1000}, {"G", 2025, 10, 1500}, {"G", 2026, 1, 1200}, {"G", 2026, 2, 0},
          {"G", 2026, 3, 800}});
  ExpectSameAsSql("first import");
  Import({{"G", 2025, 10, 2500}, {"G", 2026, 3, 0}});
  ExpectSameAsSql("re-import with corrections");
  Import({{"G", 2025, 10, 2500}}, Tier::kSmb);  // an import sets the tier too
  ExpectSameAsSql("tier set by an import");
  // G is known to the index, its new movement is not when the correction comes.
  Import({{"G", 2026, 5, 400}});
  Import({{"G", 2026, 5, 600}});
  ExpectSameAsSql("new movement of a known account corrected before the index read it");
  Import({{"K", 2025, 12, 500}, {"K", 2026, 1, 700}});
  Import({{"K", 2026, 1, 300}, {"K", 2026, 2, 900}});
  ExpectSameAsSql("import corrected before the index read it");

  // Out of order again, now with a correction in the slow transaction: the change
  // log row has the lower id.
  {
    absl::StatusOr<db::Pool::Lease> slow = pool_->Acquire();
    ASSERT_OK(slow);
    (*slow)->raw().setAutoCommit(false);
    InsertRaw(**slow, "E", absl::CivilDay(2026, 2, 1), "CONTRACTION", -1234);
    LogMovementChange(**slow, "ignored-account", 1, absl::CivilDay(2026, 1, 1), "NEW", 0,
                      std::string("NEW"), 0, clock_.Now());
    Import({{"K", 2026, 2, 950}});
    ExpectSameAsSql("change log out of order");
    (*slow)->raw().commit();
    (*slow)->raw().setAutoCommit(true);
  }
  ExpectSameAsSql("everything committed");

  // A second index loading everything at once agrees with the first.
  LedgerIndex fresh(pool_.get());
  absl::StatusOr<std::vector<AccountPeriod>> a = fresh.Periods(
      "USD", Tier::kUnspecified, absl::CivilMonth(2025, 9), absl::CivilMonth(2026, 12));
  absl::StatusOr<std::vector<AccountPeriod>> b = index_->Periods(
      "USD", Tier::kUnspecified, absl::CivilMonth(2025, 9), absl::CivilMonth(2026, 12));
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(Sorted(*a), Sorted(*b));
  EXPECT_EQ(fresh.stats().movements, CountRows());
}

TEST_F(LedgerIndexDbTest, BackgroundRefreshKeepsUp) {
  index_->Start(absl::Milliseconds(20));
  SetTier("A", Tier::kEnterprise);
  for (int i = 0; i < 30; ++i) {
    Move(absl::StrCat("acct-", i % 7), 2025, 1 + i % 12,
         i % 3 == 0 ? MovementKind::kNew : MovementKind::kExpansion, 1000 + i);
  }
  for (int i = 0; i < 100 && index_->stats().movements < 30; ++i) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(index_->stats().movements, 30);
  index_->Stop();
  ExpectSameAsSql("after the background refreshes");
}

// The pipeline summed by the database, against ComputePipeline over ListOpen.
std::string Describe(const AmountPair& p) {
  return absl::StrCat(p.total, "/", p.weighted, "/", p.count);
}

template <typename K>
std::vector<std::string> Describe(const std::map<K, AmountPair>& m) {
  std::vector<std::string> out;
  for (const auto& [k, p] : m) out.push_back(Describe(p));
  return out;
}

std::vector<std::string> Describe(const std::map<Quarter, AmountPair>& m) {
  std::vector<std::string> out;
  for (const auto& [q, p] : m) out.push_back(absl::StrCat(q.year, "Q", q.quarter, " ", Describe(p)));
  return out;
}

TEST_F(LedgerIndexDbTest, PipelineSummedInTheDatabaseEqualsComputePipeline) {
  const char* stages[] = {"IDENTIFIED", "QUALIFIED", "PROPOSAL", "NEGOTIATION", "CLOSED_WON",
                          "CLOSED_LOST"};
  const char* kinds[] = {"SEAT_EXPANSION", "FEATURE_UPSELL", "ADD_ON", "CROSS_SELL",
                         "CUSTOM_SOLUTION"};
  const char* tiers[] = {"ENTERPRISE", "MID_MARKET", "SMB", "SOLO", "UNSPECIFIED"};
  const char* owners[] = {"csm-1", "csm-2", "csm-3"};
  // Amounts whose weighted share lands on .5 and around it at many probabilities.
  const int64_t amounts[] = {1,   2,    3,      5,      50,        99,
                             101, 149,  150,    151,    12345,     99999,
                             250, 1050, 777777, 333333, 999999999999999};
  const int percents[] = {0, 1, 10, 25, 33, 49, 50, 51, 67, 75, 99, 100};
  std::mt19937 random(7);
  ASSERT_OK(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(
        "INSERT INTO opportunities (account_id, kind, stage, owner_id, amount_minor, currency,"
        " probability_percent, expected_close_date, source, source_ref, title, description,"
        " tier, loss_reason, created_at, updated_at, closed_at, version)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'MANUAL', '', 'x', 'a long description', ?, '',"
        " UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), NULL, 1)");
    for (int i = 0; i < 1500; ++i) {
      stmt.setString(1, absl::StrCat("acct-", i % 97));
      stmt.setString(2, kinds[random() % 5]);
      stmt.setString(3, stages[random() % 6]);
      stmt.setString(4, owners[random() % 3]);
      stmt.setInt64(5, amounts[random() % 17] + static_cast<int64_t>(random() % 3) * 100);
      stmt.setString(6, i % 10 == 0 ? "EUR" : "USD");
      stmt.setInt(7, percents[random() % 12]);
      db::SetOptionalDate(stmt, 8,
                          absl::CivilDay(2025, 11, 1) + static_cast<int>(random() % 800));
      stmt.setString(9, tiers[random() % 5]);
      stmt.executeUpdate();
    }
    return absl::OkStatus();
  }));
  for (const char* currency : {"USD", "EUR", "GBP"}) {
    for (const char* owner : {"", "csm-2", "nobody"}) {
      for (Tier tier : {Tier::kUnspecified, Tier::kEnterprise, Tier::kSmb, Tier::kMidMarket}) {
        SCOPED_TRACE(absl::StrCat(currency, " owner '", owner, "' tier ", static_cast<int>(tier)));
        absl::StatusOr<std::vector<Opportunity>> open =
            opportunity_repository_->ListOpen(currency, owner, tier);
        ASSERT_OK(open);
        absl::StatusOr<PipelineReport> want = ComputePipeline(*open);
        absl::StatusOr<PipelineReport> got =
            opportunity_repository_->SummarizeOpen(currency, owner, tier);
        ASSERT_OK(want);
        ASSERT_OK(got);
        EXPECT_EQ(Describe(got->open), Describe(want->open));
        EXPECT_EQ(Describe(got->by_stage), Describe(want->by_stage));
        EXPECT_EQ(Describe(got->by_kind), Describe(want->by_kind));
        EXPECT_EQ(Describe(got->by_tier), Describe(want->by_tier));
        EXPECT_EQ(Describe(got->by_quarter), Describe(want->by_quarter));
        EXPECT_EQ(got->by_stage.size(), want->by_stage.size());
        EXPECT_EQ(got->by_kind.size(), want->by_kind.size());
        EXPECT_EQ(got->by_tier.size(), want->by_tier.size());
        if (std::string(currency) == "USD" && owner[0] == '\0' && tier == Tier::kUnspecified) {
          EXPECT_GT(want->open.count, 500);
          EXPECT_GT(want->by_quarter.size(), 6u);
        }
      }
    }
  }
  // The service's answer is the summed one.
  absl::StatusOr<PipelineReport> service = indexed_->Pipeline("USD", "csm-1", Tier::kUnspecified);
  absl::StatusOr<std::vector<Opportunity>> open =
      opportunity_repository_->ListOpen("USD", "csm-1", Tier::kUnspecified);
  ASSERT_OK(service);
  ASSERT_OK(open);
  EXPECT_EQ(Describe(service->open), Describe(ComputePipeline(*open)->open));
}

}  // namespace
}  // namespace cs::expansion
