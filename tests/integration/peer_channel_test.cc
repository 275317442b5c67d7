// The retry policy of channels between services, against an in-process server
// that fails a chosen number of calls before it answers.
#include "common/server/peer_channel.h"

#include <grpcpp/grpcpp.h>

#include <atomic>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"

namespace cs {
namespace {

class FlakyHealth final : public grpc::health::v1::Health::Service {
 public:
  explicit FlakyHealth(int failures, grpc::StatusCode code) : failures_(failures), code_(code) {}
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest*,
                     grpc::health::v1::HealthCheckResponse* response) override {
    if (calls_.fetch_add(1) < failures_) return grpc::Status(code_, "not yet");
    response->set_status(grpc::health::v1::HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }
  int calls() const { return calls_.load(); }

 private:
  const int failures_;
  const grpc::StatusCode code_;
  std::atomic<int> calls_{0};
};

struct Server {
  explicit Server(grpc::Service* service) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service);
    server = builder.BuildAndStart();
  }
  ~Server() { server->Shutdown(); }
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

grpc::Status CheckOnce(const std::string& target, grpc::health::v1::HealthCheckResponse* out) {
  PeerChannelOptions options;
  options.max_attempts = 5;
  options.initial_backoff = absl::Milliseconds(10);
  options.max_backoff = absl::Milliseconds(50);
  auto stub = grpc::health::v1::Health::NewStub(MakePeerChannel(target, options));
  auto context = ContextWithDeadline(absl::Seconds(10));
  return stub->Check(context.get(), {}, out);
}

TEST(PeerChannelTest, RetriesUnavailableUntilThePeerAnswers) {
  FlakyHealth service(3, grpc::StatusCode::UNAVAILABLE);
  Server server(&service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = CheckOnce("127.0.0.1:" + std::to_string(server.port), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(service.calls(), 4);
}

TEST(PeerChannelTest, GivesUpAfterMaxAttempts) {
  FlakyHealth service(100, grpc::StatusCode::UNAVAILABLE);
  Server server(&service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = CheckOnce("127.0.0.1:" + std::to_string(server.port), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(service.calls(), 5);
}

TEST(PeerChannelTest, DoesNotRetryOtherCodes) {
  FlakyHealth service(100, grpc::StatusCode::FAILED_PRECONDITION);
  Server server(&service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = CheckOnce("127.0.0.1:" + std::to_string(server.port), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(service.calls(), 1);
  EXPECT_EQ(FromPeerStatus("health", status).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(PeerChannelTest, UnreachablePeerIsUnavailable) {
  EXPECT_EQ(FromPeerStatus("health", grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "late"))
                .code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace cs
