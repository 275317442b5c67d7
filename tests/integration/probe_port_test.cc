// The plaintext probe port (--probe_listen) of a binary whose gRPC port speaks TLS:
// it answers grpc.health.v1 without TLS, with the main port's statuses (the empty
// name following the database, "liveness" always SERVING), and nothing else; the
// main port still refuses plaintext.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/test_db.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;

// One plaintext Check; the status code and the serving status (UNKNOWN on error).
std::pair<grpc::StatusCode, HealthStatus::ServingStatus> PlainCheck(int port,
                                                                    const std::string& service) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  HealthCheckRequest request;
  request.set_service(service);
  HealthStatus response;
  grpc::Status s = Health::NewStub(channel)->Check(Context(absl::Seconds(2)).get(), request,
                                                   &response);
  return {s.error_code(), s.ok() ? response.status() : HealthStatus::UNKNOWN};
}

class ProbePortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/probe-", getpid());
    ASSERT_EQ(std::system(absl::StrCat(CS_MAKE_TEST_CA, " ", dir_).c_str()), 0);
  }

  // Starts health with mutual TLS on its gRPC port and a plaintext probe port, and
  // waits until the probe port answers.
  std::unique_ptr<ChildProcess> Start(const std::string& db_uri, const std::string& tag,
                                      bool migrate_on_start = true) {
    port_ = FreePort();
    probe_port_ = FreePort();
    log_ = absl::StrCat(dir_, "/", tag, ".log");
    auto process = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            CS_HEALTH_SERVER, absl::StrCat("--listen=127.0.0.1:", port_),
            absl::StrCat("--metrics_listen=127.0.0.1:", FreePort()), "--db_uri=" + db_uri,
            "--drain_timeout=1s", "--health_check_interval=200ms",
            "--tls_cert_file=" + dir_ + "/server.pem", "--tls_key_file=" + dir_ + "/server.key",
            "--tls_client_ca_file=" + dir_ + "/ca.pem",
            migrate_on_start ? "--migrate_on_start=true" : "--migrate_on_start=false"},
        log_, std::vector<std::string>{absl::StrCat("CS_PROBE_LISTEN=127.0.0.1:", probe_port_)});
    for (int i = 0; i < 300; ++i) {
      if (PlainCheck(probe_port_, kLiveness).first == grpc::StatusCode::OK) break;
      EXPECT_TRUE(process->running()) << ReadFile(log_);
      absl::SleepFor(absl::Milliseconds(100));
    }
    return process;
  }

  static constexpr char kLiveness[] = "liveness";
  std::string dir_;
  std::string log_;
  int port_ = 0;
  int probe_port_ = 0;
};

TEST_F(ProbePortTest, AnswersPlaintextHealthChecksWhileTheMainPortNeedsTls) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "probe");
  std::unique_ptr<ChildProcess> process = Start(db->uri(), "up");
  EXPECT_EQ(PlainCheck(probe_port_, kLiveness),
            std::make_pair(grpc::StatusCode::OK, HealthStatus::SERVING))
      << ReadFile(log_);
  EXPECT_EQ(PlainCheck(probe_port_, ""), std::make_pair(grpc::StatusCode::OK, HealthStatus::SERVING));
  // An unknown service name is NOT_FOUND, as on the main port.
  EXPECT_EQ(PlainCheck(probe_port_, "cs.health.v1.Nope").first, grpc::StatusCode::NOT_FOUND);

  // The main port refuses a plaintext client.
  EXPECT_NE(PlainCheck(port_, "").first, grpc::StatusCode::OK);

  // The probe port serves nothing of the suite.
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", probe_port_),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  // An empty message: the encoding of a request with every field unset.
  grpc::Slice empty("", 0);
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status status;
  bool done = false;
  std::mutex mu;
  std::condition_variable cv;
  stub.UnaryCall(&context, "/cs.health.v1.AccountHealthService/GetHealth", grpc::StubOptions(),
                 &request, &response, [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = s;
                   done = true;
                   cv.notify_all();
                 });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();

  // On SIGTERM both ports report NOT_SERVING while in-flight calls drain; the probe
  // port closes with the process.
  process->Signal(SIGTERM);
  EXPECT_EQ(process->WaitExit(absl::Seconds(15)), 0) << ReadFile(log_);
  EXPECT_NE(PlainCheck(probe_port_, kLiveness).first, grpc::StatusCode::OK);
}

TEST_F(ProbePortTest, FollowsTheDatabaseLikeTheMainPort) {
  // Port 1: nothing listens, the database check fails from the start. As in the
  // manifests, migrations are left to the migration Job, so the server starts.
  std::unique_ptr<ChildProcess> process =
      Start("mysql://root@127.0.0.1:1/cs_probe_unreachable", "down", /*migrate_on_start=*/false);
  EXPECT_EQ(PlainCheck(probe_port_, ""),
            std::make_pair(grpc::StatusCode::OK, HealthStatus::NOT_SERVING))
      << ReadFile(log_);
  // Liveness does not depend on the database: no restart through an outage.
  EXPECT_EQ(PlainCheck(probe_port_, kLiveness),
            std::make_pair(grpc::StatusCode::OK, HealthStatus::SERVING));
  process->Signal(SIGTERM);
  EXPECT_EQ(process->WaitExit(absl::Seconds(15)), 0) << ReadFile(log_);
}

// Polls the probe port until Check("") reports `want`.
bool WaitForProbe(int port, HealthStatus::ServingStatus want) {
  for (int i = 0; i < 200; ++i) {
    if (PlainCheck(port, "").second == want) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

TEST_F(ProbePortTest, FollowsTheDatabaseThroughAnOutage) {
  if (std::getenv("CS_TEST_DB_URI") == nullptr) {
    if (DatabaseRequired()) FAIL() << "CS_TEST_DB_URI is not set";
    GTEST_SKIP() << "database tests not enabled";
  }
  PrivateMariaDb mariadb(CS_MARIADB_SCRIPT, dir_ + "/mariadb");
  ASSERT_TRUE(mariadb.Start());
  std::unique_ptr<ChildProcess> process = Start(mariadb.uri("cs_probe_outage"), "outage");
  ASSERT_TRUE(WaitForProbe(probe_port_, HealthStatus::SERVING)) << ReadFile(log_);
  // The database check (every 200ms here) changes both ports' statuses.
  ASSERT_TRUE(mariadb.Stop());
  EXPECT_TRUE(WaitForProbe(probe_port_, HealthStatus::NOT_SERVING)) << ReadFile(log_);
  EXPECT_EQ(PlainCheck(probe_port_, kLiveness).second, HealthStatus::SERVING);
  ASSERT_TRUE(mariadb.Start());
  EXPECT_TRUE(WaitForProbe(probe_port_, HealthStatus::SERVING)) << ReadFile(log_);
  process->Signal(SIGTERM);
  EXPECT_EQ(process->WaitExit(absl::Seconds(15)), 0) << ReadFile(log_);
}

TEST_F(ProbePortTest, ABadProbeAddressIsRefusedWithTheFlagName) {
  const std::string log = absl::StrCat(dir_, "/bad.log");
  ChildProcess bad({CS_HEALTH_SERVER, "--db_uri=mysql://root@127.0.0.1:1/x"}, log,
                   {"CS_PROBE_LISTEN=no-port"});
  EXPECT_EQ(bad.WaitExit(absl::Seconds(10)), 2);
  EXPECT_NE(ReadFile(log).find("--probe_listen (CS_PROBE_LISTEN)"), std::string::npos)
      << ReadFile(log);
}

}  // namespace
}  // namespace cs::testing
