// Runs the real health_server and playbooks_server: a signal that is the
// account's first value reaches the onboarding metrics, and a GREEN promoter
// becomes an advocate candidate until it is asked (then once a quarter at most).

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/test_db.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

namespace hv1 = ::cs::health::v1;
namespace pv1 = ::cs::playbooks::v1;

class OnboardingAdvocacyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(health_db_, "oah");
    CS_TEST_DATABASE_OR_SKIP(playbooks_db_, "oap");
    const std::string tag = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    health_ = std::make_unique<RunningService>("health", CS_HEALTH_SERVER, health_db_->uri(), tag);
    playbooks_ = std::make_unique<RunningService>(
        "playbooks", CS_PLAYBOOKS_SERVER, playbooks_db_->uri(), tag,
        std::vector<std::string>{absl::StrCat("--health_addr=", health_->address()),
                                 "--consume_interval=100ms", "--sweep_interval=200ms"});
    ASSERT_TRUE(health_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << health_->Log();
    ASSERT_TRUE(playbooks_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << playbooks_->Log();
    health_stub_ = hv1::AccountHealthService::NewStub(health_->channel());
    playbooks_stub_ = pv1::PlaybookService::NewStub(playbooks_->channel());
  }

  void TearDown() override {
    for (RunningService* s : {playbooks_.get(), health_.get()}) {
      if (s == nullptr) continue;
      s->process().Signal(SIGTERM);
      EXPECT_EQ(s->process().WaitExit(absl::Seconds(20)), 0) << s->Log();
    }
  }

  // Polls `call` until `done` holds (or 20 s pass).
  template <typename Response>
  Response WaitFor(const std::function<grpc::Status(Response*)>& call,
                   const std::function<bool(const Response&)>& done) {
    Response r;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      r.Clear();
      grpc::Status s = call(&r);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (s.ok() && done(r)) return r;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "never reached the expected state: " << r.DebugString() << playbooks_->Log();
    return r;
  }

  hv1::Signal MakeSignal(hv1::SignalKind kind, const std::string& feature = "", double value = 0) {
    hv1::Signal s;
    s.set_event_id(absl::StrCat("e", ++next_event_));
    s.set_account_id("acme");
    s.set_kind(kind);
    s.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(48)));
    s.set_feature(feature);
    s.set_value(value);
    return s;
  }

  std::unique_ptr<TestDatabase> health_db_;
  std::unique_ptr<TestDatabase> playbooks_db_;
  std::unique_ptr<RunningService> health_;
  std::unique_ptr<RunningService> playbooks_;
  std::unique_ptr<hv1::AccountHealthService::Stub> health_stub_;
  std::unique_ptr<pv1::PlaybookService::Stub> playbooks_stub_;
  int next_event_ = 0;
};

TEST_F(OnboardingAdvocacyTest, FirstValueAndAdvocacyFlowFromHealthSignals) {
  hv1::GetFirstValueDefinitionsResponse definitions;
  grpc::Status s = health_stub_->GetFirstValueDefinitions(
      Context().get(), hv1::GetFirstValueDefinitionsRequest(), &definitions);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(definitions.definitions_size(), 4);
  EXPECT_EQ(definitions.definitions(2).tier(), hv1::TIER_SMB);
  EXPECT_EQ(definitions.definitions(2).signal_kind(), hv1::SIGNAL_KIND_FEATURE_USED);

  hv1::UpsertAccountRequest upsert;
  upsert.set_request_id("upsert-acme");
  hv1::Account* a = upsert.mutable_account();
  a->set_account_id("acme");
  a->set_name("Acme");
  a->set_employee_count(40);  // SMB
  a->set_owner_id("csm-ann");
  a->mutable_arr()->set_minor_units(4'000'000);
  a->mutable_arr()->set_currency_code("USD");
  hv1::UpsertAccountResponse upserted;
  s = health_stub_->UpsertAccount(Context().get(), upsert, &upserted);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // A healthy batch: usage, ten features (the first is the SMB first value),
  // engagement, a payment and an NPS of 10.
  hv1::RecordSignalsRequest batch;
  for (int i = 0; i < 90; ++i) *batch.add_signals() = MakeSignal(hv1::SIGNAL_KIND_LOGIN);
  for (int f = 0; f < 10; ++f) {
    *batch.add_signals() = MakeSignal(hv1::SIGNAL_KIND_FEATURE_USED, absl::StrCat("f", f));
  }
  for (int i = 0; i < 12; ++i) *batch.add_signals() = MakeSignal(hv1::SIGNAL_KIND_EMAIL_CLICK);
  *batch.add_signals() = MakeSignal(hv1::SIGNAL_KIND_PAYMENT_SUCCEEDED);
  *batch.add_signals() = MakeSignal(hv1::SIGNAL_KIND_NPS_RESPONSE, "", 10);
  hv1::RecordSignalsResponse recorded;
  s = health_stub_->RecordSignals(Context().get(), batch, &recorded);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(recorded.rejected(), 0);
  hv1::GetHealthRequest health_req;
  health_req.set_account_id("acme");
  hv1::GetHealthResponse health;
  s = health_stub_->GetHealth(Context().get(), health_req, &health);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(health.health().band(), hv1::BAND_GREEN) << health.DebugString();

  // The value signal happened two days before onboarding began here: day 0.
  pv1::GetOnboardingMetricsRequest metrics_req;
  metrics_req.set_tier(hv1::TIER_SMB);
  pv1::GetOnboardingMetricsResponse metrics = WaitFor<pv1::GetOnboardingMetricsResponse>(
      [&](pv1::GetOnboardingMetricsResponse* r) {
        return playbooks_stub_->GetOnboardingMetrics(Context().get(), metrics_req, r);
      },
      [](const pv1::GetOnboardingMetricsResponse& r) {
        return r.by_tier_size() == 1 && r.by_tier(0).reached_value() == 1;
      });
  ASSERT_EQ(metrics.by_tier_size(), 1);
  EXPECT_EQ(metrics.by_tier(0).onboardings(), 1);
  EXPECT_EQ(metrics.by_tier(0).median_days_to_value(), 0);
  EXPECT_TRUE(metrics.by_tier(0).time_to_value_target_met());
  EXPECT_EQ(metrics.by_tier(0).target().time_to_value_days(), 14);
  EXPECT_EQ(metrics.late_size(), 0);

  pv1::ListAdvocateCandidatesRequest candidates_req;
  candidates_req.set_min_score(health.health().score() - 1);
  candidates_req.set_min_green_days(0);
  pv1::ListAdvocateCandidatesResponse candidates = WaitFor<pv1::ListAdvocateCandidatesResponse>(
      [&](pv1::ListAdvocateCandidatesResponse* r) {
        return playbooks_stub_->ListAdvocateCandidates(Context().get(), candidates_req, r);
      },
      [](const pv1::ListAdvocateCandidatesResponse& r) { return r.candidates_size() == 1; });
  ASSERT_EQ(candidates.candidates_size(), 1);
  const pv1::AdvocateCandidate& c = candidates.candidates(0);
  EXPECT_EQ(c.account_id(), "acme");
  EXPECT_EQ(c.tier(), hv1::TIER_SMB);
  EXPECT_EQ(c.nps(), 10);
  EXPECT_NEAR(c.score(), health.health().score(), 1e-9);
  EXPECT_EQ(c.arr().minor_units(), 4'000'000);
  EXPECT_EQ(candidates.min_nps(), 9);

  pv1::RecordAdvocacyAskRequest ask;
  ask.set_request_id("ask-acme");
  ask.set_account_id("acme");
  ask.set_kind(pv1::ADVOCACY_KIND_CASE_STUDY);
  ask.set_asked_by("csm-ann");
  pv1::RecordAdvocacyAskResponse asked;
  s = playbooks_stub_->RecordAdvocacyAsk(Context().get(), ask, &asked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(asked.ask().status(), pv1::ADVOCACY_ASK_STATUS_REQUESTED);
  pv1::RecordAdvocacyAskResponse replay;
  s = playbooks_stub_->RecordAdvocacyAsk(Context().get(), ask, &replay);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(replay.ask().ask_id(), asked.ask().ask_id());
  ask.set_request_id("ask-acme-again");
  ask.set_kind(pv1::ADVOCACY_KIND_REFERRAL);
  s = playbooks_stub_->RecordAdvocacyAsk(Context().get(), ask, &replay);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("last asked on"));

  s = playbooks_stub_->ListAdvocateCandidates(Context().get(), candidates_req, &candidates);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(candidates.candidates_size(), 0);
  pv1::ListAdvocacyAsksRequest list;
  list.set_account_id("acme");
  pv1::ListAdvocacyAsksResponse asks;
  s = playbooks_stub_->ListAdvocacyAsks(Context().get(), list, &asks);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(asks.asks_size(), 1);
  EXPECT_EQ(asks.asks(0).kind(), pv1::ADVOCACY_KIND_CASE_STUDY);
}

}  // namespace
}  // namespace cs::testing
