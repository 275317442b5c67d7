// The expansion health guard against the real health service: both binaries run on
// their own schemas of the real MariaDB; health's band comes from real signals and a
// real override; expansion asks over gRPC with its configured --health_addr.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/test_db.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

namespace hv1 = ::cs::health::v1;
namespace ev1 = ::cs::expansion::v1;
using ::testing::HasSubstr;

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  out->set_seconds(absl::ToUnixSeconds(t));
}

class ExpansionHealthGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(health_db_, "eghealth");
    expansion_db_ = TestDatabase::Create("egexp");
    ASSERT_NE(expansion_db_, nullptr);
    const std::string tag = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    health_ = std::make_unique<RunningService>("health", CS_HEALTH_SERVER, health_db_->uri(), tag);
    ASSERT_TRUE(health_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << health_->Log();
    expansion_ = std::make_unique<RunningService>(
        "expansion", CS_EXPANSION_SERVER, expansion_db_->uri(), tag,
        std::vector<std::string>{absl::StrCat("--health_addr=", health_->address()),
                                 "--health_timeout=2s"});
    ASSERT_TRUE(expansion_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << expansion_->Log();
    health_stub_ = hv1::AccountHealthService::NewStub(health_->channel());
    expansion_stub_ = ev1::ExpansionService::NewStub(expansion_->channel());
  }

  void TearDown() override {
    for (auto* service : {&expansion_, &health_}) {
      if (*service == nullptr || !(*service)->process().running()) continue;
      (*service)->process().Signal(SIGTERM);
      EXPECT_EQ((*service)->process().WaitExit(absl::Seconds(15)), 0) << (*service)->Log();
    }
  }

  // An account with a real score (ten logins), then an override to `score`, which
  // is what GetHealth shows while it is active.
  void ScoreAccount(const std::string& account_id, double score) {
    hv1::UpsertAccountRequest upsert;
    upsert.set_request_id(absl::StrCat("upsert-", account_id));
    upsert.mutable_account()->set_account_id(account_id);
    upsert.mutable_account()->set_name(account_id);
    upsert.mutable_account()->set_employee_count(400);
    hv1::UpsertAccountResponse upserted;
    grpc::Status s = health_stub_->UpsertAccount(Context().get(), upsert, &upserted);
    ASSERT_TRUE(s.ok()) << s.error_message();
    hv1::RecordSignalsRequest signals;
    for (int i = 0; i < 10; ++i) {
      hv1::Signal* signal = signals.add_signals();
      signal->set_event_id(absl::StrCat("login-", i));
      signal->set_account_id(account_id);
      signal->set_kind(hv1::SIGNAL_KIND_LOGIN);
      SetTime(absl::Now() - absl::Hours(1), signal->mutable_occurred_at());
    }
    hv1::RecordSignalsResponse recorded;
    s = health_stub_->RecordSignals(Context().get(), signals, &recorded);
    ASSERT_TRUE(s.ok()) << s.error_message();
    hv1::SetOverrideRequest override_request;
    override_request.set_request_id(absl::StrCat("override-", account_id));
    hv1::Override* o = override_request.mutable_override();
    o->set_account_id(account_id);
    o->set_score(score);
    o->set_reason("integration test");
    o->set_set_by("csm-1");
    SetTime(absl::Now() + absl::Hours(24), o->mutable_expires_at());
    hv1::SetOverrideResponse overridden;
    s = health_stub_->SetOverride(Context().get(), override_request, &overridden);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  std::string CreateQualified(const std::string& account_id) {
    ev1::CreateOpportunityRequest create;
    create.set_request_id(absl::StrCat("create-", account_id));
    ev1::Opportunity* o = create.mutable_opportunity();
    o->set_account_id(account_id);
    o->set_kind(ev1::OPPORTUNITY_KIND_SEAT_EXPANSION);
    o->mutable_amount()->set_minor_units(1'200'000);
    o->mutable_amount()->set_currency_code("USD");
    const absl::CivilDay close = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()) + 60;
    o->mutable_expected_close_date()->set_year(static_cast<int>(close.year()));
    o->mutable_expected_close_date()->set_month(close.month());
    o->mutable_expected_close_date()->set_day(close.day());
    o->set_source(ev1::OPPORTUNITY_SOURCE_MANUAL);
    ev1::CreateOpportunityResponse created;
    grpc::Status s = expansion_stub_->CreateOpportunity(Context().get(), create, &created);
    EXPECT_TRUE(s.ok()) << s.error_message();
    const std::string id = created.opportunity().opportunity_id();
    EXPECT_TRUE(Advance(id, ev1::STAGE_QUALIFIED, absl::StrCat("q-", id)).ok());
    return id;
  }

  grpc::Status Advance(const std::string& id, ev1::Stage to, const std::string& request_id,
                       const std::string& override_reason = "",
                       ev1::AdvanceStageResponse* out = nullptr) {
    ev1::AdvanceStageRequest request;
    request.set_request_id(request_id);
    request.set_opportunity_id(id);
    request.set_to_stage(to);
    request.set_health_override_reason(override_reason);
    ev1::AdvanceStageResponse response;
    grpc::Status s =
        expansion_stub_->AdvanceStage(Context(absl::Seconds(10)).get(), request, &response);
    if (out != nullptr) *out = response;
    return s;
  }

  std::unique_ptr<TestDatabase> health_db_;
  std::unique_ptr<TestDatabase> expansion_db_;
  std::unique_ptr<RunningService> health_;
  std::unique_ptr<RunningService> expansion_;
  std::unique_ptr<hv1::AccountHealthService::Stub> health_stub_;
  std::unique_ptr<ev1::ExpansionService::Stub> expansion_stub_;
};

TEST_F(ExpansionHealthGuardTest, RedAccountIsHeldAtQualifiedUnlessOverridden) {
  ASSERT_NO_FATAL_FAILURE(ScoreAccount("redco", 10));
  hv1::GetHealthRequest get;
  get.set_account_id("redco");
  hv1::GetHealthResponse got;
  ASSERT_TRUE(health_stub_->GetHealth(Context().get(), get, &got).ok());
  ASSERT_EQ(got.health().band(), hv1::BAND_RED);

  const std::string id = CreateQualified("redco");
  grpc::Status refused = Advance(id, ev1::STAGE_PROPOSAL, "p1");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("RED"));
  ev1::AdvanceStageResponse moved;
  grpc::Status s = Advance(id, ev1::STAGE_PROPOSAL, "p2", "renewal hinges on it", &moved);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const ev1::StageChange& last =
      moved.opportunity().history(moved.opportunity().history_size() - 1);
  EXPECT_EQ(last.to_stage(), ev1::STAGE_PROPOSAL);
  EXPECT_EQ(last.health_band(), ev1::HEALTH_BAND_RED);
  EXPECT_EQ(last.health_override_reason(), "renewal hinges on it");
}

TEST_F(ExpansionHealthGuardTest, GreenAndUnscoredAccountsPassAndAnUnreachableHealthIsUnavailable) {
  ASSERT_NO_FATAL_FAILURE(ScoreAccount("greenco", 95));
  const std::string green = CreateQualified("greenco");
  ev1::AdvanceStageResponse moved;
  grpc::Status s = Advance(green, ev1::STAGE_PROPOSAL, "g1", "", &moved);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(moved.opportunity().history(2).health_band(), ev1::HEALTH_BAND_GREEN);

  const std::string unscored = CreateQualified("nobody-knows");
  s = Advance(unscored, ev1::STAGE_PROPOSAL, "n1", "", &moved);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(moved.opportunity().history(2).health_band(), ev1::HEALTH_BAND_NO_SCORE);

  health_->process().Signal(SIGTERM);
  ASSERT_EQ(health_->process().WaitExit(absl::Seconds(15)), 0) << health_->Log();
  const absl::Time start = absl::Now();
  grpc::Status down = Advance(green, ev1::STAGE_NEGOTIATION, "g2");
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE) << down.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(8));  // the health deadline holds
  // Expansion itself stays up: its readiness follows its own database.
  EXPECT_EQ(expansion_->Check(), HealthStatus::SERVING);
  ev1::GetOpportunityRequest get;
  get.set_opportunity_id(green);
  ev1::GetOpportunityResponse got;
  ASSERT_TRUE(expansion_stub_->GetOpportunity(Context().get(), get, &got).ok());
  EXPECT_EQ(got.opportunity().stage(), ev1::STAGE_PROPOSAL);
}

}  // namespace
}  // namespace cs::testing
