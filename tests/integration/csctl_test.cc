// csctl against a running health service: commands, output formats and the exit
// codes scripts rely on.
#include <sys/wait.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "common/testing/test_db.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using CsctlRun = CommandRun;

class CsctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "csctl");
    service_ = std::make_unique<RunningService>("health", CS_HEALTH_SERVER, db_->uri(), "csctl");
    ASSERT_TRUE(service_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << service_->Log();
  }
  void TearDown() override {
    if (service_ == nullptr) return;
    service_->process().Signal(SIGTERM);
    service_->process().WaitExit(absl::Seconds(15));
  }

  CsctlRun Csctl(const std::string& args, const std::string& env = "") {
    const std::string command =
        absl::StrCat(env, " ", CS_CSCTL, " ", args,
                     " --health-addr 127.0.0.1:", service_->port(), " --timeout 5s");
    return RunCommand(command);
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<RunningService> service_;
};

TEST_F(CsctlTest, UpsertListGetInEveryFormat) {
  CsctlRun created = Csctl("accounts upsert acme --name Acme --employees 1500 --industry saas --owner csm-1");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_THAT(created.output, HasSubstr("created acme (enterprise)"));
  ASSERT_EQ(Csctl("accounts upsert tiny --employees 3 --owner csm-2").exit_code, 0);

  CsctlRun table = Csctl("accounts list --tier enterprise");
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_THAT(table.output, HasSubstr("ACCOUNT"));
  EXPECT_THAT(table.output, HasSubstr("acme"));
  EXPECT_THAT(table.output, Not(HasSubstr("tiny")));

  CsctlRun json = Csctl("accounts get tiny -o json");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  EXPECT_THAT(json.output, HasSubstr("\"account_id\": \"tiny\""));
  EXPECT_THAT(json.output, HasSubstr("\"tier\": \"TIER_SOLO\""));

  CsctlRun yaml = Csctl("accounts list --owner csm-1 -o yaml");
  ASSERT_EQ(yaml.exit_code, 0) << yaml.output;
  EXPECT_THAT(yaml.output, HasSubstr("accounts:\n  - account_id: acme\n"));
}

// --band filters on the account's health band in the service (ListAccounts.band):
// an account shows up under its own band only, and an account that has never been
// scored under none.
TEST_F(CsctlTest, AccountsListByBand) {
  ASSERT_EQ(Csctl("accounts upsert scored --employees 40").exit_code, 0);
  ASSERT_EQ(Csctl("accounts upsert quiet --employees 40").exit_code, 0);
  auto stub = ::cs::health::v1::AccountHealthService::NewStub(service_->channel());
  ::cs::health::v1::RecordSignalsRequest signals;
  for (int i = 0; i < 10; ++i) {
    ::cs::health::v1::Signal* s = signals.add_signals();
    s->set_event_id(absl::StrCat("login-", i));
    s->set_account_id("scored");
    s->set_kind(::cs::health::v1::SIGNAL_KIND_LOGIN);
    s->mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
  }
  ::cs::health::v1::RecordSignalsResponse recorded;
  grpc::ClientContext context;
  ASSERT_TRUE(stub->RecordSignals(&context, signals, &recorded).ok());

  CsctlRun health = Csctl("health get scored -o json");
  ASSERT_EQ(health.exit_code, 0) << health.output;
  std::string band;
  for (const char* b : {"GREEN", "YELLOW", "RED"}) {
    if (health.output.find(absl::StrCat("\"band\": \"BAND_", b, "\"")) != std::string::npos) band = b;
  }
  ASSERT_FALSE(band.empty()) << health.output;
  for (const char* b : {"green", "yellow", "red"}) {
    CsctlRun listed = Csctl(absl::StrCat("accounts list --band ", b));
    ASSERT_EQ(listed.exit_code, 0) << listed.output;
    EXPECT_THAT(listed.output, Not(HasSubstr("quiet"))) << b;
    if (absl::AsciiStrToUpper(b) == band) {
      EXPECT_THAT(listed.output, HasSubstr("scored")) << b;
    } else {
      EXPECT_THAT(listed.output, Not(HasSubstr("scored"))) << b;
    }
  }
  EXPECT_EQ(Csctl("accounts list --band purple").exit_code, 2);
}

TEST_F(CsctlTest, ExitCodesScriptsCanRelyOn) {
  EXPECT_EQ(Csctl("accounts get nobody").exit_code, 3);
  CsctlRun bad_enum = Csctl("accounts list --tier huge");
  EXPECT_EQ(bad_enum.exit_code, 2);
  EXPECT_THAT(bad_enum.output, HasSubstr("--tier: 'huge' must be one of enterprise, mid-market, smb, solo"));
  EXPECT_EQ(Csctl("no such command").exit_code, 2);
  EXPECT_EQ(Csctl("accounts get").exit_code, 2);
  // The service refuses: an employee count below zero.
  CsctlRun refused = Csctl("accounts upsert bad --employees -5");
  EXPECT_EQ(refused.exit_code, 4) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("employee_count"));
  CsctlRun help = Csctl("health get --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("usage: csctl health get ACCOUNT"));
}

TEST_F(CsctlTest, UnreachableServiceIsExitFive) {
  const std::string command =
      absl::StrCat(CS_CSCTL, " accounts list --health-addr 127.0.0.1:1 --timeout 1s >/dev/null 2>&1");
  const int status = std::system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 5);
}

TEST_F(CsctlTest, AddressFromConfigFileWhenNoFlagOrEnvironment) {
  const std::string config = absl::StrCat(::testing::TempDir(), "/csctl-config-", getpid());
  {
    FILE* f = std::fopen(config.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fprintf(f, "# test\nhealth_addr = 127.0.0.1:%d\n", service_->port());
    std::fclose(f);
  }
  ASSERT_EQ(Csctl("accounts upsert cfg --employees 20").exit_code, 0);
  const std::string command =
      absl::StrCat("CSCTL_CONFIG=", config, " ", CS_CSCTL, " accounts get cfg >/dev/null 2>&1");
  EXPECT_EQ(WEXITSTATUS(std::system(command.c_str())), 0);
}

}  // namespace
}  // namespace cs::testing
