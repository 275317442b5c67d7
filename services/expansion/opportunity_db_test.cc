// Opportunities through the real handler, services and MariaDB, with health played
// by an in-process gRPC server (the real client, channel and deadline in between).
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>

#include "common/db/migrations.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "services/expansion/fake_health_server.h"
#include "services/expansion/grpc_handler.h"
#include "services/expansion/grpc_health_client.h"
#include "services/expansion/mysql_opportunity_repository.h"
#include "services/expansion/mysql_revenue_repository.h"

namespace cs::expansion {
namespace {

namespace v1 = ::cs::expansion::v1;
namespace hv1 = ::cs::health::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::Time At(int y, int m, int d, int h = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, h, 0, 0), absl::UTCTimeZone());
}

class OpportunityDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "expopp");
    pool_ = std::make_unique<db::Pool>(db_->config());
    ASSERT_OK(db::ApplyMigrations(
        *pool_, {{"common", &common_migrations()}, {"expansion", &expansion_migrations()}}));
    health_ = std::make_unique<testing::FakeHealthServer>();
    // Few, short attempts: the unreachable-health test must not wait long.
    PeerChannelOptions options;
    options.max_attempts = 2;
    options.initial_backoff = absl::Milliseconds(20);
    health_client_ =
        std::make_unique<GrpcHealthClient>(health_->address(), absl::Seconds(1), options);
    revenue_repository_ = std::make_unique<MySqlRevenueRepository>(pool_.get(), &clock_);
    opportunity_repository_ = std::make_unique<MySqlOpportunityRepository>(pool_.get(), &clock_);
    revenue_ = std::make_unique<RevenueService>(revenue_repository_.get(), &clock_);
    opportunities_ = std::make_unique<OpportunityService>(opportunity_repository_.get(),
                                                          health_client_.get(), &clock_);
    metrics_ = std::make_unique<MetricsService>(opportunity_repository_.get(),
                                                revenue_repository_.get(), &clock_);
    handler_ =
        std::make_unique<ExpansionHandler>(revenue_.get(), opportunities_.get(), metrics_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(handler_.get());
    server_ = builder.BuildAndStart();
    stub_ = v1::ExpansionService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }

  static v1::Opportunity NewOpportunity(const std::string& account, v1::OpportunityKind kind,
                                        int64_t amount, const std::string& currency = "USD") {
    v1::Opportunity o;
    o.set_account_id(account);
    o.set_kind(kind);
    o.set_owner_id("csm-1");
    o.mutable_amount()->set_minor_units(amount);
    o.mutable_amount()->set_currency_code(currency);
    o.mutable_expected_close_date()->set_year(2026);
    o.mutable_expected_close_date()->set_month(3);
    o.mutable_expected_close_date()->set_day(31);
    o.set_source(v1::OPPORTUNITY_SOURCE_PLAYBOOK);
    o.set_source_ref("run-7");
    return o;
  }

  grpc::Status Create(const std::string& request_id, const v1::Opportunity& o,
                      v1::Opportunity* out = nullptr) {
    v1::CreateOpportunityRequest request;
    request.set_request_id(request_id);
    *request.mutable_opportunity() = o;
    v1::CreateOpportunityResponse response;
    grpc::ClientContext context;
    grpc::Status s = stub_->CreateOpportunity(&context, request, &response);
    if (out != nullptr) *out = response.opportunity();
    return s;
  }

  grpc::Status Advance(const std::string& request_id, const std::string& id, v1::Stage to,
                       v1::AdvanceStageResponse* out = nullptr,
                       const std::string& override_reason = "",
                       const std::string& loss_reason = "") {
    v1::AdvanceStageRequest request;
    request.set_request_id(request_id);
    request.set_opportunity_id(id);
    request.set_to_stage(to);
    request.set_health_override_reason(override_reason);
    request.set_loss_reason(loss_reason);
    request.set_actor_id("csm-1");
    v1::AdvanceStageResponse response;
    grpc::ClientContext context;
    grpc::Status s = stub_->AdvanceStage(&context, request, &response);
    if (out != nullptr) *out = response;
    return s;
  }

  v1::Opportunity Get(const std::string& id) {
    v1::GetOpportunityRequest request;
    request.set_opportunity_id(id);
    v1::GetOpportunityResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->GetOpportunity(&context, request, &response).ok());
    return response.opportunity();
  }

  std::vector<std::string> ListIds(v1::ListOpportunitiesRequest request) {
    std::vector<std::string> ids;
    do {
      v1::ListOpportunitiesResponse response;
      grpc::ClientContext context;
      grpc::Status s = stub_->ListOpportunities(&context, request, &response);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& o : response.opportunities()) ids.push_back(o.opportunity_id());
      request.mutable_page()->set_page_token(response.page().next_page_token());
    } while (!request.page().page_token().empty());
    return ids;
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<db::Pool> pool_;
  FakeClock clock_{At(2026, 1, 5)};
  std::unique_ptr<testing::FakeHealthServer> health_;
  std::unique_ptr<GrpcHealthClient> health_client_;
  std::unique_ptr<MySqlRevenueRepository> revenue_repository_;
  std::unique_ptr<MySqlOpportunityRepository> opportunity_repository_;
  std::unique_ptr<RevenueService> revenue_;
  std::unique_ptr<OpportunityService> opportunities_;
  std::unique_ptr<MetricsService> metrics_;
  std::unique_ptr<ExpansionHandler> handler_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ExpansionService::Stub> stub_;
};

TEST_F(OpportunityDbTest, CreateIsIdempotentByRequestId) {
  v1::Opportunity first, retry;
  ASSERT_TRUE(Create("pb-run-7-step-2",
                     NewOpportunity("acme", v1::OPPORTUNITY_KIND_SEAT_EXPANSION, 1'200'000), &first)
                  .ok());
  EXPECT_EQ(first.stage(), v1::STAGE_IDENTIFIED);
  EXPECT_EQ(first.probability_percent(), 10);
  EXPECT_EQ(first.history_size(), 1);
  ASSERT_TRUE(Create("pb-run-7-step-2",
                     NewOpportunity("acme", v1::OPPORTUNITY_KIND_SEAT_EXPANSION, 1'200'000), &retry)
                  .ok());
  EXPECT_EQ(retry.opportunity_id(), first.opportunity_id());
  v1::ListOpportunitiesRequest all;
  all.set_account_id("acme");
  EXPECT_EQ(ListIds(all).size(), 1u);
  // Created 2026-01-05 without a close date: expected 90 days later, 2026-04-05.
  v1::Opportunity undated = NewOpportunity("acme", v1::OPPORTUNITY_KIND_ADD_ON, 12'000);
  undated.clear_expected_close_date();
  v1::Opportunity dated;
  ASSERT_TRUE(Create("undated", undated, &dated).ok());
  EXPECT_EQ(dated.expected_close_date().month(), 4);
  EXPECT_EQ(dated.expected_close_date().day(), 5);
  all.set_kind(v1::OPPORTUNITY_KIND_SEAT_EXPANSION);
  // The same id with another request is refused, not answered with the first one.
  grpc::Status other =
      Create("pb-run-7-step-2", NewOpportunity("acme", v1::OPPORTUNITY_KIND_SEAT_EXPANSION, 99));
  EXPECT_EQ(other.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ListIds(all).size(), 1u);
}

TEST_F(OpportunityDbTest, BadInputIsRefusedNamingTheFieldAndWritesNothing) {
  struct Case {
    std::function<void(v1::Opportunity&)> spoil;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](v1::Opportunity& o) { o.mutable_amount()->set_minor_units(-5); }, "opportunity.amount"},
      {[](v1::Opportunity& o) { o.mutable_amount()->set_minor_units(INT64_MAX); },
       "opportunity.amount.minor_units"},
      {[](v1::Opportunity& o) { o.mutable_amount()->set_currency_code("XYZ"); },
       "opportunity.amount.currency_code"},
      {[](v1::Opportunity& o) { o.set_kind(static_cast<v1::OpportunityKind>(42)); },
       "opportunity.kind"},
      {[](v1::Opportunity& o) { o.set_kind(v1::OPPORTUNITY_KIND_UNSPECIFIED); },
       "opportunity.kind"},
      {[](v1::Opportunity& o) { o.set_source(v1::OPPORTUNITY_SOURCE_UNSPECIFIED); },
       "opportunity.source"},
      {[](v1::Opportunity& o) { o.mutable_expected_close_date()->set_year(2025); },
       "opportunity.expected_close_date"},
      {[](v1::Opportunity& o) { o.mutable_expected_close_date()->set_day(32); },
       "opportunity.expected_close_date"},
      {[](v1::Opportunity& o) { o.set_account_id(""); }, "opportunity.account_id"},
  };
  int n = 0;
  for (const Case& c : cases) {
    v1::Opportunity o = NewOpportunity("acme", v1::OPPORTUNITY_KIND_ADD_ON, 1000);
    c.spoil(o);
    grpc::Status s = Create(absl::StrCat("bad-", n++), o);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(s.error_message(), HasSubstr(c.field));
  }
  EXPECT_TRUE(ListIds({}).empty());
}

TEST_F(OpportunityDbTest, StageMachineKeepsEveryMoveAndWinPostsTheExpansion) {
  health_->SetBand("acme", hv1::BAND_GREEN);
  v1::Opportunity o;
  ASSERT_TRUE(
      Create("c1", NewOpportunity("acme", v1::OPPORTUNITY_KIND_SEAT_EXPANSION, 1'200'000), &o)
          .ok());
  const std::string id = o.opportunity_id();

  // Skipping a stage, closing won from an early stage, or going back: all refused.
  for (v1::Stage illegal : {v1::STAGE_PROPOSAL, v1::STAGE_CLOSED_WON, v1::STAGE_IDENTIFIED}) {
    grpc::Status s = Advance(absl::StrCat("bad-", illegal), id, illegal);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << illegal;
  }
  clock_.Advance(absl::Hours(24));
  v1::AdvanceStageResponse r;
  ASSERT_TRUE(Advance("a1", id, v1::STAGE_QUALIFIED, &r).ok());
  EXPECT_EQ(r.opportunity().probability_percent(), 25);
  clock_.Advance(absl::Hours(24));
  ASSERT_TRUE(Advance("a2", id, v1::STAGE_PROPOSAL, &r).ok());
  clock_.Advance(absl::Hours(24));
  ASSERT_TRUE(Advance("a3", id, v1::STAGE_NEGOTIATION, &r).ok());
  EXPECT_EQ(Advance("back", id, v1::STAGE_QUALIFIED).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  clock_.Set(At(2026, 2, 10));
  ASSERT_TRUE(Advance("a4", id, v1::STAGE_CLOSED_WON, &r).ok());
  EXPECT_EQ(r.opportunity().stage(), v1::STAGE_CLOSED_WON);
  EXPECT_EQ(r.opportunity().probability_percent(), 100);
  ASSERT_TRUE(r.has_revenue_movement());
  // ARR 12,000.00 is MRR 1,000.00, in the month it was won.
  EXPECT_EQ(r.revenue_movement().kind(), v1::MOVEMENT_KIND_EXPANSION);
  EXPECT_EQ(r.revenue_movement().mrr_change().minor_units(), 100'000);
  EXPECT_EQ(r.revenue_movement().month().month(), 2);
  EXPECT_EQ(r.revenue_movement().source(), v1::MOVEMENT_SOURCE_OPPORTUNITY);
  EXPECT_EQ(r.revenue_movement().opportunity_id(), id);
  EXPECT_EQ(r.opportunity().won_movement_id(), r.revenue_movement().movement_id());

  // Closed is final.
  EXPECT_EQ(Advance("after", id, v1::STAGE_CLOSED_LOST, nullptr, "", "too late").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // A retried win replays and posts nothing more.
  v1::AdvanceStageResponse replay;
  ASSERT_TRUE(Advance("a4", id, v1::STAGE_CLOSED_WON, &replay).ok());
  EXPECT_EQ(replay.revenue_movement().movement_id(), r.revenue_movement().movement_id());
  v1::ListRevenueMovementsRequest lr;
  lr.set_account_id("acme");
  v1::ListRevenueMovementsResponse movements;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ListRevenueMovements(&context, lr, &movements).ok());
  EXPECT_EQ(movements.movements_size(), 1);

  v1::Opportunity stored = Get(id);
  std::vector<v1::Stage> stages;
  std::vector<int64_t> times;
  for (const auto& c : stored.history()) {
    stages.push_back(c.to_stage());
    times.push_back(c.changed_at().seconds());
  }
  EXPECT_THAT(stages, ElementsAre(v1::STAGE_IDENTIFIED, v1::STAGE_QUALIFIED, v1::STAGE_PROPOSAL,
                                  v1::STAGE_NEGOTIATION, v1::STAGE_CLOSED_WON));
  EXPECT_EQ(times.front(), absl::ToUnixSeconds(At(2026, 1, 5)));
  EXPECT_EQ(times.back(), absl::ToUnixSeconds(At(2026, 2, 10)));
  EXPECT_EQ(stored.history(2).health_band(), v1::HEALTH_BAND_GREEN);
  EXPECT_EQ(stored.history(1).health_band(), v1::HEALTH_BAND_UNSPECIFIED);  // not asked
  EXPECT_EQ(stored.closed_at().seconds(), absl::ToUnixSeconds(At(2026, 2, 10)));
}

TEST_F(OpportunityDbTest, LossNeedsAReasonAndIsKept) {
  v1::Opportunity o;
  ASSERT_TRUE(Create("c1", NewOpportunity("acme", v1::OPPORTUNITY_KIND_ADD_ON, 50'000), &o).ok());
  grpc::Status no_reason = Advance("l0", o.opportunity_id(), v1::STAGE_CLOSED_LOST);
  EXPECT_EQ(no_reason.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_reason.error_message(), HasSubstr("loss_reason"));
  v1::AdvanceStageResponse r;
  // A loss is never guarded: health is not even asked.
  ASSERT_TRUE(Advance("l1", o.opportunity_id(), v1::STAGE_CLOSED_LOST, &r, "", "budget cut").ok());
  EXPECT_EQ(health_->calls(), 0);
  EXPECT_EQ(r.opportunity().loss_reason(), "budget cut");
  EXPECT_EQ(r.opportunity().history(1).loss_reason(), "budget cut");
  EXPECT_FALSE(r.has_revenue_movement());
}

TEST_F(OpportunityDbTest, StaleEtagIsAbortedAndTheMaskLimitsTheChange) {
  v1::Opportunity o;
  ASSERT_TRUE(
      Create("c1", NewOpportunity("acme", v1::OPPORTUNITY_KIND_FEATURE_UPSELL, 500'000), &o).ok());
  auto update = [&](const std::string& rid, const std::string& etag, std::vector<std::string> paths,
                    const v1::Opportunity& values, v1::Opportunity* out = nullptr) {
    v1::UpdateOpportunityRequest request;
    request.set_request_id(rid);
    *request.mutable_opportunity() = values;
    request.mutable_opportunity()->set_opportunity_id(o.opportunity_id());
    request.mutable_opportunity()->set_etag(etag);
    for (const auto& p : paths) request.mutable_update_mask()->add_paths(p);
    v1::UpdateOpportunityResponse response;
    grpc::ClientContext context;
    grpc::Status s = stub_->UpdateOpportunity(&context, request, &response);
    if (out != nullptr) *out = response.opportunity();
    return s;
  };
  v1::Opportunity values = NewOpportunity("ignored", v1::OPPORTUNITY_KIND_CROSS_SELL, 700'000);
  values.set_owner_id("csm-2");
  values.set_title("new title");
  v1::Opportunity updated;
  ASSERT_TRUE(update("u1", o.etag(), {"amount", "owner_id"}, values, &updated).ok());
  EXPECT_EQ(updated.amount().minor_units(), 700'000);
  EXPECT_EQ(updated.owner_id(), "csm-2");
  EXPECT_EQ(updated.kind(), v1::OPPORTUNITY_KIND_FEATURE_UPSELL);  // not in the mask
  EXPECT_EQ(updated.account_id(), "acme");
  EXPECT_EQ(updated.title(), "");
  EXPECT_NE(updated.etag(), o.etag());

  // A writer that read before u1 is stale.
  grpc::Status stale = update("u2", o.etag(), {"title"}, values);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Get(o.opportunity_id()).title(), "");
  // And with the current etag it goes through.
  ASSERT_TRUE(update("u3", updated.etag(), {"title"}, values).ok());
  EXPECT_EQ(Get(o.opportunity_id()).title(), "new title");

  const std::string etag = Get(o.opportunity_id()).etag();
  EXPECT_EQ(update("u4", etag, {"stage"}, values).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(update("u5", etag, {}, values).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::Opportunity negative = values;
  negative.mutable_amount()->set_minor_units(-1);
  grpc::Status bad = update("u6", etag, {"amount"}, negative);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("opportunity.amount"));
  v1::Opportunity early = values;
  early.mutable_expected_close_date()->set_year(2025);
  EXPECT_EQ(update("u7", etag, {"expected_close_date"}, early).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get(o.opportunity_id()).etag(), etag);  // nothing written
}

TEST_F(OpportunityDbTest, RedAccountNeedsAnOverrideToMovePastQualified) {
  health_->SetBand("redco", hv1::BAND_RED);
  v1::Opportunity o;
  ASSERT_TRUE(
      Create("c1", NewOpportunity("redco", v1::OPPORTUNITY_KIND_USAGE_EXPANSION, 240'000), &o)
          .ok());
  ASSERT_TRUE(
      Advance("a1", o.opportunity_id(), v1::STAGE_QUALIFIED).ok());  // up to QUALIFIED: fine
  grpc::Status refused = Advance("a2", o.opportunity_id(), v1::STAGE_PROPOSAL);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("RED"));
  EXPECT_EQ(Get(o.opportunity_id()).stage(), v1::STAGE_QUALIFIED);
  v1::AdvanceStageResponse r;
  ASSERT_TRUE(
      Advance("a3", o.opportunity_id(), v1::STAGE_PROPOSAL, &r, "exec sponsor asked for it").ok());
  const v1::StageChange& last = r.opportunity().history(r.opportunity().history_size() - 1);
  EXPECT_EQ(last.health_band(), v1::HEALTH_BAND_RED);
  EXPECT_EQ(last.health_override_reason(), "exec sponsor asked for it");
  EXPECT_EQ(Get(o.opportunity_id()).history(2).health_override_reason(),
            "exec sponsor asked for it");
}

TEST_F(OpportunityDbTest, AccountWithoutScoreIsNotHeldBack) {
  v1::Opportunity o;
  ASSERT_TRUE(Create("c1", NewOpportunity("newco", v1::OPPORTUNITY_KIND_ADD_ON, 12'000), &o).ok());
  ASSERT_TRUE(Advance("a1", o.opportunity_id(), v1::STAGE_QUALIFIED).ok());
  v1::AdvanceStageResponse r;
  ASSERT_TRUE(Advance("a2", o.opportunity_id(), v1::STAGE_PROPOSAL, &r).ok());
  EXPECT_EQ(r.opportunity().history(2).health_band(), v1::HEALTH_BAND_NO_SCORE);
}

TEST_F(OpportunityDbTest, UnreachableHealthIsUnavailableNotASilentPass) {
  health_->SetBand("acme", hv1::BAND_GREEN);
  v1::Opportunity o;
  ASSERT_TRUE(Create("c1", NewOpportunity("acme", v1::OPPORTUNITY_KIND_ADD_ON, 12'000), &o).ok());
  ASSERT_TRUE(Advance("a1", o.opportunity_id(), v1::STAGE_QUALIFIED).ok());
  v1::AdvanceStageResponse moved;
  ASSERT_TRUE(Advance("a2", o.opportunity_id(), v1::STAGE_PROPOSAL, &moved).ok());
  health_->Stop();
  const absl::Time start = absl::Now();
  grpc::Status s = Advance("a3", o.opportunity_id(), v1::STAGE_NEGOTIATION);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));  // the deadline holds
  EXPECT_EQ(Get(o.opportunity_id()).stage(), v1::STAGE_PROPOSAL);
  // A retry of a move that already went through replays without asking health.
  v1::AdvanceStageResponse replay;
  ASSERT_TRUE(Advance("a2", o.opportunity_id(), v1::STAGE_PROPOSAL, &replay).ok());
  EXPECT_EQ(replay.opportunity().etag(), moved.opportunity().etag());
  // Losing does not need health.
  EXPECT_TRUE(
      Advance("a4", o.opportunity_id(), v1::STAGE_CLOSED_LOST, nullptr, "", "no budget").ok());
}

TEST_F(OpportunityDbTest, ListFiltersAndPagesInStableOrder) {
  v1::UpsertAccountProfileRequest profile;
  profile.set_request_id("p1");
  profile.mutable_profile()->set_account_id("globex");
  profile.mutable_profile()->set_tier(v1::TIER_SMB);
  v1::UpsertAccountProfileResponse pr;
  grpc::ClientContext pc;
  ASSERT_TRUE(stub_->UpsertAccountProfile(&pc, profile, &pr).ok());

  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    v1::Opportunity o = NewOpportunity(
        i % 2 == 0 ? "acme" : "globex",
        i < 3 ? v1::OPPORTUNITY_KIND_SEAT_EXPANSION : v1::OPPORTUNITY_KIND_CROSS_SELL, 1000 + i);
    if (i == 6) o.mutable_expected_close_date()->set_month(5);  // Q2
    if (i == 5) o.set_owner_id("csm-9");
    v1::Opportunity out;
    ASSERT_TRUE(Create(absl::StrCat("c", i), o, &out).ok());
    ids.push_back(out.opportunity_id());
    if (i == 4) {
      EXPECT_EQ(out.tier(), v1::TIER_UNSPECIFIED);
    }
    if (i == 5) {
      EXPECT_EQ(out.tier(), v1::TIER_SMB);  // from the profile
    }
  }
  ASSERT_TRUE(Advance("q", ids[1], v1::STAGE_QUALIFIED).ok());

  v1::ListOpportunitiesRequest r;
  r.mutable_page()->set_page_size(2);
  EXPECT_EQ(ListIds(r), ids);  // every one once, id order, over four pages
  v1::ListOpportunitiesRequest acme = r;
  acme.set_account_id("acme");
  EXPECT_THAT(ListIds(acme), ElementsAre(ids[0], ids[2], ids[4], ids[6]));
  v1::ListOpportunitiesRequest kind = r;
  kind.set_kind(v1::OPPORTUNITY_KIND_SEAT_EXPANSION);
  EXPECT_THAT(ListIds(kind), ElementsAre(ids[0], ids[1], ids[2]));
  v1::ListOpportunitiesRequest stage = r;
  stage.set_stage(v1::STAGE_QUALIFIED);
  EXPECT_THAT(ListIds(stage), ElementsAre(ids[1]));
  v1::ListOpportunitiesRequest owner = r;
  owner.set_owner_id("csm-9");
  EXPECT_THAT(ListIds(owner), ElementsAre(ids[5]));
  v1::ListOpportunitiesRequest tier = r;
  tier.set_tier(v1::TIER_SMB);
  EXPECT_THAT(ListIds(tier), ElementsAre(ids[1], ids[3], ids[5]));
  v1::ListOpportunitiesRequest quarter = r;
  quarter.mutable_close_quarter()->set_year(2026);
  quarter.mutable_close_quarter()->set_quarter(2);
  EXPECT_THAT(ListIds(quarter), ElementsAre(ids[6]));
  quarter.mutable_close_quarter()->set_quarter(5);
  v1::ListOpportunitiesResponse response;
  grpc::ClientContext context;
  EXPECT_EQ(stub_->ListOpportunities(&context, quarter, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(OpportunityDbTest, StageProbabilitiesAreConfigurable) {
  v1::SetStageProbabilitiesRequest set;
  set.set_request_id("s1");
  auto* q = set.add_probabilities();
  q->set_stage(v1::STAGE_QUALIFIED);
  q->set_probability_percent(40);
  v1::SetStageProbabilitiesResponse sr;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub_->SetStageProbabilities(&c1, set, &sr).ok());
  ASSERT_EQ(sr.probabilities_size(), 6);
  EXPECT_EQ(sr.probabilities(1).probability_percent(), 40);
  EXPECT_EQ(sr.probabilities(2).probability_percent(), 50);  // untouched

  v1::Opportunity o;
  ASSERT_TRUE(Create("c1", NewOpportunity("acme", v1::OPPORTUNITY_KIND_ADD_ON, 12'000), &o).ok());
  v1::AdvanceStageResponse r;
  ASSERT_TRUE(Advance("a1", o.opportunity_id(), v1::STAGE_QUALIFIED, &r).ok());
  EXPECT_EQ(r.opportunity().probability_percent(), 40);

  v1::SetStageProbabilitiesRequest bad;
  bad.set_request_id("s2");
  auto* won = bad.add_probabilities();
  won->set_stage(v1::STAGE_CLOSED_WON);
  won->set_probability_percent(90);
  grpc::ClientContext c2;
  EXPECT_EQ(stub_->SetStageProbabilities(&c2, bad, &sr).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetStageProbabilitiesResponse gr;
  grpc::ClientContext c3;
  ASSERT_TRUE(stub_->GetStageProbabilities(&c3, {}, &gr).ok());
  EXPECT_EQ(gr.probabilities(4).probability_percent(), 100);
}

TEST_F(OpportunityDbTest, OpportunityCurrencyMustMatchTheAccountLedger) {
  v1::RecordRevenueMovementRequest m;
  m.set_request_id("m1");
  m.mutable_movement()->set_account_id("euroco");
  m.mutable_movement()->mutable_month()->set_year(2025);
  m.mutable_movement()->mutable_month()->set_month(12);
  m.mutable_movement()->set_kind(v1::MOVEMENT_KIND_NEW);
  m.mutable_movement()->mutable_mrr_change()->set_minor_units(10'000);
  m.mutable_movement()->mutable_mrr_change()->set_currency_code("EUR");
  v1::RecordRevenueMovementResponse mr;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->RecordRevenueMovement(&context, m, &mr).ok());
  grpc::Status s =
      Create("c1", NewOpportunity("euroco", v1::OPPORTUNITY_KIND_ADD_ON, 12'000, "USD"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("EUR"));
  EXPECT_TRUE(
      Create("c2", NewOpportunity("euroco", v1::OPPORTUNITY_KIND_ADD_ON, 12'000, "EUR")).ok());
}

TEST_F(OpportunityDbTest, SuggestionsCarryTheirEvidenceAndSkipRedAccounts) {
  health_->SetBand("acme", hv1::BAND_GREEN);
  v1::UpsertAccountProfileRequest request;
  request.set_request_id("p1");
  v1::AccountProfile* p = request.mutable_profile();
  p->set_account_id("acme");
  p->set_tier(v1::TIER_MID_MARKET);
  p->set_seats_licensed(100);
  p->set_seats_used(92);
  p->set_usage_units(70);
  p->set_usage_limit(100);  // 70 %: not near the limit
  p->add_integration_requests("salesforce");
  v1::UpsertAccountProfileResponse pr;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub_->UpsertAccountProfile(&c1, request, &pr).ok());
  v1::Opportunity open;
  ASSERT_TRUE(
      Create("c1", NewOpportunity("acme", v1::OPPORTUNITY_KIND_SEAT_EXPANSION, 12'000), &open)
          .ok());

  v1::SuggestOpportunitiesRequest sreq;
  sreq.set_account_id("acme");
  v1::SuggestOpportunitiesResponse sres;
  grpc::ClientContext c2;
  ASSERT_TRUE(stub_->SuggestOpportunities(&c2, sreq, &sres).ok());
  EXPECT_EQ(sres.health_band(), v1::HEALTH_BAND_GREEN);
  ASSERT_EQ(sres.suggestions_size(), 2);
  EXPECT_EQ(sres.suggestions(0).kind(), v1::OPPORTUNITY_KIND_SEAT_EXPANSION);
  EXPECT_EQ(sres.suggestions(0).rule(), "seat_utilization");
  EXPECT_THAT(sres.suggestions(0).evidence(0), HasSubstr("92 of 100"));
  EXPECT_EQ(sres.suggestions(0).existing_opportunity_id(), open.opportunity_id());
  EXPECT_EQ(sres.suggestions(1).kind(), v1::OPPORTUNITY_KIND_INTEGRATION_EXPANSION);
  EXPECT_EQ(sres.suggestions(1).subject(), "salesforce");

  health_->SetBand("acme", hv1::BAND_RED);
  v1::SuggestOpportunitiesResponse red;
  grpc::ClientContext c3;
  ASSERT_TRUE(stub_->SuggestOpportunities(&c3, sreq, &red).ok());
  EXPECT_EQ(red.suggestions_size(), 0);
  EXPECT_EQ(red.health_band(), v1::HEALTH_BAND_RED);
  EXPECT_THAT(red.withheld_reason(), HasSubstr("RED"));

  sreq.set_account_id("nobody");
  grpc::ClientContext c4;
  EXPECT_EQ(stub_->SuggestOpportunities(&c4, sreq, &sres).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// The ledger, metrics and forecast RPCs end to end: mapping of money, optional
// ratios, periods and errors (the figures themselves are in metrics_db_test).
TEST_F(OpportunityDbTest, LedgerMetricsAndForecastRpcs) {
  health_->SetBand("acme", hv1::BAND_GREEN);
  auto month = [](int y, int m, cs::common::v1::Date* out) {
    out->set_year(y);
    out->set_month(m);
  };
  // acme: 1000.00 MRR from 2025-11, 1500.00 from 2026-01 (EXPANSION 500.00), SMB.
  v1::ImportSubscriptionsRequest import;
  import.set_request_id("i1");
  for (auto [y, m, mrr] :
       {std::tuple{2025, 11, 100'000}, {2025, 12, 100'000}, {2026, 1, 150'000}}) {
    v1::SubscriptionMonth* row = import.add_subscriptions();
    row->set_account_id("acme");
    month(y, m, row->mutable_month());
    row->mutable_mrr()->set_minor_units(mrr);
    row->mutable_mrr()->set_currency_code("USD");
    row->set_tier(v1::TIER_SMB);
  }
  v1::ImportSubscriptionsResponse imported;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub_->ImportSubscriptions(&c1, import, &imported).ok());
  EXPECT_EQ(imported.movements_added(), 2);  // NEW 2025-11, EXPANSION 2026-01

  v1::GetRetentionMetricsRequest retention;
  month(2026, 1, retention.mutable_period()->mutable_first_month());
  month(2026, 1, retention.mutable_period()->mutable_last_month());
  v1::GetRetentionMetricsResponse rr;
  grpc::ClientContext c2;
  ASSERT_TRUE(stub_->GetRetentionMetrics(&c2, retention, &rr).ok());
  EXPECT_EQ(rr.overall().starting_mrr().minor_units(), 100'000);
  EXPECT_EQ(rr.overall().starting_mrr().currency_code(), "USD");
  EXPECT_DOUBLE_EQ(rr.overall().net_revenue_retention(), 1.5);
  EXPECT_DOUBLE_EQ(rr.overall().gross_revenue_retention(), 1.0);
  EXPECT_TRUE(rr.overall().has_logo_churn_monthly());
  EXPECT_FALSE(rr.overall().has_customer_lifetime_value());  // nobody churned
  ASSERT_EQ(rr.by_tier_size(), 1);
  EXPECT_EQ(rr.by_tier(0).tier(), v1::TIER_SMB);  // from the import
  EXPECT_DOUBLE_EQ(rr.gross_margin_percent(), 80);
  EXPECT_EQ(rr.months(), 1);

  v1::GetExpansionMetricsRequest expansion;
  *expansion.mutable_period() = retention.period();
  v1::GetExpansionMetricsResponse er;
  grpc::ClientContext c3;
  ASSERT_TRUE(stub_->GetExpansionMetrics(&c3, expansion, &er).ok());
  EXPECT_EQ(er.expansion_mrr().minor_units(), 50'000);
  EXPECT_DOUBLE_EQ(er.expansion_share_of_new_revenue(), 1.0);
  EXPECT_DOUBLE_EQ(er.expansion_rate(), 1.0);
  EXPECT_EQ(er.expansion_arpu().minor_units(), 50'000);
  EXPECT_FALSE(er.has_expansion_cycle_median_days());

  month(2025, 12, retention.mutable_period()->mutable_last_month());  // before the first
  grpc::ClientContext c4;
  grpc::Status bad = stub_->GetRetentionMetrics(&c4, retention, &rr);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("period.last_month"));
  v1::GetPipelineSummaryRequest unknown_currency;
  unknown_currency.set_currency_code("XYZ");
  v1::GetPipelineSummaryResponse pr;
  grpc::ClientContext c5;
  EXPECT_EQ(stub_->GetPipelineSummary(&c5, unknown_currency, &pr).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::Opportunity o;
  ASSERT_TRUE(
      Create("c1", NewOpportunity("acme", v1::OPPORTUNITY_KIND_ADD_ON, 1'000'000), &o).ok());
  v1::GetPipelineSummaryResponse pipeline;
  grpc::ClientContext c6;
  ASSERT_TRUE(stub_->GetPipelineSummary(&c6, {}, &pipeline).ok());
  EXPECT_EQ(pipeline.open().total().minor_units(), 1'000'000);
  EXPECT_EQ(pipeline.open().weighted().minor_units(), 100'000);  // IDENTIFIED 10 %
  ASSERT_EQ(pipeline.forecast_by_quarter_size(), 1);
  EXPECT_EQ(pipeline.forecast_by_quarter(0).quarter().quarter(), 1);
  ASSERT_EQ(pipeline.by_tier_size(), 1);
  EXPECT_EQ(pipeline.by_tier(0).tier(), v1::TIER_SMB);  // the profile's tier

  v1::SnapshotForecastRequest snap;
  snap.set_request_id("s1");
  v1::SnapshotForecastResponse sr;
  grpc::ClientContext c7;
  ASSERT_TRUE(stub_->SnapshotForecast(&c7, snap, &sr).ok());
  v1::SnapshotForecastResponse replay;
  grpc::ClientContext c8;
  ASSERT_TRUE(stub_->SnapshotForecast(&c8, snap, &replay).ok());
  EXPECT_EQ(replay.snapshot().snapshot_id(), sr.snapshot().snapshot_id());
  for (v1::Stage s :
       {v1::STAGE_QUALIFIED, v1::STAGE_PROPOSAL, v1::STAGE_NEGOTIATION, v1::STAGE_CLOSED_WON}) {
    ASSERT_TRUE(Advance(absl::StrCat("w", s), o.opportunity_id(), s).ok());
  }
  v1::GetForecastAccuracyRequest acc;
  acc.set_snapshot_id(sr.snapshot().snapshot_id());
  v1::GetForecastAccuracyResponse ar;
  grpc::ClientContext c9;
  ASSERT_TRUE(stub_->GetForecastAccuracy(&c9, acc, &ar).ok());
  ASSERT_EQ(ar.quarters_size(), 1);
  EXPECT_EQ(ar.quarters(0).forecast_weighted().minor_units(), 100'000);
  EXPECT_EQ(ar.quarters(0).actual_won().minor_units(), 1'000'000);
  EXPECT_DOUBLE_EQ(ar.quarters(0).accuracy_ratio(), 10.0);
  acc.set_snapshot_id("12345");
  grpc::ClientContext c10;
  EXPECT_EQ(stub_->GetForecastAccuracy(&c10, acc, &ar).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ListForecastSnapshotsResponse list;
  grpc::ClientContext c11;
  ASSERT_TRUE(stub_->ListForecastSnapshots(&c11, {}, &list).ok());
  EXPECT_EQ(list.snapshots_size(), 1);
}

}  // namespace
}  // namespace cs::expansion
