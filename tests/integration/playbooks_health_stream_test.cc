// Runs the real health_server and playbooks_server, each on its own throwaway
// schema: accounts written to health reach playbooks through the event stream
// (onboarding on creation, win-back on churn), with context read back from health.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/test_db.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

namespace hv1 = ::cs::health::v1;
namespace pv1 = ::cs::playbooks::v1;

class PlaybooksHealthStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(health_db_, "pbsh");
    CS_TEST_DATABASE_OR_SKIP(playbooks_db_, "pbsp");
    const std::string tag = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    health_ = std::make_unique<RunningService>("health", CS_HEALTH_SERVER, health_db_->uri(), tag);
    playbooks_ = std::make_unique<RunningService>(
        "playbooks", CS_PLAYBOOKS_SERVER, playbooks_db_->uri(), tag,
        std::vector<std::string>{absl::StrCat("--health_addr=", health_->address()),
                                 "--consume_interval=100ms", "--sweep_interval=200ms"});
    ASSERT_TRUE(health_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << health_->Log();
    ASSERT_TRUE(playbooks_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << playbooks_->Log();
    health_stub_ = hv1::AccountHealthService::NewStub(health_->channel());
    playbooks_stub_ = pv1::PlaybookService::NewStub(playbooks_->channel());
  }

  void TearDown() override {
    for (RunningService* s : {playbooks_.get(), health_.get()}) {
      if (s == nullptr) continue;
      s->process().Signal(SIGTERM);
      EXPECT_EQ(s->process().WaitExit(absl::Seconds(20)), 0) << s->Log();
    }
  }

  // Polls ListRuns for the account until `done` holds (or 20 s pass).
  pv1::ListRunsResponse WaitForRuns(const std::string& account_id,
                                    const std::function<bool(const pv1::ListRunsResponse&)>& done) {
    pv1::ListRunsResponse runs;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      pv1::ListRunsRequest req;
      req.set_account_id(account_id);
      runs.Clear();
      grpc::Status s = playbooks_stub_->ListRuns(Context().get(), req, &runs);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (s.ok() && done(runs)) return runs;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "runs never reached the expected state: " << runs.DebugString()
                  << playbooks_->Log();
    return runs;
  }

  static const pv1::Run* Find(const pv1::ListRunsResponse& runs, const std::string& playbook_id) {
    for (const pv1::Run& r : runs.runs()) {
      if (r.playbook_id() == playbook_id) return &r;
    }
    return nullptr;
  }

  std::unique_ptr<TestDatabase> health_db_;
  std::unique_ptr<TestDatabase> playbooks_db_;
  std::unique_ptr<RunningService> health_;
  std::unique_ptr<RunningService> playbooks_;
  std::unique_ptr<hv1::AccountHealthService::Stub> health_stub_;
  std::unique_ptr<pv1::PlaybookService::Stub> playbooks_stub_;
};

TEST_F(PlaybooksHealthStreamTest, AccountsFlowFromHealthIntoRunsAndTasks) {
  hv1::UpsertAccountRequest upsert;
  upsert.set_request_id("upsert-acme");
  hv1::Account* a = upsert.mutable_account();
  a->set_account_id("acme");
  a->set_name("Acme");
  a->set_employee_count(2500);  // ENTERPRISE
  a->set_owner_id("csm-ann");
  a->set_industry(hv1::INDUSTRY_SAAS);
  hv1::UpsertAccountResponse upserted;
  grpc::Status s = health_stub_->UpsertAccount(Context().get(), upsert, &upserted);
  ASSERT_TRUE(s.ok()) << s.error_message();

  pv1::ListRunsResponse runs = WaitForRuns("acme", [](const pv1::ListRunsResponse& r) {
    return Find(r, "onboarding-enterprise") != nullptr;
  });
  const pv1::Run* onboarding = Find(runs, "onboarding-enterprise");
  ASSERT_NE(onboarding, nullptr);
  EXPECT_EQ(onboarding->tier(), pv1::TIER_ENTERPRISE);
  EXPECT_EQ(onboarding->owner_id(), "csm-ann");
  EXPECT_EQ(onboarding->trigger_key(), "health:1");

  pv1::ListTasksRequest list;
  list.set_run_id(onboarding->run_id());
  pv1::ListTasksResponse tasks;
  s = playbooks_stub_->ListTasks(Context().get(), list, &tasks);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(tasks.tasks_size(), 8);
  for (const pv1::Task& t : tasks.tasks()) EXPECT_EQ(t.assignee_id(), "csm-ann");
  const int64_t start = tasks.tasks(0).due_at().seconds();
  EXPECT_EQ(tasks.tasks(7).due_at().seconds() - start, 90 * 86400);

  // A manual start reads the account from health too.
  pv1::StartPlaybookRequest start_req;
  start_req.set_request_id("start-renewal");
  start_req.set_playbook_id("renewal-value-review");
  start_req.set_account_id("acme");
  pv1::StartPlaybookResponse started;
  s = playbooks_stub_->StartPlaybook(Context().get(), start_req, &started);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(started.created());
  EXPECT_EQ(started.run().owner_id(), "csm-ann");
  start_req.set_account_id("ghost");
  start_req.set_request_id("start-ghost");
  s = playbooks_stub_->StartPlaybook(Context().get(), start_req, &started);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();

  // Churn in health: the onboarding run fails and win-back opens.
  hv1::MarkChurnedRequest churn;
  churn.set_request_id("churn-acme");
  churn.set_account_id("acme");
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  churn.mutable_churned_on()->set_year(static_cast<int32_t>(today.year()));
  churn.mutable_churned_on()->set_month(today.month());
  churn.mutable_churned_on()->set_day(today.day());
  churn.set_reason("budget cut");
  hv1::MarkChurnedResponse churned;
  s = health_stub_->MarkChurned(Context().get(), churn, &churned);
  ASSERT_TRUE(s.ok()) << s.error_message();
  runs = WaitForRuns("acme", [](const pv1::ListRunsResponse& r) {
    return Find(r, "win-back") != nullptr;
  });
  ASSERT_NE(Find(runs, "onboarding-enterprise"), nullptr);
  EXPECT_EQ(Find(runs, "onboarding-enterprise")->state(), pv1::RUN_STATE_FAILED);
  EXPECT_EQ(Find(runs, "renewal-value-review")->state(), pv1::RUN_STATE_FAILED);
  EXPECT_EQ(Find(runs, "win-back")->state(), pv1::RUN_STATE_ACTIVE);

  // The task stream carries what happened, in order.
  pv1::ListTaskEventsRequest events_req;
  events_req.set_page_size(1000);
  pv1::ListTaskEventsResponse events;
  s = playbooks_stub_->ListTaskEvents(Context().get(), events_req, &events);
  ASSERT_TRUE(s.ok()) << s.error_message();
  int created = 0, cancelled = 0;
  for (const pv1::TaskEvent& e : events.events()) {
    created += e.kind() == pv1::TASK_EVENT_KIND_TASK_CREATED;
    cancelled += e.kind() == pv1::TASK_EVENT_KIND_TASK_CANCELLED;
  }
  EXPECT_EQ(created, 8 + 3 + 3);  // onboarding, renewal, win-back
  EXPECT_EQ(cancelled, 8 + 3);
}

}  // namespace
}  // namespace cs::testing
