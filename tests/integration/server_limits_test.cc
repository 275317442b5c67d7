// The overload bounds of a service's gRPC port, on the real health_server: one
// connection carries at most --max_concurrent_streams calls at once (the next waits
// in the client until one ends, while other connections are served), and a call that
// arrives with all --max_threads threads busy is refused RESOURCE_EXHAUSTED at once
// instead of starting one more thread, and counted on the metrics page.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/server/runtime.h"
#include "common/testing/test_db.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

namespace v1 = ::cs::health::v1;
using ::testing::HasSubstr;

// A channel with its own TCP connection: channels to one address otherwise share one.
std::shared_ptr<grpc::Channel> OwnConnection(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// An open WatchEvents stream that has delivered its first item (a heartbeat every
// 100 ms), so the server runs its handler; cancelled and finished when destroyed.
class OpenStream {
 public:
  explicit OpenStream(v1::AccountHealthService::Stub& stub) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::WatchEventsRequest request;
    request.mutable_heartbeat_interval()->set_nanos(100'000'000);
    reader_ = stub.WatchEvents(&context_, request);
    v1::WatchEventsResponse first;
    open_ = reader_->Read(&first);
    if (!open_) status_ = reader_->Finish();
  }
  ~OpenStream() {
    if (!open_) return;
    context_.TryCancel();
    v1::WatchEventsResponse item;
    while (reader_->Read(&item)) {
    }
    reader_->Finish().IgnoreError();
  }
  bool open() const { return open_; }
  const grpc::Status& status() const { return status_; }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchEventsResponse>> reader_;
  bool open_ = false;
  grpc::Status status_;
};

// One unary call that the service answers NOT_FOUND (no such account).
grpc::Status GetUnknownAccount(v1::AccountHealthService::Stub& stub, absl::Duration timeout) {
  v1::GetHealthRequest request;
  request.set_account_id("no-such-account");
  v1::GetHealthResponse response;
  return stub.GetHealth(Context(timeout).get(), request, &response);
}

class ServerLimitsTest : public ::testing::Test {
 protected:
  void Start(const std::vector<std::string>& flags) {
    CS_TEST_DATABASE_OR_SKIP(db_, "limits");
    service_ = std::make_unique<RunningService>(
        "health", CS_HEALTH_SERVER, db_->uri(),
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), flags);
    ASSERT_TRUE(service_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << service_->Log();
  }

  void TearDown() override {
    if (service_ == nullptr) return;
    service_->process().Signal(SIGTERM);
    EXPECT_EQ(service_->process().WaitExit(absl::Seconds(15)), 0) << service_->Log();
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<RunningService> service_;
};

TEST_F(ServerLimitsTest, AConnectionCarriesAtMostItsStreamsAndOthersAreStillServed) {
  Start({"--max_concurrent_streams=2"});
  if (service_ == nullptr) return;
  auto busy = v1::AccountHealthService::NewStub(OwnConnection(service_->address()));
  auto other = v1::AccountHealthService::NewStub(OwnConnection(service_->address()));
  ASSERT_EQ(GetUnknownAccount(*busy, absl::Seconds(5)).error_code(), grpc::StatusCode::NOT_FOUND);

  auto first = std::make_unique<OpenStream>(*busy);
  OpenStream second(*busy);
  ASSERT_TRUE(first->open()) << first->status().error_message();
  ASSERT_TRUE(second.open()) << second.status().error_message();

  // Both of the busy connection's streams are taken: its next call waits for one.
  EXPECT_EQ(GetUnknownAccount(*busy, absl::Seconds(1)).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // Another connection is served meanwhile.
  EXPECT_EQ(GetUnknownAccount(*other, absl::Seconds(5)).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // A call queued behind the streams goes out as soon as one ends.
  first.reset();
  EXPECT_EQ(GetUnknownAccount(*busy, absl::Seconds(5)).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerLimitsTest, ACallArrivingWithEveryThreadBusyIsRefusedAtOnce) {
  constexpr int kMaxThreads = 6;
  Start({absl::StrCat("--max_threads=", kMaxThreads)});
  if (service_ == nullptr) return;
  auto stub = v1::AccountHealthService::NewStub(OwnConnection(service_->address()));

  // Each open stream holds a thread; open them until the server refuses one.
  std::vector<std::unique_ptr<OpenStream>> streams;
  grpc::Status refused;
  for (int i = 0; i < 4 * kMaxThreads && refused.ok(); ++i) {
    auto stream = std::make_unique<OpenStream>(*stub);
    if (stream->open()) {
      streams.push_back(std::move(stream));
    } else {
      refused = stream->status();
    }
  }
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_GE(streams.size(), 1u);
  EXPECT_LT(streams.size(), static_cast<size_t>(kMaxThreads));

  // A unary call is refused too, without waiting for its deadline.
  const absl::Time start = absl::Now();
  EXPECT_EQ(GetUnknownAccount(*stub, absl::Seconds(10)).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // The probes still answer: gRPC's health service does not run on these threads, so
  // an overloaded replica is not restarted by its liveness probe.
  EXPECT_EQ(service_->Check(kLivenessService), HealthStatus::SERVING);
  EXPECT_EQ(service_->Check(), HealthStatus::SERVING);

  // Operators see the refusals on the metrics page.
  EXPECT_THAT(service_->Metrics(),
              HasSubstr("cs_grpc_server_handled_total{grpc_code=\"RESOURCE_EXHAUSTED\","
                        "grpc_method=\"/cs.health.v1.AccountHealthService/GetHealth\"} 1"));

  // Threads freed by ending the streams serve calls again.
  streams.clear();
  grpc::Status served;
  for (int i = 0; i < 50; ++i) {
    served = GetUnknownAccount(*stub, absl::Seconds(5));
    if (served.error_code() == grpc::StatusCode::NOT_FOUND) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(served.error_code(), grpc::StatusCode::NOT_FOUND) << served.error_message();
}

}  // namespace
}  // namespace cs::testing
