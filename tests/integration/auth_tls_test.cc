// TLS, mutual TLS and bearer tokens on the real service binaries: every method of
// every service answers UNAUTHENTICATED without a valid token and
// PERMISSION_DENIED without the scope it needs; tokens rotate without a restart.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/server/auth.h"
#include "common/testing/test_db.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

struct Binary {
  std::string name;
  std::string path;
  // Resolved when a test runs: the generated descriptors are registered by then.
  const google::protobuf::ServiceDescriptor* (*service)();
};

// Test names and failure messages show the service, not the struct's bytes.
void PrintTo(const Binary& b, std::ostream* os) { *os << b.name; }

template <typename Message>
const google::protobuf::ServiceDescriptor* ServiceOf() {
  // Each API file declares one service; reaching it through a message of the file
  // also makes sure the file's descriptors are linked in.
  return Message::descriptor()->file()->service(0);
}

std::vector<Binary> Binaries() {
  return {
      {"health", CS_HEALTH_SERVER, &ServiceOf<cs::health::v1::GetHealthRequest>},
      {"playbooks", CS_PLAYBOOKS_SERVER, &ServiceOf<cs::playbooks::v1::GetRunRequest>},
      {"expansion", CS_EXPANSION_SERVER, &ServiceOf<cs::expansion::v1::GetOpportunityRequest>},
  };
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string TokenLine(const std::string& token, const std::string& principal,
                      const std::string& scopes) {
  return absl::StrCat("sha256:", Sha256Hex(token), " ", principal, " ", scopes, "\n");
}

class AuthTlsTest : public ::testing::TestWithParam<Binary> {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "auth");
    dir_ = absl::StrCat(::testing::TempDir(), "/auth-", GetParam().name, "-", getpid());
    ASSERT_EQ(std::system(absl::StrCat(CS_MAKE_TEST_CA, " ", dir_).c_str()), 0);
    tokens_ = dir_ + "/tokens";
    const std::string svc = GetParam().name;
    WriteFile(tokens_, TokenLine("reader", "dashboards", svc + ".read") +
                           TokenLine("admin", "ops", svc + ".admin") +
                           TokenLine("elsewhere", "other-team", "unrelated.admin"));
    port_ = FreePort();
    const int metrics_port = FreePort();
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            GetParam().path, absl::StrCat("--listen=127.0.0.1:", port_),
            absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port),
            absl::StrCat("--db_uri=", db_->uri()), "--drain_timeout=2s",
            "--tls_cert_file=" + dir_ + "/server.pem", "--tls_key_file=" + dir_ + "/server.key",
            "--tls_client_ca_file=" + dir_ + "/ca.pem", "--auth_tokens_file=" + tokens_},
        dir_ + "/service.log");
    // The metrics page answers once the gRPC port is bound; a TLS channel made
    // before that spends its first attempts in reconnect backoff.
    for (int i = 0; i < 300 && HttpGet("127.0.0.1", metrics_port, "/metrics").empty(); ++i) {
      ASSERT_TRUE(process_->running()) << ReadFile(dir_ + "/service.log");
      absl::SleepFor(absl::Milliseconds(100));
    }
    channel_ = Channel(/*client_certificate=*/true);
    auto health = grpc::health::v1::Health::NewStub(channel_);
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    std::string last_error;
    while (absl::Now() < give_up) {
      grpc::health::v1::HealthCheckResponse r;
      grpc::Status s = health->Check(Context(absl::Seconds(1)).get(), {}, &r);
      if (s.ok()) return;
      last_error = s.error_message();
      ASSERT_TRUE(process_->running()) << ReadFile(dir_ + "/service.log");
      absl::SleepFor(absl::Milliseconds(100));
    }
    FAIL() << "not serving (" << last_error << "): " << ReadFile(dir_ + "/service.log");
  }

  void TearDown() override {
    if (process_ != nullptr) process_->Signal(SIGTERM);
    if (process_ != nullptr) process_->WaitExit(absl::Seconds(10));
  }

  std::shared_ptr<grpc::Channel> Channel(bool client_certificate) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFile(dir_ + "/ca.pem");
    if (client_certificate) {
      ssl.pem_cert_chain = ReadFile(dir_ + "/client.pem");
      ssl.pem_private_key = ReadFile(dir_ + "/client.key");
    }
    return grpc::CreateChannel(absl::StrCat("localhost:", port_), grpc::SslCredentials(ssl));
  }

  // One call of `method` with an empty request and the given authorization header.
  grpc::StatusCode CallWith(const std::string& method, const std::string& authorization) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    if (!authorization.empty()) context.AddMetadata("authorization", authorization);
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
    grpc::Slice empty("");
    request = grpc::ByteBuffer(&empty, 1);
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status s) { done.set_value(std::move(s)); });
    return done.get_future().get().error_code();
  }

  std::unique_ptr<TestDatabase> db_;
  std::string dir_;
  std::string tokens_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_P(AuthTlsTest, EveryMethodNeedsAValidTokenWithItsScope) {
  const google::protobuf::ServiceDescriptor* service = GetParam().service();
  ASSERT_GT(service->method_count(), 0);
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string method =
        absl::StrCat("/", service->full_name(), "/", service->method(i)->name());
    SCOPED_TRACE(method);
    EXPECT_EQ(CallWith(method, ""), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(CallWith(method, "Bearer not-a-token"), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(CallWith(method, "Basic YWRtaW4="), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(CallWith(method, "Bearer elsewhere"), grpc::StatusCode::PERMISSION_DENIED);
    const bool read = RequiredScope(method, false) == GetParam().name + ".read";
    const grpc::StatusCode as_reader = CallWith(method, "Bearer reader");
    if (read) {
      EXPECT_NE(as_reader, grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_NE(as_reader, grpc::StatusCode::UNAUTHENTICATED);
    } else {
      EXPECT_EQ(as_reader, grpc::StatusCode::PERMISSION_DENIED);
    }
    const grpc::StatusCode as_admin = CallWith(method, "Bearer admin");
    EXPECT_NE(as_admin, grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(as_admin, grpc::StatusCode::UNAUTHENTICATED);
  }
  // Probes need no token.
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckResponse r;
  EXPECT_TRUE(health->Check(Context().get(), {}, &r).ok());
}

TEST_P(AuthTlsTest, TokensRotateWithoutARestart) {
  const std::string method = absl::StrCat("/", GetParam().service()->full_name(), "/",
                                          GetParam().service()->method(0)->name());
  EXPECT_EQ(CallWith(method, "Bearer fresh"), grpc::StatusCode::UNAUTHENTICATED);
  WriteFile(tokens_, TokenLine("fresh", "ops", GetParam().name + ".admin"));
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  grpc::StatusCode code = grpc::StatusCode::UNAUTHENTICATED;
  while (absl::Now() < give_up && code == grpc::StatusCode::UNAUTHENTICATED) {
    absl::SleepFor(absl::Milliseconds(200));
    code = CallWith(method, "Bearer fresh");
  }
  EXPECT_NE(code, grpc::StatusCode::UNAUTHENTICATED);
  // The old token went with the old file.
  EXPECT_EQ(CallWith(method, "Bearer admin"), grpc::StatusCode::UNAUTHENTICATED);
  // A broken file keeps the tokens in force.
  WriteFile(tokens_, "this is not a token file\n");
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_NE(CallWith(method, "Bearer fresh"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(process_->running());
}

TEST_P(AuthTlsTest, PlaintextAndCertificateLessClientsAreTurnedAway) {
  auto plaintext = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  grpc::health::v1::HealthCheckResponse r;
  EXPECT_FALSE(plaintext->Check(Context(absl::Seconds(2)).get(), {}, &r).ok());
  auto anonymous = grpc::health::v1::Health::NewStub(Channel(/*client_certificate=*/false));
  EXPECT_FALSE(anonymous->Check(Context(absl::Seconds(2)).get(), {}, &r).ok());
}

INSTANTIATE_TEST_SUITE_P(Services, AuthTlsTest, ::testing::ValuesIn(Binaries()),
                         [](const auto& info) { return info.param.name; });

TEST(AuthFlagsTest, TokensWithoutTlsAreRefusedAtStart) {
  const std::string log = absl::StrCat(::testing::TempDir(), "/auth-flags-", getpid(), ".log");
  const std::string tokens = absl::StrCat(::testing::TempDir(), "/auth-flags-tokens-", getpid());
  WriteFile(tokens, TokenLine("x", "a", "*"));
  ChildProcess p({CS_HEALTH_SERVER, "--auth_tokens_file=" + tokens}, log);
  EXPECT_EQ(p.WaitExit(absl::Seconds(10)), 2);
  EXPECT_NE(ReadFile(log).find("bearer tokens are accepted over TLS only"), std::string::npos)
      << ReadFile(log);
}

}  // namespace
}  // namespace cs::testing
