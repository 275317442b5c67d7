// The suite end to end: the real health, playbooks and expansion binaries, each on
// its own throwaway schema of the real MariaDB, driven only through their public
// gRPC APIs. Time is real (no clock back door): scores come from signals dated in
// the past, SLAs are seconds long, and every wait polls against a deadline.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/test_db.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

namespace hv1 = ::cs::health::v1;
namespace pv1 = ::cs::playbooks::v1;
namespace ev1 = ::cs::expansion::v1;

constexpr absl::Duration kWait = absl::Seconds(30);

// Polls `done` every 100 ms until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& done, absl::Duration timeout = kWait) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
}

void SetMonth(absl::CivilMonth m, cs::common::v1::Date* out) {
  out->set_year(static_cast<int32_t>(m.year()));
  out->set_month(m.month());
  out->set_day(1);
}

// One deployment of the suite: `replicas` copies of every service, the copies of a
// service sharing its schema. Replica i of playbooks reads health replica i and
// writes to expansion replica i, so two replicas exercise both paths at once.
class Deployment {
 public:
  Deployment(int replicas, const std::string& tag) : tag_(tag), replicas_(replicas) {}

  // Creates the schemas and starts everything; false (with a failure recorded)
  // when a service did not come up.
  bool Start() {
    health_db_ = TestDatabase::Create("e2eh");
    playbooks_db_ = TestDatabase::Create("e2ep");
    expansion_db_ = TestDatabase::Create("e2ee");
    if (health_db_ == nullptr || playbooks_db_ == nullptr || expansion_db_ == nullptr) {
      ADD_FAILURE() << "no test database";
      return false;
    }
    for (int i = 0; i < replicas_; ++i) {
      health_.push_back(std::make_unique<RunningService>("health", CS_HEALTH_SERVER,
                                                         health_db_->uri(), Tag(i)));
    }
    for (int i = 0; i < replicas_; ++i) {
      expansion_.push_back(std::make_unique<RunningService>(
          "expansion", CS_EXPANSION_SERVER, expansion_db_->uri(), Tag(i),
          std::vector<std::string>{absl::StrCat("--health_addr=", health_[i]->address()),
                                   "--health_timeout=2s"}));
    }
    for (int i = 0; i < replicas_; ++i) StartPlaybooks(i, Tag(i));
    for (auto* group : {&health_, &expansion_, &playbooks_}) {
      for (auto& s : *group) {
        if (!s->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) {
          ADD_FAILURE() << "a service did not start:\n" << s->Log();
          return false;
        }
      }
    }
    return true;
  }

  // (Re)starts playbooks replica i against health and expansion replica i.
  void StartPlaybooks(int i, const std::string& tag) {
    auto p = std::make_unique<RunningService>(
        "playbooks", CS_PLAYBOOKS_SERVER, playbooks_db_->uri(), tag,
        std::vector<std::string>{absl::StrCat("--health_addr=", health_[i]->address()),
                                 absl::StrCat("--expansion_addr=", expansion_[i]->address()),
                                 "--consume_interval=100ms", "--sweep_interval=200ms",
                                 "--peer_timeout=2s"});
    if (static_cast<int>(playbooks_.size()) <= i) {
      playbooks_.push_back(std::move(p));
    } else {
      playbooks_[i] = std::move(p);
    }
  }

  // SIGTERM to everything still running at once (each drains on its own, so
  // waiting in turn would add the drains up); each must exit cleanly.
  void Stop() {
    std::vector<RunningService*> running;
    for (auto* group : {&playbooks_, &expansion_, &health_}) {
      for (auto& s : *group) {
        if (s == nullptr || !s->process().running()) continue;
        s->process().Signal(SIGTERM);
        running.push_back(s.get());
      }
    }
    for (RunningService* s : running) {
      EXPECT_EQ(s->process().WaitExit(absl::Seconds(20)), 0) << s->Log();
    }
  }

  std::unique_ptr<hv1::AccountHealthService::Stub> Health(int i = 0) {
    return hv1::AccountHealthService::NewStub(health_[i]->channel());
  }
  std::unique_ptr<pv1::PlaybookService::Stub> Playbooks(int i = 0) {
    return pv1::PlaybookService::NewStub(playbooks_[i]->channel());
  }
  std::unique_ptr<ev1::ExpansionService::Stub> Expansion(int i = 0) {
    return ev1::ExpansionService::NewStub(expansion_[i]->channel());
  }
  RunningService& playbooks(int i = 0) { return *playbooks_[i]; }

  std::string Logs() {
    std::string out;
    for (auto* group : {&health_, &playbooks_, &expansion_}) {
      for (auto& s : *group) {
        if (s != nullptr) absl::StrAppend(&out, "\n---- log ----\n", s->Log());
      }
    }
    return out;
  }

 private:
  std::string Tag(int i) const { return absl::StrCat(tag_, "-r", i); }

  std::string tag_;
  int replicas_;
  std::unique_ptr<TestDatabase> health_db_, playbooks_db_, expansion_db_;
  std::vector<std::unique_ptr<RunningService>> health_, expansion_, playbooks_;
};

// ---------------------------------------------------------------------------
// Health-side drivers.

void UpsertAccount(hv1::AccountHealthService::Stub* health, const std::string& account_id,
                   int employees, const std::string& owner = "csm-e2e") {
  hv1::UpsertAccountRequest req;
  req.set_request_id(absl::StrCat("upsert-", account_id));
  hv1::Account* a = req.mutable_account();
  a->set_account_id(account_id);
  a->set_name(absl::StrCat("Account ", account_id));
  a->set_employee_count(employees);
  a->set_owner_id(owner);
  a->set_industry(hv1::INDUSTRY_SAAS);
  hv1::UpsertAccountResponse resp;
  grpc::Status s = health->UpsertAccount(Context().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << account_id << ": " << s.error_message();
  EXPECT_TRUE(resp.created()) << account_id;
}

// Builds signals for one account; event ids are unique per account.
class Signals {
 public:
  // `prefix` keeps the event ids of separate batches for one account apart.
  explicit Signals(std::string account_id, std::string prefix = "")
      : account_id_(std::move(account_id)), prefix_(std::move(prefix)) {}

  // `count` signals of `kind`, spread over the `days` days before now (1 h back
  // at the newest, so none is in the future).
  Signals& Add(hv1::SignalKind kind, int count, int days = 27, int from_days_ago = 0,
               const std::string& feature_prefix = "") {
    for (int i = 0; i < count; ++i) {
      hv1::Signal* s = request_.add_signals();
      s->set_event_id(absl::StrCat(prefix_, hv1::SignalKind_Name(kind), "-", next_++));
      s->set_account_id(account_id_);
      s->set_kind(kind);
      const absl::Duration back = absl::Hours(24) * (from_days_ago + (i % days)) + absl::Hours(1);
      s->mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now() - back));
      if (!feature_prefix.empty()) s->set_feature(absl::StrCat(feature_prefix, i));
    }
    return *this;
  }

  // A healthy account by DOMAIN's default scorecard: daily logins, ten distinct
  // features, paid invoices and regular engagement.
  Signals& Healthy() {
    return Add(hv1::SIGNAL_KIND_LOGIN, 90)
        .Add(hv1::SIGNAL_KIND_FEATURE_USED, 10, 27, 0, "feature-")
        .Add(hv1::SIGNAL_KIND_PAYMENT_SUCCEEDED, 40, 300)
        .Add(hv1::SIGNAL_KIND_EMAIL_OPEN, 12);
  }

  void Send(hv1::AccountHealthService::Stub* health) {
    hv1::RecordSignalsResponse resp;
    grpc::Status s = health->RecordSignals(Context().get(), request_, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.rejected(), 0) << resp.DebugString();
    request_.clear_signals();
  }

  // The batch as built so far (to send it again: same event ids, all duplicates).
  const hv1::RecordSignalsRequest& request() const { return request_; }

 private:
  std::string account_id_;
  std::string prefix_;
  int next_ = 0;
  hv1::RecordSignalsRequest request_;
};

hv1::Health GetHealth(hv1::AccountHealthService::Stub* health, const std::string& account_id) {
  hv1::GetHealthRequest req;
  req.set_account_id(account_id);
  hv1::GetHealthResponse resp;
  grpc::Status s = health->GetHealth(Context().get(), req, &resp);
  EXPECT_TRUE(s.ok()) << account_id << ": " << s.error_message();
  return resp.health();
}

// An account that health scores GREEN, then declines to RED with alerts open.
// DOMAIN's bands: GREEN above 75, RED below 60; the default scorecard weighs usage
// 25, adoption 20, support 15, payment 15, engagement 15, expansion 10. Adding
// signals can only lower support (tickets) and payment (failures), 30 points at
// most, so the account starts just inside GREEN: daily logins, four features,
// a paid invoice, no tickets, regular engagement = 25 + 8 + 15 + 15 + 15 = 78.
// Invoices then fail and tickets pile up: 78 - 30 = 48, RED. (Health publishes
// BAND_CHANGED only between two scores, hence a scored start.)
void DriveGreenThenRed(hv1::AccountHealthService::Stub* health, const std::string& account_id,
                       int employees) {
  UpsertAccount(health, account_id, employees);
  Signals(account_id, "start-")
      .Add(hv1::SIGNAL_KIND_LOGIN, 90)
      .Add(hv1::SIGNAL_KIND_FEATURE_USED, 4, 27, 0, "feature-")
      .Add(hv1::SIGNAL_KIND_PAYMENT_SUCCEEDED, 1, 1, 40)
      .Add(hv1::SIGNAL_KIND_EMAIL_OPEN, 12)
      .Send(health);
  const hv1::Health start = GetHealth(health, account_id);
  ASSERT_EQ(start.band(), hv1::BAND_GREEN) << start.DebugString();
  Signals(account_id, "decline-")
      .Add(hv1::SIGNAL_KIND_PAYMENT_FAILED, 9, 20)
      .Add(hv1::SIGNAL_KIND_TICKET_OPENED, 40, 25)
      .Send(health);
  const hv1::Health h = GetHealth(health, account_id);
  ASSERT_EQ(h.band(), hv1::BAND_RED) << h.DebugString();
}

// The decline reversed as far as signals can: all ten features, many paid
// invoices and referrals (the tickets stay in the 90-day window): 25 + 20 + 0 +
// ~12.5 + 15 + 10, GREEN.
void Recover(hv1::AccountHealthService::Stub* health, const std::string& account_id) {
  Signals(account_id, "recover-")
      .Add(hv1::SIGNAL_KIND_FEATURE_USED, 10, 27, 0, "feature-")
      .Add(hv1::SIGNAL_KIND_PAYMENT_SUCCEEDED, 100, 300)
      .Add(hv1::SIGNAL_KIND_REFERRAL, 3, 3)
      .Send(health);
  const hv1::Health h = GetHealth(health, account_id);
  ASSERT_EQ(h.band(), hv1::BAND_GREEN) << h.DebugString();
}

// ---------------------------------------------------------------------------
// Playbooks-side readers.

std::vector<pv1::Run> ListRuns(pv1::PlaybookService::Stub* pb, const std::string& account_id,
                               const std::string& playbook_id = "") {
  std::vector<pv1::Run> out;
  pv1::ListRunsRequest req;
  req.set_account_id(account_id);
  req.set_playbook_id(playbook_id);
  req.set_page_size(1000);
  while (true) {
    pv1::ListRunsResponse resp;
    grpc::Status s = pb->ListRuns(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) return out;
    out.insert(out.end(), resp.runs().begin(), resp.runs().end());
    if (resp.next_page_token().empty()) return out;
    req.set_page_token(resp.next_page_token());
  }
}

std::vector<pv1::Task> ListTasks(pv1::PlaybookService::Stub* pb, const std::string& run_id,
                                 const std::string& account_id = "") {
  std::vector<pv1::Task> out;
  pv1::ListTasksRequest req;
  req.set_run_id(run_id);
  req.set_account_id(account_id);
  req.set_page_size(1000);
  while (true) {
    pv1::ListTasksResponse resp;
    grpc::Status s = pb->ListTasks(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) return out;
    out.insert(out.end(), resp.tasks().begin(), resp.tasks().end());
    if (resp.next_page_token().empty()) return out;
    req.set_page_token(resp.next_page_token());
  }
}

std::vector<pv1::Run> RunsOf(const std::vector<pv1::Run>& runs, const std::string& playbook_id) {
  std::vector<pv1::Run> out;
  for (const pv1::Run& r : runs) {
    if (r.playbook_id() == playbook_id) out.push_back(r);
  }
  return out;
}

pv1::Playbook GetPlaybook(pv1::PlaybookService::Stub* pb, const std::string& playbook_id) {
  pv1::GetPlaybookRequest req;
  req.set_playbook_id(playbook_id);
  pv1::GetPlaybookResponse resp;
  grpc::Status s;
  // The service seeds DOMAIN's playbooks on its first sweep after start.
  Eventually([&] {
    s = pb->GetPlaybook(Context().get(), req, &resp);
    return s.ok();
  });
  EXPECT_TRUE(s.ok()) << playbook_id << ": " << s.error_message();
  return resp.playbook();
}

// A test playbook on BAND_ENTERED RED: one escalation step due at once whose SLA
// is `sla`, and a follow-up; it succeeds when its tasks are completed.
grpc::Status CreateRedPlaybook(pv1::PlaybookService::Stub* pb, const std::string& playbook_id,
                               absl::Duration sla) {
  pv1::CreatePlaybookRequest req;
  req.set_request_id(absl::StrCat("create-", playbook_id));
  pv1::Playbook* p = req.mutable_playbook();
  p->set_playbook_id(playbook_id);
  p->set_name(absl::StrCat("E2E ", playbook_id));
  p->mutable_trigger()->set_kind(pv1::TRIGGER_KIND_BAND_ENTERED);
  p->mutable_trigger()->set_band(pv1::BAND_RED);
  pv1::Step* call = p->add_steps();
  call->set_title("Executive call with the sponsor");
  call->set_kind(pv1::STEP_KIND_ESCALATION);
  call->set_role(pv1::ROLE_CSM);
  call->mutable_sla()->set_seconds(absl::ToInt64Seconds(sla));
  pv1::Step* plan = p->add_steps();
  plan->set_title("Recovery plan");
  plan->set_kind(pv1::STEP_KIND_MEETING);
  plan->set_role(pv1::ROLE_CSM);
  plan->mutable_due_offset()->set_seconds(3600);
  p->mutable_exit_criteria()->set_green_days(0);
  p->mutable_exit_criteria()->set_fail_on_churn(true);
  pv1::CreatePlaybookResponse resp;
  return pb->CreatePlaybook(Context().get(), req, &resp);
}

pv1::ProgramMetrics Metrics(pv1::PlaybookService::Stub* pb) {
  pv1::GetProgramMetricsRequest req;
  pv1::GetProgramMetricsResponse resp;
  grpc::Status s = pb->GetProgramMetrics(Context().get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.overall();
}

// Every ACCOUNT_UPSERTED event of health's log, by account (the first one: creation).
std::map<std::string, int64_t> AccountCreatedSequences(hv1::AccountHealthService::Stub* health) {
  std::map<std::string, int64_t> out;
  hv1::ListEventsRequest req;
  req.set_page_size(1000);
  while (true) {
    hv1::ListEventsResponse resp;
    grpc::Status s = health->ListEvents(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok() || resp.events().empty()) return out;
    for (const hv1::Event& e : resp.events()) {
      if (e.kind() == hv1::EVENT_KIND_ACCOUNT_UPSERTED) out.emplace(e.account_id(), e.sequence());
    }
    req.set_after_sequence(resp.events(resp.events_size() - 1).sequence());
  }
}

std::vector<ev1::Opportunity> ListOpportunities(ev1::ExpansionService::Stub* ex,
                                                const std::string& account_id) {
  ev1::ListOpportunitiesRequest req;
  req.set_account_id(account_id);
  req.mutable_page()->set_page_size(1000);
  ev1::ListOpportunitiesResponse resp;
  grpc::Status s = ex->ListOpportunities(Context().get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return {resp.opportunities().begin(), resp.opportunities().end()};
}

class SuiteE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Skips (or fails under scripts/test) without a database.
    std::unique_ptr<TestDatabase> probe;
    CS_TEST_DATABASE_OR_SKIP(probe, "e2eprobe");
    started_ = absl::Now();
  }

  void TearDown() override {
    if (suite_ != nullptr) suite_->Stop();
    std::printf("[ e2e time ] %s: %.1f s\n",
                ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                absl::ToDoubleSeconds(absl::Now() - started_));
  }

  // Starts `replicas` copies of each service.
  bool Deploy(int replicas) {
    suite_ = std::make_unique<Deployment>(
        replicas, ::testing::UnitTest::GetInstance()->current_test_info()->name());
    return suite_->Start();
  }

  std::unique_ptr<Deployment> suite_;
  absl::Time started_;
};

// 1. A new account gets its tier's onboarding run with the milestone tasks.
TEST_F(SuiteE2eTest, NewAccountOpensItsTiersOnboardingRun) {
  ASSERT_TRUE(Deploy(1));
  auto health = suite_->Health();
  auto pb = suite_->Playbooks();
  const pv1::Playbook onboarding = GetPlaybook(pb.get(), "onboarding-mid-market");
  ASSERT_GT(onboarding.steps_size(), 0);

  UpsertAccount(health.get(), "onb-1", 400, "csm-olga");  // MID_MARKET by head count
  std::vector<pv1::Run> runs;
  ASSERT_TRUE(Eventually([&] {
    runs = RunsOf(ListRuns(pb.get(), "onb-1"), "onboarding-mid-market");
    return !runs.empty();
  })) << "no onboarding run for onb-1" << suite_->Logs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].tier(), pv1::TIER_MID_MARKET);
  EXPECT_EQ(runs[0].state(), pv1::RUN_STATE_ACTIVE);
  EXPECT_EQ(runs[0].owner_id(), "csm-olga");
  // No other tier's onboarding opened (the tier's cadence may run beside it).
  int onboardings = 0;
  for (const pv1::Run& r : ListRuns(pb.get(), "onb-1")) {
    onboardings += absl::StartsWith(r.playbook_id(), "onboarding-");
  }
  EXPECT_EQ(onboardings, 1);

  const std::vector<pv1::Task> tasks = ListTasks(pb.get(), runs[0].run_id());
  ASSERT_EQ(tasks.size(), static_cast<size_t>(onboarding.steps_size()));
  for (size_t i = 0; i < tasks.size(); ++i) {
    const pv1::Step& step = onboarding.steps(static_cast<int>(tasks[i].step_index()));
    EXPECT_EQ(tasks[i].title(), step.title());
    EXPECT_EQ(tasks[i].assignee_id(), "csm-olga");
    EXPECT_EQ(tasks[i].status(), pv1::TASK_STATUS_OPEN);
    EXPECT_EQ(tasks[i].due_at().seconds() - runs[0].triggered_at().seconds(),
              step.due_offset().seconds())
        << tasks[i].title();
  }
  // The milestones run from the welcome on day 0 to the tier's last milestone.
  EXPECT_EQ(onboarding.steps(0).due_offset().seconds(), 0);
  EXPECT_EQ(onboarding.steps(onboarding.steps_size() - 1).due_offset().seconds(), 30 * 86400);
}

// 2. A decline to RED opens alerts and the RED playbooks; a seconds-long SLA is
// missed and the task climbs the escalation chain.
TEST_F(SuiteE2eTest, DeclineToRedOpensRedPlaybookAndEscalatesMissedSla) {
  ASSERT_TRUE(Deploy(1));
  auto health = suite_->Health();
  auto pb = suite_->Playbooks();
  GetPlaybook(pb.get(), "red-emergency-response");
  // The issue asks for an SLA of seconds, so the escalation is watched live.
  const grpc::Status created = CreateRedPlaybook(pb.get(), "e2e-red-fast", absl::Seconds(2));
  EXPECT_TRUE(created.ok())
      << "playbooks must accept a step SLA of a few seconds so a test can watch a live "
         "escalation without a clock back door: "
      << created.error_message();

  DriveGreenThenRed(health.get(), "decl-1", 400);
  if (HasFatalFailure()) return;

  // Health opened alerts for the decline.
  hv1::ListAlertsRequest alerts_req;
  alerts_req.set_account_id("decl-1");
  alerts_req.set_open_only(true);
  hv1::ListAlertsResponse alerts;
  grpc::Status s = health->ListAlerts(Context().get(), alerts_req, &alerts);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(alerts.alerts_size(), 0) << "no alert opened for the decline";
  std::set<hv1::AlertKind> kinds;
  for (const hv1::Alert& a : alerts.alerts()) kinds.insert(a.kind());
  EXPECT_TRUE(kinds.count(hv1::ALERT_KIND_PAYMENT_FAILURE)) << alerts.DebugString();

  // The RED playbook opens with the executive escalation due within 24 h.
  std::vector<pv1::Run> red;
  ASSERT_TRUE(Eventually([&] {
    red = RunsOf(ListRuns(pb.get(), "decl-1"), "red-emergency-response");
    return !red.empty();
  })) << "no RED run for decl-1" << suite_->Logs();
  ASSERT_EQ(red.size(), 1u);
  EXPECT_EQ(red[0].state(), pv1::RUN_STATE_ACTIVE);
  const std::vector<pv1::Task> red_tasks = ListTasks(pb.get(), red[0].run_id());
  ASSERT_FALSE(red_tasks.empty());
  const pv1::Task* exec = nullptr;
  for (const pv1::Task& t : red_tasks) {
    if (t.kind() == pv1::STEP_KIND_ESCALATION) exec = &t;
  }
  ASSERT_NE(exec, nullptr) << "no executive-escalation task in the RED run";
  EXPECT_LE(exec->due_at().seconds() - red[0].triggered_at().seconds(), 24 * 3600);
  EXPECT_EQ(exec->escalation_level(), 0);

  if (!created.ok()) return;  // the escalation part needs the seconds-long SLA
  std::vector<pv1::Run> fast;
  ASSERT_TRUE(Eventually([&] {
    fast = RunsOf(ListRuns(pb.get(), "decl-1"), "e2e-red-fast");
    return !fast.empty();
  })) << "no run of the test RED playbook" << suite_->Logs();
  ASSERT_EQ(fast.size(), 1u);
  std::vector<pv1::Task> fast_tasks = ListTasks(pb.get(), fast[0].run_id());
  ASSERT_EQ(fast_tasks.size(), 2u);
  const std::string task_id = fast_tasks[0].task_id();
  EXPECT_EQ(fast_tasks[0].assignee_id(), "csm-e2e");

  // Untouched, it climbs CSM -> CS manager -> director -> VP, one level per SLA.
  pv1::Task task;
  ASSERT_TRUE(Eventually([&] {
    pv1::GetTaskRequest req;
    req.set_task_id(task_id);
    pv1::GetTaskResponse resp;
    if (!pb->GetTask(Context().get(), req, &resp).ok()) return false;
    task = resp.task();
    return task.escalation_level() >= 3;
  }, absl::Seconds(20))) << task.DebugString() << suite_->Logs();
  EXPECT_EQ(task.role(), pv1::ROLE_VP_CUSTOMER_SUCCESS);
  pv1::ListEscalationsRequest esc_req;
  esc_req.set_task_id(task_id);
  pv1::ListEscalationsResponse esc;
  s = pb->ListEscalations(Context().get(), esc_req, &esc);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(esc.escalations_size(), 3) << esc.DebugString();
  const pv1::Role chain[] = {pv1::ROLE_CS_MANAGER, pv1::ROLE_DIRECTOR,
                             pv1::ROLE_VP_CUSTOMER_SUCCESS};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(esc.escalations(i).level(), i + 1);
    EXPECT_EQ(esc.escalations(i).to_role(), chain[i]);
    EXPECT_FALSE(esc.escalations(i).reason().empty());
  }
  // The top of the chain is the end: no fourth escalation.
  absl::SleepFor(absl::Seconds(3));
  s = pb->ListEscalations(Context().get(), esc_req, &esc);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(esc.escalations_size(), 3);
  const auto levels = Metrics(pb.get()).open_escalations_by_level();
  EXPECT_TRUE(levels.find(3) != levels.end() && levels.find(3)->second == 1)
      << "one open task at escalation level 3";
}

// 3. Recovery to GREEN: the intervention run ends SUCCEEDED and counts as a success.
TEST_F(SuiteE2eTest, RecoveryToGreenEndsRunSucceededAndCountsSuccess) {
  ASSERT_TRUE(Deploy(1));
  auto health = suite_->Health();
  auto pb = suite_->Playbooks();
  GetPlaybook(pb.get(), "red-emergency-response");
  // An SLA of a minute: the tasks are completed well within it.
  grpc::Status s = CreateRedPlaybook(pb.get(), "e2e-red-recovery", absl::Minutes(1));
  ASSERT_TRUE(s.ok()) << s.error_message();
  const pv1::ProgramMetrics before = Metrics(pb.get());
  EXPECT_EQ(before.risk_runs_succeeded(), 0);

  DriveGreenThenRed(health.get(), "recov-1", 400);
  if (HasFatalFailure()) return;
  std::vector<pv1::Run> runs;
  ASSERT_TRUE(Eventually([&] {
    runs = RunsOf(ListRuns(pb.get(), "recov-1"), "e2e-red-recovery");
    return !runs.empty();
  })) << suite_->Logs();
  ASSERT_EQ(runs.size(), 1u);

  Recover(health.get(), "recov-1");
  if (HasFatalFailure()) return;
  // Playbooks saw the account back in GREEN: the GREEN playbook opened and the
  // RED run's treated cohort counts a recovery.
  ASSERT_TRUE(Eventually([&] {
    return !RunsOf(ListRuns(pb.get(), "recov-1"), "green-expansion-planning").empty();
  })) << "playbooks never saw the account turn GREEN" << suite_->Logs();
  pv1::GetPlaybookLiftRequest lift_req;
  lift_req.set_playbook_id("e2e-red-recovery");
  pv1::GetPlaybookLiftResponse lift;
  s = pb->GetPlaybookLift(Context().get(), lift_req, &lift);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(lift.treated().accounts(), 1);
  EXPECT_EQ(lift.treated().recovered(), 1);

  // The CSM works the run's tasks; the last one ends it SUCCEEDED.
  for (const pv1::Task& t : ListTasks(pb.get(), runs[0].run_id())) {
    pv1::CompleteTaskRequest req;
    req.set_request_id(absl::StrCat("complete-", t.task_id()));
    req.set_task_id(t.task_id());
    req.set_outcome("sponsor re-engaged");
    pv1::CompleteTaskResponse resp;
    s = pb->CompleteTask(Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(resp.task().sla_met());
  }
  pv1::GetRunRequest run_req;
  run_req.set_run_id(runs[0].run_id());
  pv1::GetRunResponse run;
  s = pb->GetRun(Context().get(), run_req, &run);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(run.run().state(), pv1::RUN_STATE_SUCCEEDED) << run.DebugString();

  const pv1::ProgramMetrics after = Metrics(pb.get());
  EXPECT_EQ(after.risk_runs_succeeded(), before.risk_runs_succeeded() + 1);
  EXPECT_GT(after.intervention_success_rate(), 0);
  EXPECT_GE(after.tasks_completed(), 2);
  EXPECT_EQ(after.tasks_within_sla(), after.tasks_completed());
  EXPECT_GT(after.time_to_intervention_mean_hours(), 0);
}

// 4. Expansion interest on a GREEN account: one opportunity; winning it moves NRR.
TEST_F(SuiteE2eTest, GreenExpansionInterestOpensOneOpportunityAndWinMovesNrr) {
  ASSERT_TRUE(Deploy(1));
  auto health = suite_->Health();
  auto ex = suite_->Expansion();

  UpsertAccount(health.get(), "grow-1", 400);
  Signals healthy("grow-1");
  healthy.Healthy().Send(health.get());
  ASSERT_EQ(GetHealth(health.get(), "grow-1").band(), hv1::BAND_GREEN)
      << GetHealth(health.get(), "grow-1").DebugString();
  Signals interest("grow-1", "interest-");
  interest.Add(hv1::SIGNAL_KIND_UPSELL_INTEREST, 1, 1);
  hv1::RecordSignalsRequest replay = interest.request();
  replay.set_request_id("upsell-replay");
  interest.Send(health.get());

  std::vector<ev1::Opportunity> opps;
  ASSERT_TRUE(Eventually([&] {
    opps = ListOpportunities(ex.get(), "grow-1");
    return !opps.empty();
  })) << "no opportunity for grow-1" << suite_->Logs();
  // The same signal delivered again is a duplicate in health and opens nothing.
  hv1::RecordSignalsResponse dup;
  grpc::Status s = health->RecordSignals(Context().get(), replay, &dup);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(dup.duplicates(), 1);
  absl::SleepFor(absl::Seconds(2));  // ten sweeps and consumer polls
  opps = ListOpportunities(ex.get(), "grow-1");
  ASSERT_EQ(opps.size(), 1u);
  const ev1::Opportunity opp = opps[0];
  EXPECT_EQ(opp.source(), ev1::OPPORTUNITY_SOURCE_PLAYBOOK);
  EXPECT_EQ(opp.stage(), ev1::STAGE_IDENTIFIED);
  ASSERT_GT(opp.amount().minor_units(), 0);

  // The account's ledger: a new subscription three months ago, so it is in the
  // cohort of a period starting two months ago.
  const absl::CivilMonth this_month(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()));
  const int64_t start_mrr = 50000;
  ev1::RecordRevenueMovementRequest mv;
  mv.set_request_id("grow-1-new");
  mv.mutable_movement()->set_account_id("grow-1");
  SetMonth(this_month - 3, mv.mutable_movement()->mutable_month());
  mv.mutable_movement()->set_kind(ev1::MOVEMENT_KIND_NEW);
  mv.mutable_movement()->mutable_mrr_change()->set_minor_units(start_mrr);
  mv.mutable_movement()->mutable_mrr_change()->set_currency_code(opp.amount().currency_code());
  ev1::RecordRevenueMovementResponse mv_resp;
  s = ex->RecordRevenueMovement(Context().get(), mv, &mv_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();

  auto nrr = [&]() -> std::optional<double> {
    ev1::GetRetentionMetricsRequest req;
    SetMonth(this_month - 2, req.mutable_period()->mutable_first_month());
    SetMonth(this_month, req.mutable_period()->mutable_last_month());
    req.set_currency_code(opp.amount().currency_code());
    ev1::GetRetentionMetricsResponse resp;
    grpc::Status st = ex->GetRetentionMetrics(Context().get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    if (!resp.overall().has_net_revenue_retention()) return std::nullopt;
    return resp.overall().net_revenue_retention();
  };
  ASSERT_EQ(nrr(), std::optional<double>(1.0));

  // Through the stages to CLOSED_WON (health is asked, and the account is GREEN).
  for (ev1::Stage to : {ev1::STAGE_QUALIFIED, ev1::STAGE_PROPOSAL, ev1::STAGE_NEGOTIATION,
                        ev1::STAGE_CLOSED_WON}) {
    ev1::AdvanceStageRequest req;
    req.set_request_id(absl::StrCat("advance-", ev1::Stage_Name(to)));
    req.set_opportunity_id(opp.opportunity_id());
    req.set_to_stage(to);
    ev1::AdvanceStageResponse resp;
    s = ex->AdvanceStage(Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << ev1::Stage_Name(to) << ": " << s.error_message();
    EXPECT_EQ(resp.opportunity().stage(), to);
    if (to == ev1::STAGE_CLOSED_WON) {
      EXPECT_EQ(resp.revenue_movement().kind(), ev1::MOVEMENT_KIND_EXPANSION);
      EXPECT_EQ(resp.revenue_movement().mrr_change().minor_units(),
                opp.amount().minor_units() / 12);
    }
  }
  const std::optional<double> after = nrr();
  ASSERT_TRUE(after.has_value());
  EXPECT_NEAR(*after,
              static_cast<double>(start_mrr + opp.amount().minor_units() / 12) / start_mrr, 1e-9);
  EXPECT_GT(*after, 1.0);
  // Still exactly one opportunity.
  EXPECT_EQ(ListOpportunities(ex.get(), "grow-1").size(), 1u);
}

// Checks that every account has exactly one onboarding run of `playbook_id`, opened
// by the health event that created it, with exactly the playbook's tasks, and
// that the task stream created each task once.
void ExpectOnboardedExactlyOnce(Deployment& suite, const std::vector<std::string>& accounts,
                                const std::string& playbook_id) {
  auto health = suite.Health();
  auto pb = suite.Playbooks();
  const pv1::Playbook playbook = GetPlaybook(pb.get(), playbook_id);
  const std::map<std::string, int64_t> created = AccountCreatedSequences(health.get());
  const std::vector<pv1::Run> runs = ListRuns(pb.get(), "", playbook_id);
  std::map<std::string, int> per_account;
  for (const pv1::Run& r : runs) ++per_account[r.account_id()];
  EXPECT_EQ(runs.size(), accounts.size());
  std::set<std::string> task_ids;
  for (const std::string& a : accounts) {
    EXPECT_EQ(per_account[a], 1) << a;
    for (const pv1::Run& r : runs) {
      if (r.account_id() != a) continue;
      ASSERT_TRUE(created.count(a)) << a;
      EXPECT_EQ(r.trigger_key(), absl::StrCat("health:", created.at(a))) << a;
      EXPECT_EQ(r.trigger_count(), 1) << a;
      const std::vector<pv1::Task> tasks = ListTasks(pb.get(), r.run_id());
      EXPECT_EQ(tasks.size(), static_cast<size_t>(playbook.steps_size())) << a;
      std::set<int> steps;
      for (const pv1::Task& t : tasks) {
        steps.insert(t.step_index());
        task_ids.insert(t.task_id());
      }
      EXPECT_EQ(steps.size(), tasks.size()) << a << ": a step has two tasks";
    }
  }
  // The task stream: one TASK_CREATED per task, none twice.
  std::map<std::string, int> created_events;
  pv1::ListTaskEventsRequest req;
  req.set_page_size(1000);
  while (true) {
    pv1::ListTaskEventsResponse resp;
    grpc::Status s = pb->ListTaskEvents(Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    if (resp.events().empty()) break;
    for (const pv1::TaskEvent& e : resp.events()) {
      if (e.kind() == pv1::TASK_EVENT_KIND_TASK_CREATED) ++created_events[e.task().task_id()];
    }
    req.set_after_sequence(resp.events(resp.events_size() - 1).sequence());
  }
  for (const std::string& id : task_ids) EXPECT_EQ(created_events[id], 1) << id;
}

// 5. kill -9 of playbooks while health keeps producing: after a restart every
// event is applied exactly once.
TEST_F(SuiteE2eTest, PlaybooksKilledMidStreamAppliesEveryEventOnceAfterRestart) {
  ASSERT_TRUE(Deploy(1));
  auto health = suite_->Health();
  constexpr int kAccounts = 40;
  std::vector<std::string> accounts;
  for (int i = 0; i < kAccounts; ++i) accounts.push_back(absl::StrCat("crash-", i));

  std::atomic<int> produced{0};
  std::thread producer([&] {
    auto h = suite_->Health();
    for (const std::string& a : accounts) {
      UpsertAccount(h.get(), a, 50);  // SMB
      Signals(a).Add(hv1::SIGNAL_KIND_LOGIN, 5).Send(h.get());
      ++produced;
      absl::SleepFor(absl::Milliseconds(25));
    }
  });
  // Kill as soon as playbooks has applied some but not all of the stream.
  auto pb = suite_->Playbooks();
  const bool some = Eventually([&] {
    return !ListRuns(pb.get(), "", "onboarding-smb").empty() || produced >= kAccounts / 2;
  });
  suite_->playbooks().process().Signal(SIGKILL);
  const int at_kill = produced;
  EXPECT_TRUE(some);
  EXPECT_EQ(suite_->playbooks().process().WaitExit(absl::Seconds(5)), 128 + SIGKILL);
  absl::SleepFor(absl::Milliseconds(500));  // health goes on without a consumer
  producer.join();
  EXPECT_LT(at_kill, kAccounts) << "the kill came after the last event";

  suite_->StartPlaybooks(0, "restarted");
  ASSERT_TRUE(suite_->playbooks().WaitFor(HealthStatus::SERVING, absl::Seconds(30)))
      << suite_->playbooks().Log();
  pb = suite_->Playbooks();
  ASSERT_TRUE(Eventually([&] {
    return ListRuns(pb.get(), "", "onboarding-smb").size() >= accounts.size();
  })) << "the restarted consumer did not catch up" << suite_->Logs();
  absl::SleepFor(absl::Seconds(1));  // a late duplicate would show now
  ExpectOnboardedExactlyOnce(*suite_, accounts, "onboarding-smb");
}

// 6. Two replicas of every service: the same outcomes, nothing twice.
TEST_F(SuiteE2eTest, TwoReplicasOfEveryServiceProduceEachOutcomeOnce) {
  ASSERT_TRUE(Deploy(2));
  auto h0 = suite_->Health(0);
  auto h1 = suite_->Health(1);
  auto pb0 = suite_->Playbooks(0);
  auto pb1 = suite_->Playbooks(1);
  GetPlaybook(pb0.get(), "red-emergency-response");
  GetPlaybook(pb1.get(), "red-emergency-response");

  // Accounts written through either health replica.
  std::vector<std::string> accounts;
  for (int i = 0; i < 12; ++i) {
    accounts.push_back(absl::StrCat("dup-", i));
    UpsertAccount((i % 2 == 0 ? h0 : h1).get(), accounts.back(), 50);
  }
  // A GREEN account with expansion interest, through replica 1.
  accounts.push_back("dup-grow");
  UpsertAccount(h1.get(), "dup-grow", 50);
  Signals("dup-grow").Healthy().Send(h1.get());
  Signals("dup-grow", "interest-").Add(hv1::SIGNAL_KIND_UPSELL_INTEREST, 1, 1).Send(h1.get());
  // An account declining to RED, through replica 0.
  accounts.push_back("dup-red");
  DriveGreenThenRed(h0.get(), "dup-red", 50);
  if (HasFatalFailure()) return;

  ASSERT_TRUE(Eventually([&] {
    return ListRuns(pb0.get(), "", "onboarding-smb").size() >= accounts.size() &&
           !RunsOf(ListRuns(pb0.get(), "dup-red"), "red-emergency-response").empty() &&
           !ListOpportunities(suite_->Expansion(0).get(), "dup-grow").empty();
  })) << suite_->Logs();
  absl::SleepFor(absl::Seconds(2));  // both consumers and sweepers go round again
  ExpectOnboardedExactlyOnce(*suite_, accounts, "onboarding-smb");

  // Both replicas of each service tell the same story.
  for (auto* pb : {pb0.get(), pb1.get()}) {
    const std::vector<pv1::Run> red = RunsOf(ListRuns(pb, "dup-red"), "red-emergency-response");
    ASSERT_EQ(red.size(), 1u);
    const std::vector<pv1::Task> tasks = ListTasks(pb, red[0].run_id());
    EXPECT_EQ(tasks.size(),
              static_cast<size_t>(GetPlaybook(pb, "red-emergency-response").steps_size()));
  }
  for (int i = 0; i < 2; ++i) {
    const std::vector<ev1::Opportunity> opps =
        ListOpportunities(suite_->Expansion(i).get(), "dup-grow");
    ASSERT_EQ(opps.size(), 1u) << "expansion replica " << i;
    EXPECT_EQ(opps[0].source(), ev1::OPPORTUNITY_SOURCE_PLAYBOOK);
  }
  // The same RED account seen through both health replicas.
  EXPECT_EQ(GetHealth(h0.get(), "dup-red").band(), GetHealth(h1.get(), "dup-red").band());
  EXPECT_EQ(Metrics(pb0.get()).risk_runs(), Metrics(pb1.get()).risk_runs());
}

}  // namespace
}  // namespace cs::testing
