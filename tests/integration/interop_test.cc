// The suite's protos serve other languages: the Python client (Debian's grpcio and
// protobuf, stubs generated at build time) and the Node.js client (@grpc/grpc-js,
// protos loaded at run time) each run their scenario against a real health service,
// and what they wrote is read back here through the C++ stubs.
#include <sys/wait.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/test_db.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

namespace v1 = ::cs::health::v1;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

using ClientRun = CommandRun;

class InteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "interop");
    service_ = std::make_unique<RunningService>("health", CS_HEALTH_SERVER, db_->uri(), "interop");
    ASSERT_TRUE(service_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << service_->Log();
    stub_ = v1::AccountHealthService::NewStub(service_->channel());
  }
  void TearDown() override {
    if (service_ == nullptr) return;
    service_->process().Signal(SIGTERM);
    service_->process().WaitExit(absl::Seconds(15));
  }

  static ClientRun Run(const std::string& command) {
    return RunCommand(command);
  }

  // Debian's interpreter by full path: an earlier python3 on PATH may not see
  // python3-grpcio and python3-protobuf.
  ClientRun Python(const std::string& account) {
    return Run(absl::StrCat("/usr/bin/python3 ", CS_INTEROP_PYTHON_CLIENT, " ", service_->address(),
                            " --stubs ", CS_INTEROP_PYTHON_STUBS, " --account ", account));
  }
  ClientRun Node(const std::string& account) {
    return Run(absl::StrCat(CS_NODE, " ", CS_INTEROP_NODE_CLIENT, " ", service_->address(),
                            " --account ", account));
  }

  // What a client wrote, read back through the C++ stubs.
  void ExpectWrittenByClient(const std::string& account_id, const std::string& name) {
    v1::GetAccountRequest get;
    get.set_account_id(account_id);
    v1::GetAccountResponse account;
    grpc::Status s = stub_->GetAccount(Context().get(), get, &account);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(account.account().name(), name);
    EXPECT_EQ(account.account().tier(), v1::TIER_MID_MARKET);
    EXPECT_EQ(account.account().employee_count(), 250);
    EXPECT_EQ(account.account().industry(), v1::INDUSTRY_SAAS);

    v1::GetHealthRequest health_req;
    health_req.set_account_id(account_id);
    v1::GetHealthResponse health;
    s = stub_->GetHealth(Context().get(), health_req, &health);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_GT(health.health().score(), 0);
    EXPECT_NE(health.health().band(), v1::BAND_UNSPECIFIED);

    // The bad upsert each client sends was refused and wrote nothing.
    v1::GetAccountRequest bad;
    bad.set_account_id(account_id + "-bad");
    s = stub_->GetAccount(Context().get(), bad, &account);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  }

  // An account the client will then try to create: its created=false is a mismatch.
  void CreateAccountFirst(const std::string& account_id) {
    v1::UpsertAccountRequest req;
    req.set_request_id(absl::StrCat("first-", account_id));
    req.mutable_account()->set_account_id(account_id);
    req.mutable_account()->set_name("Created First");
    req.mutable_account()->set_employee_count(250);
    v1::UpsertAccountResponse resp;
    grpc::Status s = stub_->UpsertAccount(Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<RunningService> service_;
  std::unique_ptr<v1::AccountHealthService::Stub> stub_;
};

TEST_F(InteropTest, PythonClientCreatesAnAccountRecordsSignalsAndReadsTheHealth) {
  ClientRun run = Python("py-acme");
  ASSERT_EQ(run.exit_code, 0) << run.output << service_->Log();
  EXPECT_THAT(run.output,
              MatchesRegex("OK python: account=py-acme tier=TIER_MID_MARKET accepted=7 "
                           "duplicates=7 score=[0-9.]+ band=BAND_(GREEN|YELLOW|RED)\n"));
  ExpectWrittenByClient("py-acme", "Python Interop Ltd");
}

TEST_F(InteropTest, NodeClientCreatesAnAccountRecordsSignalsAndReadsTheHealth) {
  ClientRun run = Node("node-acme");
  ASSERT_EQ(run.exit_code, 0) << run.output << service_->Log();
  EXPECT_THAT(run.output,
              MatchesRegex("OK node: account=node-acme tier=TIER_MID_MARKET accepted=7 "
                           "duplicates=7 score=[0-9.]+ band=BAND_(GREEN|YELLOW|RED)\n"));
  ExpectWrittenByClient("node-acme", "Node Interop Inc");
}

TEST_F(InteropTest, BothClientsAgainstOneServiceSeeTheSameScoringRules) {
  // Same scenario, same service: the two languages must read back the same score.
  ClientRun python = Python("same-py");
  ClientRun node = Node("same-node");
  ASSERT_EQ(python.exit_code, 0) << python.output;
  ASSERT_EQ(node.exit_code, 0) << node.output;
  const auto score_and_band = [](const std::string& output) {
    return output.substr(output.find(" score="));
  };
  EXPECT_EQ(score_and_band(python.output), score_and_band(node.output));
}

TEST_F(InteropTest, AClientExitsNonZeroNamingTheMismatch) {
  ASSERT_NO_FATAL_FAILURE(CreateAccountFirst("taken-py"));
  ASSERT_NO_FATAL_FAILURE(CreateAccountFirst("taken-node"));
  ClientRun python = Python("taken-py");
  EXPECT_EQ(python.exit_code, 1) << python.output;
  EXPECT_THAT(python.output, HasSubstr("FAIL: UpsertAccount: created is false for a new account"));
  ClientRun node = Node("taken-node");
  EXPECT_EQ(node.exit_code, 1) << node.output;
  EXPECT_THAT(node.output, HasSubstr("FAIL: UpsertAccount: created is false for a new account"));
}

}  // namespace
}  // namespace cs::testing
