// Runs the real health_server against the real MariaDB and drives the signal,
// event-map, scorecard and score RPCs over gRPC: handler and mapping end to end.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/test_db.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

namespace v1 = ::cs::health::v1;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t nanos = absl::ToUnixNanos(t);
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

v1::Signal Login(const std::string& account_id, const std::string& event_id, absl::Time at) {
  v1::Signal s;
  s.set_event_id(event_id);
  s.set_account_id(account_id);
  s.set_kind(v1::SIGNAL_KIND_LOGIN);
  SetTime(at, s.mutable_occurred_at());
  return s;
}

// One health_server on a throwaway schema, serving, with a stub to it.
class HealthScoresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "hscore");
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

  void UpsertAccount(const std::string& account_id) {
    v1::UpsertAccountRequest req;
    req.set_request_id(absl::StrCat("upsert-", account_id));
    req.mutable_account()->set_account_id(account_id);
    req.mutable_account()->set_name("Initech");
    req.mutable_account()->set_employee_count(40);
    v1::UpsertAccountResponse resp;
    grpc::Status s = stub_->UpsertAccount(Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Ten LOGINs an hour ago, event ids login-0..login-9.
  v1::RecordSignalsRequest TenLogins(const std::string& account_id) {
    v1::RecordSignalsRequest req;
    const absl::Time at = absl::Now() - absl::Hours(1);
    for (int i = 0; i < 10; ++i) {
      *req.add_signals() = Login(account_id, absl::StrCat("login-", i), at);
    }
    return req;
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<RunningService> service_;
  std::unique_ptr<v1::AccountHealthService::Stub> stub_;
};

TEST_F(HealthScoresTest, RecordedSignalsProduceAScoreAndRepeatsAreDuplicates) {
  ASSERT_NO_FATAL_FAILURE(UpsertAccount("acme"));
  v1::RecordSignalsResponse recorded;
  grpc::Status s = stub_->RecordSignals(Context().get(), TenLogins("acme"), &recorded);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(recorded.accepted(), 10);
  EXPECT_EQ(recorded.duplicates(), 0);
  EXPECT_EQ(recorded.rejected(), 0);
  ASSERT_EQ(recorded.acks_size(), 10);
  for (const v1::RecordAck& ack : recorded.acks()) {
    EXPECT_EQ(ack.outcome(), v1::RECORD_OUTCOME_ACCEPTED) << ack.reason();
  }

  v1::GetHealthRequest get;
  get.set_account_id("acme");
  v1::GetHealthResponse got;
  s = stub_->GetHealth(Context().get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const v1::Health& h = got.health();
  EXPECT_EQ(h.account_id(), "acme");
  EXPECT_GT(h.score(), 0);
  EXPECT_LT(h.score(), 100);
  EXPECT_NE(h.band(), v1::BAND_UNSPECIFIED);
  EXPECT_EQ(h.components_size(), 6);
  EXPECT_EQ(h.scorecard_id(), "default");
  EXPECT_EQ(h.scorecard_version(), 1);
  EXPECT_TRUE(h.has_computed_at());
  EXPECT_GT(h.computed_at().seconds(), 0);
  EXPECT_FALSE(h.has_churn_probability());

  // The same batch again (a new call, not a request-id retry): all duplicates.
  v1::RecordSignalsResponse again;
  s = stub_->RecordSignals(Context().get(), TenLogins("acme"), &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(again.accepted(), 0);
  EXPECT_EQ(again.duplicates(), 10);
  for (const v1::RecordAck& ack : again.acks()) {
    EXPECT_EQ(ack.outcome(), v1::RECORD_OUTCOME_DUPLICATE);
  }
}

// A retry with the request id gets the first answer back whole, every ack with its
// event id, though the stored answer keeps no event id (the retry carries them).
TEST_F(HealthScoresTest, ARetryGetsTheFirstAnswerWithItsEventIdsFromAStoreWithoutThem) {
  ASSERT_NO_FATAL_FAILURE(UpsertAccount("acme"));
  v1::RecordSignalsRequest req = TenLogins("acme");
  req.set_request_id("retry-me");
  *req.add_signals() = Login("acme", "from-the-future", absl::Now() + absl::Hours(48));
  v1::RecordSignalsResponse first;
  grpc::Status s = stub_->RecordSignals(Context().get(), req, &first);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(first.acks_size(), 11);
  EXPECT_EQ(first.accepted(), 10);
  EXPECT_EQ(first.rejected(), 1);
  EXPECT_EQ(first.acks(3).event_id(), "login-3");
  EXPECT_EQ(first.acks(10).event_id(), "from-the-future");

  v1::RecordSignalsResponse again;
  s = stub_->RecordSignals(Context().get(), req, &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString())
      << again.DebugString() << "\nagainst\n" << first.DebugString();

  db::Pool pool(db_->config());
  EXPECT_EQ(QueryInt(pool, "SELECT COUNT(*) FROM idempotency_keys WHERE request_id = 'retry-me'"), 1);
  EXPECT_EQ(QueryInt(pool,
                     "SELECT LOCATE('login-', response) + LOCATE('from-the-future', response)"
                     " FROM idempotency_keys WHERE request_id = 'retry-me'"),
            0);
}

TEST_F(HealthScoresTest, AFutureSignalIsRejectedAndDeadLetteredOrRefusesAnAtomicBatch) {
  ASSERT_NO_FATAL_FAILURE(UpsertAccount("acme"));
  v1::RecordSignalsRequest req;
  *req.add_signals() = Login("acme", "ok-0", absl::Now() - absl::Hours(1));
  *req.add_signals() = Login("acme", "future-1", absl::Now() + absl::Hours(72));

  v1::RecordSignalsResponse resp;
  grpc::Status s = stub_->RecordSignals(Context().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.acks_size(), 2);
  EXPECT_EQ(resp.acks(0).outcome(), v1::RECORD_OUTCOME_ACCEPTED) << resp.acks(0).reason();
  EXPECT_EQ(resp.acks(1).index(), 1);
  EXPECT_EQ(resp.acks(1).event_id(), "future-1");
  EXPECT_EQ(resp.acks(1).outcome(), v1::RECORD_OUTCOME_REJECTED);
  EXPECT_THAT(resp.acks(1).reason(), HasSubstr("signals[1].occurred_at"));
  EXPECT_EQ(resp.accepted(), 1);
  EXPECT_EQ(resp.rejected(), 1);

  v1::ListRejectedRecordsRequest list;
  list.set_account_id("acme");
  v1::ListRejectedRecordsResponse rejected;
  s = stub_->ListRejectedRecords(Context().get(), list, &rejected);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(rejected.records_size(), 1);
  const v1::RejectedRecord& r = rejected.records(0);
  EXPECT_EQ(r.source(), "RecordSignals");
  EXPECT_EQ(r.event_id(), "future-1");
  EXPECT_EQ(r.account_id(), "acme");
  EXPECT_THAT(r.reason(), HasSubstr("signals[1].occurred_at"));
  EXPECT_THAT(r.record_json(), Not(IsEmpty()));
  EXPECT_THAT(r.record_json(), HasSubstr("future-1"));

  req.set_atomic(true);
  v1::RecordSignalsResponse atomic;
  s = stub_->RecordSignals(Context().get(), req, &atomic);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("signals[1].occurred_at"));
  // Nothing was written by the refused batch, not even to the dead-letter list.
  v1::ListRejectedRecordsResponse after;
  ASSERT_TRUE(stub_->ListRejectedRecords(Context().get(), list, &after).ok());
  EXPECT_EQ(after.records_size(), 1);
}

TEST_F(HealthScoresTest, IngestWritesAScoreChangedEventMatchingGetHealth) {
  ASSERT_NO_FATAL_FAILURE(UpsertAccount("acme"));
  v1::RecordSignalsResponse recorded;
  ASSERT_TRUE(stub_->RecordSignals(Context().get(), TenLogins("acme"), &recorded).ok());
  ASSERT_EQ(recorded.accepted(), 10);

  v1::GetHealthRequest get;
  get.set_account_id("acme");
  v1::GetHealthResponse got;
  grpc::Status s = stub_->GetHealth(Context().get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::ListEventsRequest list;
  list.set_page_size(1000);
  v1::ListEventsResponse events;
  s = stub_->ListEvents(Context().get(), list, &events);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const v1::Event* last_change = nullptr;
  for (const v1::Event& e : events.events()) {
    if (e.kind() == v1::EVENT_KIND_SCORE_CHANGED) last_change = &e;
  }
  ASSERT_NE(last_change, nullptr) << events.DebugString();
  EXPECT_EQ(last_change->account_id(), "acme");
  ASSERT_TRUE(last_change->has_score_change()) << last_change->DebugString();
  EXPECT_EQ(last_change->score_change().account_id(), "acme");
  EXPECT_DOUBLE_EQ(last_change->score_change().score(), got.health().score());
  EXPECT_EQ(last_change->score_change().band(), got.health().band());
}

TEST_F(HealthScoresTest, TrackEventsGoThroughTheEventMap) {
  ASSERT_NO_FATAL_FAILURE(UpsertAccount("acme"));
  v1::SetEventMappingRequest set;
  set.set_request_id("map-1");
  set.mutable_mapping()->set_event_name("Report Shared");
  set.mutable_mapping()->set_kind(v1::SIGNAL_KIND_FEATURE_USED);
  set.mutable_mapping()->set_feature_property("type");
  v1::SetEventMappingResponse mapped;
  grpc::Status s = stub_->SetEventMapping(Context().get(), set, &mapped);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(mapped.mapping().event_name(), "Report Shared");
  EXPECT_EQ(mapped.mapping().kind(), v1::SIGNAL_KIND_FEATURE_USED);
  EXPECT_EQ(mapped.mapping().feature_property(), "type");

  v1::TrackEventsRequest track;
  v1::TrackEvent* shared = track.add_events();
  shared->set_message_id("msg-1");
  shared->set_event("Report Shared");
  shared->set_user_id("user-1");
  shared->set_group_id("acme");
  SetTime(absl::Now() - absl::Minutes(5), shared->mutable_timestamp());
  (*shared->mutable_properties()->mutable_fields())["type"].set_string_value("pipeline");
  v1::TrackEventsResponse tracked;
  s = stub_->TrackEvents(Context().get(), track, &tracked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(tracked.accepted(), 1);
  EXPECT_EQ(tracked.rejected(), 0);
  ASSERT_EQ(tracked.acks_size(), 1);
  EXPECT_EQ(tracked.acks(0).outcome(), v1::RECORD_OUTCOME_ACCEPTED) << tracked.acks(0).reason();

  v1::TrackEventsRequest unmapped;
  v1::TrackEvent* other = unmapped.add_events();
  other->set_message_id("msg-2");
  other->set_event("Unmapped");
  other->set_group_id("acme");
  SetTime(absl::Now() - absl::Minutes(5), other->mutable_timestamp());
  v1::TrackEventsResponse refused;
  s = stub_->TrackEvents(Context().get(), unmapped, &refused);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(refused.accepted(), 0);
  EXPECT_EQ(refused.rejected(), 1);
  ASSERT_EQ(refused.acks_size(), 1);
  EXPECT_EQ(refused.acks(0).outcome(), v1::RECORD_OUTCOME_REJECTED);
  EXPECT_THAT(refused.acks(0).reason(), Not(IsEmpty()));
}

TEST_F(HealthScoresTest, AScorecardWhoseWeightsDoNotSumTo100IsRefused) {
  v1::CreateScorecardRequest req;
  req.set_request_id("card-1");
  v1::Scorecard* card = req.mutable_scorecard();
  card->set_scorecard_id("short");
  auto add = [&](v1::Component component, int weight, const std::string& measure) {
    v1::ScorecardComponent* c = card->add_components();
    c->set_component(component);
    c->set_weight(weight);
    c->mutable_measure()->set_measure(measure);
    c->mutable_measure()->set_lookback_days(30);
    c->mutable_measure()->set_direction(v1::DIRECTION_HIGHER_IS_BETTER);
    c->mutable_measure()->set_zero_at(0);
    c->mutable_measure()->set_hundred_at(10);
  };
  add(v1::COMPONENT_PRODUCT_USAGE, 50, "logins_per_week");
  add(v1::COMPONENT_FEATURE_ADOPTION, 40, "distinct_features_used");
  v1::CreateScorecardResponse resp;
  grpc::Status s = stub_->CreateScorecard(Context().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("scorecard.components"));
  EXPECT_THAT(s.error_message(), HasSubstr("90"));
}

}  // namespace
}  // namespace cs::testing
