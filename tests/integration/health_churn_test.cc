// Runs the real health_server against the real MariaDB and drives the churn model,
// backtest, band filter and expansion-signal RPCs over gRPC: handler and mapping
// end to end (the arithmetic is checked by hand in services/health/churn_db_test.cc).

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/test_db.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

namespace v1 = ::cs::health::v1;
using ::testing::HasSubstr;

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  out->set_seconds(absl::ToUnixSeconds(t));
}

absl::CivilDay Today() { return absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()); }

void SetDate(absl::CivilDay day, cs::common::v1::Date* out) {
  out->set_year(static_cast<int32_t>(day.year()));
  out->set_month(day.month());
  out->set_day(day.day());
}

class HealthChurnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "hchurnit");
    service_ = std::make_unique<RunningService>(
        "health", CS_HEALTH_SERVER, db_->uri(),
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(service_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << service_->Log();
    stub_ = v1::AccountHealthService::NewStub(service_->channel());
  }

  void TearDown() override {
    if (service_ == nullptr) return;
    service_->process().Signal(SIGTERM);
    EXPECT_EQ(service_->process().WaitExit(absl::Seconds(15)), 0) << service_->Log();
  }

  void Upsert(const std::string& id) {
    v1::UpsertAccountRequest req;
    req.mutable_account()->set_account_id(id);
    req.mutable_account()->set_name("Initech");
    req.mutable_account()->set_employee_count(40);
    v1::UpsertAccountResponse resp;
    grpc::Status s = stub_->UpsertAccount(Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  void Signals(const std::string& id, v1::SignalKind kind, int n, absl::Time at) {
    v1::RecordSignalsRequest req;
    req.set_atomic(true);
    for (int i = 0; i < n; ++i) {
      v1::Signal* s = req.add_signals();
      s->set_event_id(absl::StrCat(id, "-", ++next_event_));
      s->set_account_id(id);
      s->set_kind(kind);
      SetTime(at, s->mutable_occurred_at());
    }
    v1::RecordSignalsResponse resp;
    grpc::Status s = stub_->RecordSignals(Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.accepted(), n);
  }

  void Churn(const std::string& id, absl::CivilDay day) {
    v1::MarkChurnedRequest req;
    req.set_account_id(id);
    SetDate(day, req.mutable_churned_on());
    req.set_reason("budget cut");
    v1::MarkChurnedResponse resp;
    grpc::Status s = stub_->MarkChurned(Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  v1::Health Health(const std::string& id) {
    v1::GetHealthRequest req;
    req.set_account_id(id);
    v1::GetHealthResponse resp;
    grpc::Status s = stub_->GetHealth(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.health();
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<RunningService> service_;
  std::unique_ptr<v1::AccountHealthService::Stub> stub_;
  int next_event_ = 0;
};

TEST_F(HealthChurnTest, TrainBacktestFilterAndPublishOverGrpc) {
  // Separable at the cutoff today - 90: 40 logins for those that stayed, 2 for
  // those that churned 20 days after it.
  const absl::CivilDay cutoff = Today() - 90;
  const absl::Time before_cutoff = absl::FromCivil(cutoff - 10, absl::UTCTimeZone());
  for (int i = 0; i < 6; ++i) {
    const std::string stay = absl::StrCat("stay", i), gone = absl::StrCat("gone", i);
    ASSERT_NO_FATAL_FAILURE(Upsert(stay));
    ASSERT_NO_FATAL_FAILURE(Upsert(gone));
    ASSERT_NO_FATAL_FAILURE(Signals(stay, v1::SIGNAL_KIND_LOGIN, 40, before_cutoff));
    ASSERT_NO_FATAL_FAILURE(Signals(gone, v1::SIGNAL_KIND_LOGIN, 2, before_cutoff));
    ASSERT_NO_FATAL_FAILURE(Churn(gone, cutoff + 20));
  }
  ASSERT_NO_FATAL_FAILURE(Upsert("live"));
  ASSERT_NO_FATAL_FAILURE(Signals("live", v1::SIGNAL_KIND_LOGIN, 1, absl::Now() - absl::Hours(2)));

  // Before any model: no probability, and GetChurnModel is NOT_FOUND.
  EXPECT_FALSE(Health("live").has_churn_probability());
  v1::GetChurnModelResponse model;
  grpc::Status s = stub_->GetChurnModel(Context().get(), v1::GetChurnModelRequest(), &model);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();

  v1::TrainChurnModelRequest bad;
  SetDate(Today() - 5, bad.mutable_cutoff());
  v1::TrainChurnModelResponse trained;
  s = stub_->TrainChurnModel(Context().get(), bad, &trained);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("cutoff"));

  v1::TrainChurnModelRequest train;
  train.set_request_id("train-once");
  s = stub_->TrainChurnModel(Context(absl::Seconds(30)).get(), train, &trained);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const v1::ChurnModel& m = trained.model();
  EXPECT_GT(m.model_id(), 0);
  ASSERT_TRUE(m.has_holdout_auc());
  EXPECT_EQ(m.holdout_auc(), 1.0);
  EXPECT_EQ(m.train_size(), 8);
  EXPECT_EQ(m.holdout_size(), 4);
  EXPECT_EQ(m.churned(), 6);
  EXPECT_EQ(m.feature_names(0), "logins_per_week");
  EXPECT_EQ(m.weights_size(), m.feature_names_size());
  EXPECT_EQ(m.cutoff().year(), cutoff.year());
  v1::TrainChurnModelResponse retried;
  s = stub_->TrainChurnModel(Context(absl::Seconds(30)).get(), train, &retried);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(retried.model().model_id(), m.model_id());

  const v1::Health live = Health("live");
  ASSERT_TRUE(live.has_churn_probability());
  EXPECT_GT(live.churn_probability(), 0);
  EXPECT_LT(live.churn_probability(), 1);
  EXPECT_FALSE(Health("gone0").has_churn_probability());  // churned already
  s = stub_->GetChurnModel(Context().get(), v1::GetChurnModelRequest(), &model);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(model.model().model_id(), m.model_id());

  // The default scorecard replayed on the cutoff: everyone scored, undefined
  // figures absent rather than NaN.
  v1::BacktestScorecardRequest backtest;
  backtest.set_scorecard_id("default");
  SetDate(cutoff, backtest.add_as_of());
  v1::BacktestScorecardResponse report;
  s = stub_->BacktestScorecard(Context(absl::Seconds(30)).get(), backtest, &report);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(report.scorecard_version(), 1);
  EXPECT_EQ(report.horizon_days(), 90);
  EXPECT_EQ(report.overall().accounts(), 12);
  EXPECT_EQ(report.overall().churned(), 6);
  ASSERT_TRUE(report.overall().has_auc());
  EXPECT_EQ(report.overall().auc(), 1.0);  // 2 logins always score below 40
  ASSERT_EQ(report.overall().bands_size(), 3);
  EXPECT_EQ(report.overall().skipped_no_data(), 1);  // "live" started after the cutoff
  ASSERT_EQ(report.by_date_size(), 1);
  EXPECT_EQ(report.by_date(0).as_of().day(), cutoff.day());
  v1::BacktestScorecardRequest no_source;
  s = stub_->BacktestScorecard(Context().get(), no_source, &report);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("scorecard_id"));

  // Band filter: every account here is RED on the default scorecard today.
  v1::ListAccountsRequest list;
  list.set_band(v1::BAND_GREEN);
  v1::ListAccountsResponse listed;
  s = stub_->ListAccounts(Context().get(), list, &listed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(listed.accounts_size(), 0);
  list.set_band(v1::BAND_RED);
  list.mutable_page()->set_page_size(5);
  int red = 0;
  for (int page = 0; page < 10; ++page) {
    s = stub_->ListAccounts(Context().get(), list, &listed);
    ASSERT_TRUE(s.ok()) << s.error_message();
    red += listed.accounts_size();
    if (listed.page().next_page_token().empty()) break;
    list.mutable_page()->set_page_token(listed.page().next_page_token());
  }
  EXPECT_EQ(red, 13);
  list.set_band(static_cast<v1::Band>(42));
  s = stub_->ListAccounts(Context().get(), list, &listed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("band"));

  // An upsell signal reaches the stream as EXPANSION_SIGNAL with the health standing.
  v1::ListEventsResponse before;
  ASSERT_TRUE(stub_->ListEvents(Context().get(), v1::ListEventsRequest(), &before).ok());
  ASSERT_NO_FATAL_FAILURE(
      Signals("live", v1::SIGNAL_KIND_UPSELL_INTEREST, 1, absl::Now() - absl::Minutes(1)));
  v1::ListEventsRequest after;
  after.set_after_sequence(before.last_sequence());
  v1::ListEventsResponse events;
  ASSERT_TRUE(stub_->ListEvents(Context().get(), after, &events).ok());
  int expansion = 0;
  for (const v1::Event& e : events.events()) {
    if (e.kind() != v1::EVENT_KIND_EXPANSION_SIGNAL) continue;
    ++expansion;
    ASSERT_TRUE(e.has_expansion_signal());
    EXPECT_EQ(e.account_id(), "live");
    EXPECT_EQ(e.expansion_signal().signal_kind(), v1::SIGNAL_KIND_UPSELL_INTEREST);
    EXPECT_EQ(e.expansion_signal().band(), v1::BAND_RED);
    EXPECT_EQ(e.expansion_signal().tier(), v1::TIER_SMB);
  }
  EXPECT_EQ(expansion, 1);
}

}  // namespace
}  // namespace cs::testing
