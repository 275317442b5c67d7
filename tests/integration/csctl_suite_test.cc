// csctl against the three real services (health, playbooks, expansion), each on its
// own throwaway schema: the playbooks and expansion commands, the cross-service
// report, and configuration as code (apply / diff / get round trip, bad files).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/testing/test_db.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

namespace ev1 = ::cs::expansion::v1;

using CsctlRun = CommandRun;

class CsctlSuiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(health_db_, "csh");
    CS_TEST_DATABASE_OR_SKIP(playbooks_db_, "csp");
    CS_TEST_DATABASE_OR_SKIP(expansion_db_, "cse");
    const std::string tag = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    health_ = std::make_unique<RunningService>("health", CS_HEALTH_SERVER, health_db_->uri(), tag);
    expansion_ = std::make_unique<RunningService>(
        "expansion", CS_EXPANSION_SERVER, expansion_db_->uri(), tag,
        std::vector<std::string>{absl::StrCat("--health_addr=", health_->address())});
    playbooks_ = std::make_unique<RunningService>(
        "playbooks", CS_PLAYBOOKS_SERVER, playbooks_db_->uri(), tag,
        std::vector<std::string>{absl::StrCat("--health_addr=", health_->address()),
                                 absl::StrCat("--expansion_addr=", expansion_->address()),
                                 "--consume_interval=100ms", "--sweep_interval=200ms"});
    for (RunningService* s : {health_.get(), expansion_.get(), playbooks_.get()}) {
      ASSERT_TRUE(s->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << s->Log();
    }
    dir_ = absl::StrCat(::testing::TempDir(), "/csctl-suite-", getpid(), "-", tag);
    ASSERT_EQ(std::system(absl::StrCat("rm -rf ", dir_, " && mkdir -p ", dir_).c_str()), 0);
  }

  void TearDown() override {
    for (RunningService* s : {playbooks_.get(), expansion_.get(), health_.get()}) {
      if (s == nullptr) continue;
      s->process().Signal(SIGTERM);
      s->process().WaitExit(absl::Seconds(20));
    }
  }

  CsctlRun Csctl(const std::string& args) {
    const std::string command = absl::StrCat(
        CS_CSCTL, " ", args, " --health-addr ", health_->address(), " --playbooks-addr ",
        playbooks_->address(), " --expansion-addr ", expansion_->address(), " --timeout 10s");
    return RunCommand(command);
  }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << text;
    return path;
  }

  // Polls `csctl args` until its output contains `want` (or 20 s pass).
  CsctlRun WaitFor(const std::string& args, const std::string& want) {
    CsctlRun run;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      run = Csctl(args);
      if (run.exit_code == 0 && run.output.find(want) != std::string::npos) return run;
      absl::SleepFor(absl::Milliseconds(200));
    }
    ADD_FAILURE() << "csctl " << args << " never showed '" << want << "': " << run.output
                  << playbooks_->Log();
    return run;
  }

  static std::string FirstMatch(const std::string& text, const std::string& pattern) {
    std::smatch m;
    if (!std::regex_search(text, m, std::regex(pattern)) || m.size() < 2) return "";
    return m[1];
  }

  std::unique_ptr<TestDatabase> health_db_;
  std::unique_ptr<TestDatabase> playbooks_db_;
  std::unique_ptr<TestDatabase> expansion_db_;
  std::unique_ptr<RunningService> health_;
  std::unique_ptr<RunningService> expansion_;
  std::unique_ptr<RunningService> playbooks_;
  std::string dir_;
};

TEST_F(CsctlSuiteTest, ApplyDiffGetRoundTrip) {
  // Preview: nothing exists yet.
  CsctlRun diff = Csctl(absl::StrCat("diff -f ", CS_CSCTL_EXAMPLES));
  ASSERT_EQ(diff.exit_code, 0) << diff.output;
  EXPECT_THAT(diff.output, HasSubstr("Playbook/enterprise-red-recovery would create"));
  EXPECT_THAT(diff.output, HasSubstr("diff: 5 to create, 0 to update, 0 unchanged"));
  EXPECT_EQ(Csctl("get playbooks -o yaml").output.find("enterprise-red-recovery"), std::string::npos);

  CsctlRun applied = Csctl(absl::StrCat("apply -f ", CS_CSCTL_EXAMPLES));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_THAT(applied.output, HasSubstr("EscalationChain/enterprise created"));
  EXPECT_THAT(applied.output, HasSubstr("Scorecard/smb-usage-first created"));
  EXPECT_THAT(applied.output, HasSubstr("EventMapping/Session Ended created"));
  EXPECT_THAT(applied.output, HasSubstr("applied: 5 to create, 0 to update, 0 unchanged"));

  // Applying again writes nothing: every object is unchanged, versions stay put.
  CsctlRun again = Csctl(absl::StrCat("apply -f ", CS_CSCTL_EXAMPLES));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("applied: 0 to create, 0 to update, 5 unchanged"));
  EXPECT_THAT(Csctl("get playbooks").output, ::testing::ContainsRegex("enterprise-red-recovery +1 "));

  // What get exports, apply reads back as unchanged, kind by kind.
  for (const char* kind : {"playbooks", "scorecards", "event-mappings", "escalation-chains"}) {
    CsctlRun exported = Csctl(absl::StrCat("get ", kind, " -o yaml"));
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    const std::string path = Write(absl::StrCat(kind, ".yaml"), exported.output);
    CsctlRun back = Csctl(absl::StrCat("apply -f ", path));
    ASSERT_EQ(back.exit_code, 0) << kind << ": " << back.output << "\n" << exported.output;
    EXPECT_THAT(back.output, HasSubstr(" 0 to create, 0 to update,")) << kind << ": " << back.output;
    EXPECT_THAT(back.output, Not(HasSubstr("updated"))) << back.output;
  }
  EXPECT_THAT(Csctl("get escalation-chains -o yaml").output,
              HasSubstr("chain_id: enterprise\nlevels:\n  - role: ROLE_CSM\n"));
  EXPECT_THAT(Csctl("get event-mappings -o yaml").output,
              HasSubstr("kind: EventMapping\nspec:\n  event_name: Report Exported\n"));

  // A change: diff names the field, apply updates only that object (version + 1).
  std::ifstream in(absl::StrCat(CS_CSCTL_EXAMPLES, "/playbooks.yaml"));
  std::stringstream text;
  text << in.rdbuf();
  const std::string changed = Write(
      "changed.yaml", absl::StrReplaceAll(text.str(), {{"holdout_percent: 10", "holdout_percent: 20"}}));
  CsctlRun preview = Csctl(absl::StrCat("diff -f ", changed));
  ASSERT_EQ(preview.exit_code, 0) << preview.output;
  EXPECT_THAT(preview.output, HasSubstr("Playbook/enterprise-red-recovery would update"));
  EXPECT_THAT(preview.output, HasSubstr("holdout_percent: 10 -> 20"));
  EXPECT_THAT(Csctl("get playbooks -o json").output, HasSubstr("\"holdout_percent\": 10"));
  CsctlRun update = Csctl(absl::StrCat("apply -f ", changed));
  ASSERT_EQ(update.exit_code, 0) << update.output;
  EXPECT_THAT(update.output, HasSubstr("Playbook/enterprise-red-recovery updated"));
  EXPECT_THAT(Csctl("get playbooks -o json").output, HasSubstr("\"holdout_percent\": 20"));
  EXPECT_THAT(Csctl("get playbooks").output, ::testing::ContainsRegex("enterprise-red-recovery +2 "));
}

TEST_F(CsctlSuiteTest, BadFilesAreReportedWithFileAndLineAndNothingIsWritten) {
  const std::string bad_yaml = Write("bad.yaml",
                                     "kind: EscalationChain\nchain_id: ok-chain\nlevels:\n"
                                     "  - role: ROLE_CSM\n---\nkind: Playbook\nplaybook_id: p\n"
                                     "name: x\n  steps: oops\n");
  CsctlRun run = Csctl(absl::StrCat("apply -f ", bad_yaml));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr(absl::StrCat(bad_yaml, ": line 9: unexpected indentation")));
  // The good document in the same file was not applied either.
  EXPECT_EQ(Csctl("get escalation-chains -o yaml").output.find("ok-chain"), std::string::npos);

  const std::string bad_field = Write("field.yaml", "\n# a comment\nkind: Playbook\nplaybook_id: p\nstepz: []\n");
  run = Csctl(absl::StrCat("diff -f ", bad_field));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr(absl::StrCat(bad_field, ": line 3: stepz: no such field in Playbook")));

  // Well-formed but refused by the service: weights that do not sum to 100.
  const std::string refused = Write("refused.yaml",
                                    "kind: Scorecard\nscorecard_id: lopsided\ncomponents:\n"
                                    "  - component: COMPONENT_PRODUCT_USAGE\n    weight: 90\n"
                                    "    measure:\n      measure: logins_per_week\n      lookback_days: 30\n"
                                    "      direction: DIRECTION_HIGHER_IS_BETTER\n      zero_at: 0\n"
                                    "      hundred_at: 10\nbands:\n  green_above: 70\n  red_below: 40\n");
  run = Csctl(absl::StrCat("apply -f ", refused));
  EXPECT_EQ(run.exit_code, 4) << run.output;
  EXPECT_THAT(run.output, HasSubstr(absl::StrCat(refused, ": line 1: Scorecard/lopsided:")));
  EXPECT_THAT(run.output, HasSubstr("weights sum to 90"));
  EXPECT_THAT(Csctl("get scorecards").output, Not(HasSubstr("lopsided")));

  EXPECT_EQ(Csctl("apply").exit_code, 2);
  EXPECT_EQ(Csctl("get widgets").exit_code, 2);
  EXPECT_EQ(Csctl(absl::StrCat("apply -f ", dir_, "/missing.yaml")).exit_code, 2);
}

TEST_F(CsctlSuiteTest, RunsTasksEscalationsAndProgramMetrics) {
  ASSERT_EQ(Csctl("accounts upsert acme --name Acme --employees 2500 --owner csm-ann").exit_code, 0);
  // The onboarding playbook opens from the health event stream.
  CsctlRun runs = WaitFor("runs --account acme", "onboarding-enterprise");
  EXPECT_THAT(runs.output, HasSubstr("RUN"));
  EXPECT_THAT(runs.output, HasSubstr("active"));
  const std::string json = Csctl("runs --account acme --state active -o json").output;
  const std::string run_id = FirstMatch(json, "\"run_id\": \"([^\"]+)\"");
  ASSERT_FALSE(run_id.empty()) << json;
  EXPECT_THAT(Csctl("runs --account acme --state failed").output, Not(HasSubstr(run_id)));

  CsctlRun run = Csctl(absl::StrCat("runs get ", run_id));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("TASK"));
  EXPECT_THAT(run.output, HasSubstr("csm-ann"));
  EXPECT_EQ(Csctl("runs get no-such-run").exit_code, 3);

  const std::string tasks_json = Csctl("tasks --account acme --status open --assignee csm-ann -o json").output;
  std::vector<std::string> task_ids;
  std::regex id_re("\"task_id\": \"([^\"]+)\"");
  for (std::sregex_iterator it(tasks_json.begin(), tasks_json.end(), id_re), end; it != end; ++it) {
    task_ids.push_back((*it)[1]);
  }
  ASSERT_GE(task_ids.size(), 2u) << tasks_json;

  EXPECT_EQ(Csctl(absl::StrCat("tasks complete ", task_ids[0])).exit_code, 2);  // no --outcome
  CsctlRun done = Csctl(absl::StrCat("tasks complete ", task_ids[0], " --outcome 'kickoff held' --note 'sponsor joined'"));
  ASSERT_EQ(done.exit_code, 0) << done.output;
  EXPECT_THAT(done.output, HasSubstr(absl::StrCat("completed ", task_ids[0])));
  // Completing it again is refused by the service.
  EXPECT_EQ(Csctl(absl::StrCat("tasks complete ", task_ids[0], " --outcome again")).exit_code, 4);
  CsctlRun completed = Csctl("tasks --account acme --status completed -o yaml");
  EXPECT_THAT(completed.output, HasSubstr("outcome: kickoff held"));

  // Thirty days ahead, on the hour (the service allows up to 90).
  const absl::Time until = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 30)) / 3600 * 3600);
  CsctlRun snoozed = Csctl(absl::StrCat("tasks snooze ", task_ids[1], " --until ",
                                        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", until, absl::UTCTimeZone())));
  ASSERT_EQ(snoozed.exit_code, 0) << snoozed.output;
  EXPECT_THAT(snoozed.output,
              HasSubstr(absl::StrCat("until ", absl::FormatTime("%Y-%m-%d %H:%M", until, absl::UTCTimeZone()))));
  EXPECT_EQ(Csctl(absl::StrCat("tasks snooze ", task_ids[1], " --until 2099-01-01")).exit_code, 4);
  EXPECT_EQ(Csctl(absl::StrCat("tasks snooze ", task_ids[1], " --until tomorrow")).exit_code, 2);
  EXPECT_THAT(Csctl("tasks --account acme --status snoozed").output, HasSubstr(task_ids[1]));
  // Nothing of this account is overdue (all due in the future).
  EXPECT_THAT(Csctl("tasks --account acme --overdue").output, Not(HasSubstr(task_ids[1])));

  CsctlRun escalations = Csctl("escalations");
  EXPECT_EQ(escalations.exit_code, 0) << escalations.output;
  EXPECT_THAT(escalations.output, HasSubstr("LEVEL"));
  EXPECT_EQ(Csctl(absl::StrCat("escalations --task ", task_ids[0], " -o json")).exit_code, 0);

  CsctlRun metrics = Csctl("metrics program --from 2020-01-01 -o json");
  ASSERT_EQ(metrics.exit_code, 0) << metrics.output;
  EXPECT_THAT(metrics.output, HasSubstr("\"overall\""));
  EXPECT_THAT(metrics.output, HasSubstr("\"tasks_completed\": \"1\""));
  EXPECT_THAT(Csctl("metrics program").output, HasSubstr("SLA"));
}

TEST_F(CsctlSuiteTest, PipelineOpportunitiesRetentionAndReport) {
  ASSERT_EQ(Csctl("accounts upsert acme --name Acme --employees 2500 --owner csm-ann").exit_code, 0);
  auto stub = ev1::ExpansionService::NewStub(expansion_->channel());
  for (int i = 0; i < 2; ++i) {
    ev1::CreateOpportunityRequest create;
    create.set_request_id(absl::StrCat("opp-", i));
    ev1::Opportunity* o = create.mutable_opportunity();
    o->set_account_id("acme");
    o->set_kind(i == 0 ? ev1::OPPORTUNITY_KIND_SEAT_EXPANSION : ev1::OPPORTUNITY_KIND_ADD_ON);
    o->set_source(ev1::OPPORTUNITY_SOURCE_MANUAL);
    o->set_tier(ev1::TIER_ENTERPRISE);
    o->set_title(absl::StrCat("opportunity ", i));
    o->mutable_amount()->set_minor_units(i == 0 ? 5000000 : 1000000);
    o->mutable_amount()->set_currency_code("USD");
    o->set_probability_percent(50);
    ev1::CreateOpportunityResponse created;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = stub->CreateOpportunity(&context, create, &created);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  CsctlRun opportunities = Csctl("opportunities --account acme");
  ASSERT_EQ(opportunities.exit_code, 0) << opportunities.output;
  EXPECT_THAT(opportunities.output, HasSubstr("seat-expansion"));
  EXPECT_THAT(opportunities.output, HasSubstr("USD 50000.00"));
  EXPECT_THAT(Csctl("opportunities --stage closed-won").output, Not(HasSubstr("acme")));
  EXPECT_EQ(Csctl("opportunities --stage sideways").exit_code, 2);

  // 60 000 open, 30 000 weighted at 50 %.
  CsctlRun pipeline = Csctl("pipeline");
  ASSERT_EQ(pipeline.exit_code, 0) << pipeline.output;
  EXPECT_THAT(pipeline.output, ::testing::ContainsRegex("open +all +2 +USD 60000.00 +USD 30000.00"));
  EXPECT_THAT(pipeline.output, ::testing::ContainsRegex("kind +add-on +1 +USD 10000.00"));
  EXPECT_THAT(Csctl("pipeline -o json").output, HasSubstr("\"by_stage\""));

  CsctlRun retention = Csctl("metrics retention --from 2026-01 --to 2026-06");
  ASSERT_EQ(retention.exit_code, 0) << retention.output;
  EXPECT_THAT(retention.output, HasSubstr("2026-01 to 2026-06 (6 months)"));
  EXPECT_THAT(retention.output, HasSubstr("NRR"));
  EXPECT_EQ(Csctl("metrics retention --from 2026-06 --to 2026-01").exit_code, 2);
  EXPECT_EQ(Csctl("metrics expansion -o json").exit_code, 0);

  CsctlRun report = Csctl("report");
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_THAT(report.output, HasSubstr("HEALTH BANDS (target 80 % green, 15 % yellow, 5 % red)"));
  EXPECT_THAT(report.output, HasSubstr("MOST AT RISK"));
  EXPECT_THAT(report.output, HasSubstr("SLA attainment"));
  EXPECT_THAT(report.output, HasSubstr("open pipeline: USD 60000.00 total, USD 30000.00 weighted (2 opportunities)"));
  EXPECT_THAT(report.output, HasSubstr("NRR"));
  CsctlRun report_json = Csctl("report -o json");
  ASSERT_EQ(report_json.exit_code, 0) << report_json.output;
  for (const char* key : {"\"bands\"", "\"top_at_risk\"", "\"program\"", "\"pipeline\"",
                          "\"retention_last_quarter\""}) {
    EXPECT_THAT(report_json.output, HasSubstr(key));
  }
  EXPECT_THAT(report_json.output, HasSubstr("\"minor_units\": \"6000000\""));
}

TEST_F(CsctlSuiteTest, EveryCommandHasHelp) {
  for (const char* command : {"runs", "runs get", "tasks", "tasks complete", "tasks snooze", "escalations",
                              "metrics program", "pipeline", "opportunities", "metrics retention",
                              "metrics expansion", "report", "apply", "diff", "get"}) {
    CsctlRun help = Csctl(absl::StrCat(command, " --help"));
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_THAT(help.output, HasSubstr(absl::StrCat("usage: csctl ", command, " "))) << command;
  }
}

}  // namespace
}  // namespace cs::testing
