// Two health_server replicas on one schema, each with its GetHealth view cache:
// a write through one replica is visible through the other within a second (the
// other's cache tails the shared event log and overrides).

#include <grpcpp/grpcpp.h>
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

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t nanos = absl::ToUnixNanos(t);
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

class HealthCacheReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "hcache");
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    // A starts first and migrates the schema; B starts on the migrated schema.
    a_ = std::make_unique<RunningService>("health", CS_HEALTH_SERVER, db_->uri(), name + "-a");
    ASSERT_TRUE(a_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << a_->Log();
    b_ = std::make_unique<RunningService>("health", CS_HEALTH_SERVER, db_->uri(), name + "-b");
    ASSERT_TRUE(b_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << b_->Log();
    stub_a_ = v1::AccountHealthService::NewStub(a_->channel());
    stub_b_ = v1::AccountHealthService::NewStub(b_->channel());
  }

  void TearDown() override {
    for (RunningService* s : {a_.get(), b_.get()}) {
      if (s == nullptr) continue;
      s->process().Signal(SIGTERM);
      EXPECT_EQ(s->process().WaitExit(absl::Seconds(15)), 0) << s->Log();
    }
  }

  void Record(const std::string& account_id, int logins, const std::string& tag) {
    v1::RecordSignalsRequest req;
    req.set_request_id(absl::StrCat("record-", tag));
    const absl::Time at = absl::Now() - absl::Hours(1);
    for (int i = 0; i < logins; ++i) {
      v1::Signal* s = req.add_signals();
      s->set_event_id(absl::StrCat(tag, "-", i));
      s->set_account_id(account_id);
      s->set_kind(v1::SIGNAL_KIND_LOGIN);
      SetTime(at, s->mutable_occurred_at());
    }
    v1::RecordSignalsResponse resp;
    grpc::Status s = stub_a_->RecordSignals(Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.accepted(), logins);
  }

  double ScoreThroughB(const std::string& account_id) {
    v1::GetHealthRequest get;
    get.set_account_id(account_id);
    v1::GetHealthResponse got;
    grpc::Status s = stub_b_->GetHealth(Context().get(), get, &got);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return s.ok() ? got.health().score() : -1;
  }

  // How long until B answers `want` (polling every 20 ms, up to 5 s).
  absl::Duration TimeUntilBShows(const std::string& account_id, double want) {
    const absl::Time start = absl::Now();
    while (absl::Now() - start < absl::Seconds(5)) {
      if (ScoreThroughB(account_id) == want) return absl::Now() - start;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::InfiniteDuration();
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<RunningService> a_, b_;
  std::unique_ptr<v1::AccountHealthService::Stub> stub_a_, stub_b_;
};

TEST_F(HealthCacheReplicasTest, AWriteThroughOneReplicaIsReadThroughTheOtherWithinASecond) {
  {
    v1::UpsertAccountRequest req;
    req.set_request_id("upsert-acme");
    req.mutable_account()->set_account_id("acme");
    req.mutable_account()->set_name("Acme");
    req.mutable_account()->set_employee_count(40);
    v1::UpsertAccountResponse resp;
    grpc::Status s = stub_a_->UpsertAccount(Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_NO_FATAL_FAILURE(Record("acme", 2, "first"));
  // B reads the account twice, so its view is cached before the next write.
  const double before = ScoreThroughB("acme");
  ASSERT_GT(before, 0);
  EXPECT_EQ(ScoreThroughB("acme"), before);

  // More logins through A: A's own answer is the new score at once ...
  ASSERT_NO_FATAL_FAILURE(Record("acme", 40, "second"));
  v1::GetHealthRequest get;
  get.set_account_id("acme");
  v1::GetHealthResponse through_a;
  ASSERT_TRUE(stub_a_->GetHealth(Context().get(), get, &through_a).ok());
  const double after = through_a.health().score();
  ASSERT_GT(after, before);
  // ... and B shows it within a second.
  absl::Duration wait = TimeUntilBShows("acme", after);
  EXPECT_LT(wait, absl::Seconds(1)) << "B still answered the old score";

  // An override through A (no event of its own: B's tail reads the override rows).
  v1::SetOverrideRequest override_request;
  override_request.set_request_id("override-acme");
  v1::Override* o = override_request.mutable_override();
  o->set_account_id("acme");
  o->set_score(97);
  o->set_reason("integration test");
  o->set_set_by("csm-1");
  SetTime(absl::Now() + absl::Hours(24), o->mutable_expires_at());
  v1::SetOverrideResponse overridden;
  grpc::Status s = stub_a_->SetOverride(Context().get(), override_request, &overridden);
  ASSERT_TRUE(s.ok()) << s.error_message();
  wait = TimeUntilBShows("acme", 97);
  EXPECT_LT(wait, absl::Seconds(1)) << "B still answered without the override";
}

}  // namespace
}  // namespace cs::testing
