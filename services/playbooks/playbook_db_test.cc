// The playbook service over the real MariaDB, fed by an in-process fake of the
// health service's gRPC API (event log and GetAccount), with the fake clock.

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/db/migrations.h"
#include "common/server/common_mapping.h"
#include "common/server/proto_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "services/playbooks/escalation_service.h"
#include "services/playbooks/grpc_handler.h"
#include "services/playbooks/grpc_peers.h"
#include "services/playbooks/mysql_escalation_repository.h"
#include "services/playbooks/mysql_playbook_repository.h"
#include "services/playbooks/playbook_service.h"
#include "services/playbooks/proto_mapping.h"

namespace cs::playbooks {
namespace {

namespace hv1 = ::cs::health::v1;
namespace ev1 = ::cs::expansion::v1;
namespace v1 = ::cs::playbooks::v1;
using ::cs::testing::IsOkAndHolds;
using ::cs::testing::StatusIs;
using ::testing::HasSubstr;

// The health service as the playbooks service sees it: an event log it appends
// to, and accounts. `down` makes every call UNAVAILABLE.
class FakeHealth final : public hv1::AccountHealthService::Service {
 public:
  explicit FakeHealth(const Clock* clock) : clock_(clock) {}

  grpc::Status ListEvents(grpc::ServerContext*, const hv1::ListEventsRequest* request,
                          hv1::ListEventsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++list_calls_;
    if (down_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "health is down");
    const int limit = request->page_size() == 0 ? 100 : request->page_size();
    for (const hv1::Event& e : events_) {
      if (e.sequence() <= request->after_sequence()) continue;
      if (response->events_size() >= limit) break;
      *response->add_events() = e;
    }
    response->set_last_sequence(static_cast<int64_t>(events_.size()));
    return grpc::Status::OK;
  }

  // By id only, as the consumer asks; `old` plays a health that predates the
  // account_ids filter and lists every account instead.
  grpc::Status ListAccounts(grpc::ServerContext*, const hv1::ListAccountsRequest* request,
                            hv1::ListAccountsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++list_accounts_calls_;
    if (down_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "health is down");
    for (const auto& [id, account] : accounts_) {
      if (old_ || std::find(request->account_ids().begin(), request->account_ids().end(), id) !=
                      request->account_ids().end()) {
        *response->add_accounts() = account;
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status GetAccount(grpc::ServerContext*, const hv1::GetAccountRequest* request,
                          hv1::GetAccountResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++get_account_calls_;
    if (down_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "health is down");
    auto it = accounts_.find(request->account_id());
    if (it == accounts_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such account");
    *response->mutable_account() = it->second;
    return grpc::Status::OK;
  }

  void SetDown(bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = down;
  }

  // Appends ACCOUNT_UPSERTED for a new or changed account.
  void UpsertAccount(const std::string& id, hv1::Tier tier, const std::string& owner,
                     hv1::Lifecycle lifecycle = hv1::LIFECYCLE_ONBOARDING,
                     std::optional<absl::CivilDay> contract_start = std::nullopt,
                     std::optional<absl::CivilDay> renewal = std::nullopt) {
    const hv1::Account a = MakeAccount(id, tier, owner, lifecycle, contract_start, renewal);
    std::lock_guard<std::mutex> lock(mu_);
    accounts_[id] = a;
    hv1::Event& e = Append(hv1::EVENT_KIND_ACCOUNT_UPSERTED, id);
    *e.mutable_account() = a;
  }

  // An account health has whose ACCOUNT_UPSERTED the stream no longer holds (its
  // events were purged before this consumer started), or whose profile changed
  // without an event: GetAccount and ListAccounts answer with it, ListEvents not.
  void SetAccountQuietly(const std::string& id, hv1::Tier tier, const std::string& owner) {
    const hv1::Account a = MakeAccount(id, tier, owner, hv1::LIFECYCLE_ADOPTING);
    std::lock_guard<std::mutex> lock(mu_);
    accounts_[id] = a;
  }

  void Band(const std::string& id, hv1::Band band) {
    AppendScoreChange(hv1::EVENT_KIND_BAND_CHANGED, id,
                      band == hv1::BAND_GREEN ? 85 : band == hv1::BAND_YELLOW ? 68 : 40, band);
  }

  // SCORE_CHANGED within a band, as a rescore publishes most of the time.
  void Score(const std::string& id, double score, hv1::Band band) {
    AppendScoreChange(hv1::EVENT_KIND_SCORE_CHANGED, id, score, band);
  }

  void Churn(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    hv1::Account& a = accounts_[id];
    a.set_lifecycle(hv1::LIFECYCLE_CHURNED);
    hv1::Event& e = Append(hv1::EVENT_KIND_ACCOUNT_CHURNED, id);
    *e.mutable_account() = a;
  }

  void ExpansionSignal(const std::string& id, const std::string& event_id, hv1::Band band,
                       const std::string& feature = "salesforce") {
    std::lock_guard<std::mutex> lock(mu_);
    hv1::Event& e = Append(hv1::EVENT_KIND_EXPANSION_SIGNAL, id);
    hv1::ExpansionSignal* s = e.mutable_expansion_signal();
    s->set_signal_kind(hv1::SIGNAL_KIND_INTEGRATION_REQUEST);
    s->set_event_id(event_id);
    s->set_feature(feature);
    s->set_band(band);
    s->set_tier(accounts_[id].tier());
  }

  void AlertOpened(const std::string& id, hv1::AlertKind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    hv1::Event& e = Append(hv1::EVENT_KIND_ALERT_OPENED, id);
    e.mutable_alert()->set_account_id(id);
    e.mutable_alert()->set_kind(kind);
    e.mutable_alert()->set_severity(hv1::SEVERITY_HIGH);
  }

  void FirstValue(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    hv1::FirstValueReached* f =
        Append(hv1::EVENT_KIND_FIRST_VALUE_REACHED, id).mutable_first_value_reached();
    f->set_tier(accounts_[id].tier());
    ToTimestamp(clock_->Now(), f->mutable_reached_at());
    f->set_signal_event_id(absl::StrCat("fv-", events_.size()));
  }

  int list_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return list_calls_;
  }
  std::pair<int, int> account_calls() {  // (ListAccounts, GetAccount)
    std::lock_guard<std::mutex> lock(mu_);
    return {list_accounts_calls_, get_account_calls_};
  }
  void SetOld(bool old) {
    std::lock_guard<std::mutex> lock(mu_);
    old_ = old;
  }

 private:
  static hv1::Account MakeAccount(const std::string& id, hv1::Tier tier, const std::string& owner,
                                  hv1::Lifecycle lifecycle,
                                  std::optional<absl::CivilDay> contract_start = std::nullopt,
                                  std::optional<absl::CivilDay> renewal = std::nullopt) {
    hv1::Account a;
    a.set_account_id(id);
    a.set_tier(tier);
    a.set_owner_id(owner);
    a.set_industry(hv1::INDUSTRY_SAAS);
    a.set_lifecycle(lifecycle);
    if (contract_start.has_value()) DateToProto(contract_start, a.mutable_contract_start());
    if (renewal.has_value()) DateToProto(renewal, a.mutable_renewal_date());
    return a;
  }

  void AppendScoreChange(hv1::EventKind kind, const std::string& id, double score,
                         hv1::Band band) {
    std::lock_guard<std::mutex> lock(mu_);
    hv1::ScoreChange* s = Append(kind, id).mutable_score_change();
    s->set_account_id(id);
    s->set_score_name("health");
    s->set_band(band);
    s->set_score(score);
    s->set_tier(accounts_[id].tier());
  }

  hv1::Event& Append(hv1::EventKind kind, const std::string& id) {
    hv1::Event& e = events_.emplace_back();
    e.set_sequence(static_cast<int64_t>(events_.size()));
    e.set_kind(kind);
    e.set_account_id(id);
    ToTimestamp(clock_->Now(), e.mutable_occurred_at());
    return e;
  }

  const Clock* clock_;
  std::mutex mu_;
  std::vector<hv1::Event> events_;
  std::map<std::string, hv1::Account> accounts_;
  bool down_ = false;
  bool old_ = false;
  int list_calls_ = 0;
  int list_accounts_calls_ = 0;
  int get_account_calls_ = 0;
};

// The expansion service's CreateOpportunity, replaying by request id as it does.
class FakeExpansion final : public ev1::ExpansionService::Service {
 public:
  grpc::Status CreateOpportunity(grpc::ServerContext*, const ev1::CreateOpportunityRequest* request,
                                 ev1::CreateOpportunityResponse* response) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++calls_;
    if (hold_ > 0) {
      ++arrived_;
      cv_.notify_all();
      cv_.wait_for(lock, std::chrono::seconds(5), [&] { return arrived_ >= hold_; });
    }
    auto [it, inserted] = by_request_.emplace(request->request_id(), request->opportunity());
    if (inserted) it->second.set_opportunity_id(std::to_string(by_request_.size()));
    *response->mutable_opportunity() = it->second;
    return grpc::Status::OK;
  }
  grpc::Status GetOpportunity(grpc::ServerContext*, const ev1::GetOpportunityRequest* request,
                              ev1::GetOpportunityResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (down_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "expansion is down");
    for (const auto& [id, o] : by_request_) {
      if (o.opportunity_id() != request->opportunity_id()) continue;
      *response->mutable_opportunity() = o;
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such opportunity");
  }
  std::map<std::string, ev1::Opportunity> opened() {
    std::lock_guard<std::mutex> lock(mu_);
    return by_request_;
  }
  void SetStage(const std::string& opportunity_id, ev1::Stage stage) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, o] : by_request_) {
      if (o.opportunity_id() == opportunity_id) o.set_stage(stage);
    }
  }
  void SetDown(bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = down;
  }
  // The next creates wait (up to 5 s) until `n` of them have arrived, as when two
  // replicas ask at the same moment.
  void HoldCreates(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = n;
  }
  int held() {
    std::lock_guard<std::mutex> lock(mu_);
    return arrived_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  bool down_ = false;
  int hold_ = 0;
  int arrived_ = 0;
  std::map<std::string, ev1::Opportunity> by_request_;
};

const absl::Time kStart = absl::FromCivil(absl::CivilSecond(2027, 1, 1, 9, 0, 0), absl::UTCTimeZone());

class PlaybookDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "pbrun");
    pool_ = std::make_unique<db::Pool>(db_->config());
    ASSERT_OK(db::ApplyMigrations(
        *pool_, {{"common", &common_migrations()}, {"playbooks", &playbooks_migrations()}}));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&health_);
    builder.RegisterService(&expansion_server_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = absl::StrCat("127.0.0.1:", port);
    service_ = MakeService(pool_.get());
    ASSERT_OK(service_->EnsureDefaultPlaybooks());
    playbook_codec_ = ProtoCodec<Playbook, v1::Playbook>(PlaybookToProto, PlaybookFromProto);
    start_codec_ = ProtoCodec<StartResult, v1::StartPlaybookResponse>(StartResultToProto,
                                                                      StartResultFromProto);
    task_codec_ = ProtoCodec<Task, v1::Task>(TaskToProto, TaskFromProto);
    run_codec_ = ProtoCodec<playbooks::Run, v1::Run>(RunToProto, RunFromProto);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // One replica's worth of wiring against `pool` (tests make several).
  struct Replica {
    std::unique_ptr<MySqlPlaybookRepository> repository;
    std::unique_ptr<GrpcHealthFeed> feed;
    std::unique_ptr<GrpcExpansionClient> expansion;
    std::unique_ptr<PlaybookService> service;
  };
  std::unique_ptr<PlaybookService> MakeService(db::Pool* pool,
                                               PlaybookService::Options options = {}) {
    Replica& r = replicas_.emplace_back();
    r.repository = std::make_unique<MySqlPlaybookRepository>(pool, &clock_, TaskEventCodecForOutbox());
    r.feed = std::make_unique<GrpcHealthFeed>(address_, &clock_, GrpcHealthFeed::Options{});
    r.expansion = std::make_unique<GrpcExpansionClient>(address_, &clock_,
                                                        GrpcExpansionClient::Options{});
    return std::make_unique<PlaybookService>(r.repository.get(), r.feed.get(), r.expansion.get(),
                                             &clock_, options);
  }

  // Applies everything health has published.
  void Consume(PlaybookService* service = nullptr) {
    if (service == nullptr) service = service_.get();
    for (int i = 0; i < 100; ++i) {
      absl::StatusOr<int> applied = service->ConsumeHealthEvents();
      ASSERT_OK(applied);
      if (*applied == 0) return;
    }
    FAIL() << "consumer never caught up";
  }

  int64_t Count(const std::string& sql) { return cs::testing::QueryInt(*pool_, sql); }

  void Execute(const std::string& sql) {
    ASSERT_OK(pool_->Run([&](db::Connection& conn) -> absl::Status {
      conn.Execute(sql);
      return absl::OkStatus();
    }));
  }

  // A connection of its own that has locked the rows `locking_select` finds (at
  // least one), in a transaction left open for the test to commit.
  db::Pool::Lease HoldRows(const std::string& locking_select) {
    absl::StatusOr<db::Pool::Lease> lease = pool_->Acquire();
    EXPECT_OK(lease);
    (*lease)->Execute("START TRANSACTION");
    std::unique_ptr<sql::ResultSet> held((*lease)->Prepare(locking_select).executeQuery());
    EXPECT_TRUE(held->next()) << locking_select;
    return *std::move(lease);
  }

  // Consume() on a thread of its own, setting `returned` when it does.
  std::thread ConsumeInBackground(std::atomic<bool>& returned) {
    return std::thread([this, &returned] {
      Consume();
      returned = true;
    });
  }

  // Whether `flag` is set within five seconds.
  static bool SetWithin5s(const std::atomic<bool>& flag) {
    for (int i = 0; i < 100 && !flag.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return flag.load();
  }

  std::vector<Task> TasksOf(const std::string& account_id, const std::string& run_id = "") {
    TaskFilter f;
    f.account_id = account_id;
    f.run_id = run_id;
    f.page_size = 1000;
    absl::StatusOr<TaskPage> page = service_->ListTasks(f);
    EXPECT_OK(page);
    return page.ok() ? page->tasks : std::vector<Task>();
  }

  std::vector<playbooks::Run> RunsOf(const std::string& account_id) {
    RunFilter f;
    f.account_id = account_id;
    f.page_size = 1000;
    absl::StatusOr<RunPage> page = service_->ListRuns(f);
    EXPECT_OK(page);
    return page.ok() ? page->runs : std::vector<playbooks::Run>();
  }

  std::optional<playbooks::Run> RunOf(const std::string& account_id, const std::string& playbook_id,
                           RunState state = RunState::kActive) {
    for (const playbooks::Run& r : RunsOf(account_id)) {
      if (r.playbook_id == playbook_id && r.state == state) return r;
    }
    return std::nullopt;
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<db::Pool> pool_;
  FakeClock clock_{kStart};
  FakeHealth health_{&clock_};
  FakeExpansion expansion_server_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::list<Replica> replicas_;
  std::unique_ptr<PlaybookService> service_;
  db::ResultCodec<Playbook> playbook_codec_;
  db::ResultCodec<StartResult> start_codec_;
  db::ResultCodec<Task> task_codec_;
  db::ResultCodec<playbooks::Run> run_codec_;
};

TEST_F(PlaybookDbTest, DefaultsAreSeededAndUpdatesMakeVersions) {
  absl::StatusOr<std::vector<Playbook>> all = service_->ListPlaybooks();
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), DefaultPlaybooks().size());
  ASSERT_OK(service_->EnsureDefaultPlaybooks());  // a second replica's start changes nothing
  absl::StatusOr<Playbook> red = service_->GetPlaybook("red-emergency-response", 0);
  ASSERT_OK(red);
  EXPECT_EQ(red->version, 1);
  EXPECT_EQ(red->steps, DefaultPlaybooks().front().steps);

  Playbook changed = *red;
  changed.steps[0].sla = absl::Hours(12);
  absl::StatusOr<Playbook> v2 =
      service_->UpdatePlaybook({"UpdatePlaybook", "u1", "f1"}, playbook_codec_, changed);
  ASSERT_OK(v2);
  EXPECT_EQ(v2->version, 2);
  // The same version again is stale now.
  EXPECT_THAT(service_->UpdatePlaybook({"UpdatePlaybook", "u2", "f2"}, playbook_codec_, changed),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(service_->GetPlaybook("red-emergency-response", 1)->steps[0].sla, absl::Hours(24));
  EXPECT_EQ(service_->GetPlaybook("red-emergency-response", 0)->steps[0].sla, absl::Hours(12));
  // The retry of the first update answers as before and writes nothing.
  absl::StatusOr<Playbook> retry =
      service_->UpdatePlaybook({"UpdatePlaybook", "u1", "f1"}, playbook_codec_, changed);
  ASSERT_OK(retry);
  EXPECT_EQ(retry->version, 2);
  EXPECT_EQ(service_->GetPlaybook("red-emergency-response", 0)->version, 2);
}

TEST_F(PlaybookDbTest, BadDefinitionsAreRefusedAndNothingIsWritten) {
  Playbook p = DefaultPlaybooks().front();
  p.playbook_id = "custom";
  p.steps.clear();
  EXPECT_THAT(service_->CreatePlaybook({"CreatePlaybook", "", ""}, playbook_codec_, p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("playbook.steps")));
  p = DefaultPlaybooks().front();
  p.playbook_id = "custom";
  p.steps[0].due_offset = -absl::Hours(2);
  EXPECT_THAT(service_->CreatePlaybook({"CreatePlaybook", "", ""}, playbook_codec_, p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("playbook.steps[0].due_offset")));
  EXPECT_THAT(service_->GetPlaybook("custom", 0), StatusIs(absl::StatusCode::kNotFound));
  p.steps[0].due_offset = absl::Hours(2);
  ASSERT_OK(service_->CreatePlaybook({"CreatePlaybook", "", ""}, playbook_codec_, p));
  EXPECT_THAT(service_->CreatePlaybook({"CreatePlaybook", "", ""}, playbook_codec_, p),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(service_->UpdatePlaybook({"UpdatePlaybook", "", ""}, playbook_codec_,
                                       [] {
                                         Playbook q = DefaultPlaybooks().front();
                                         q.playbook_id = "nope";
                                         q.version = 1;
                                         return q;
                                       }()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(PlaybookDbTest, OnboardingMilestonesAreDatedFromTheAccountsStart) {
  health_.UpsertAccount("acme", hv1::TIER_ENTERPRISE, "csm-ann");
  Consume();
  std::optional<playbooks::Run> run = RunOf("acme", "onboarding-enterprise");
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->tier, "ENTERPRISE");
  EXPECT_EQ(run->owner_id, "csm-ann");
  const std::vector<Task> tasks = TasksOf("acme", run->run_id);
  std::vector<int> days;
  for (const Task& t : tasks) {
    EXPECT_EQ(t.assignee_id, "csm-ann");
    EXPECT_EQ((t.due_at - kStart) % absl::Hours(24), absl::ZeroDuration());
    days.push_back(static_cast<int>((t.due_at - kStart) / absl::Hours(24)));
  }
  EXPECT_THAT(days, ::testing::ElementsAre(0, 1, 3, 7, 14, 30, 60, 90));
  // Only the enterprise plan: not the other tiers' onboarding.
  EXPECT_EQ(RunsOf("acme").size(), 1u);
  // An SMB account gets the SMB plan, which ends at day 14.
  health_.UpsertAccount("tiny", hv1::TIER_SMB, "csm-bo");
  Consume();
  std::optional<playbooks::Run> smb = RunOf("tiny", "onboarding-smb");
  ASSERT_TRUE(smb.has_value());
  EXPECT_EQ(TasksOf("tiny", smb->run_id).back().due_at, kStart + absl::Hours(24 * 14));
}

TEST_F(PlaybookDbTest, RepeatedTriggersUpdateTheActiveRunAndGreenDaysSucceed) {
  health_.UpsertAccount("acme", hv1::TIER_MID_MARKET, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.Band("acme", hv1::BAND_RED);
  Consume();
  std::optional<playbooks::Run> red = RunOf("acme", "red-emergency-response");
  ASSERT_TRUE(red.has_value());
  EXPECT_EQ(red->trigger_count, 1);
  EXPECT_EQ(TasksOf("acme", red->run_id).size(), 4u);
  clock_.Advance(absl::Hours(30));
  health_.Band("acme", hv1::BAND_YELLOW);
  clock_.Advance(absl::Hours(30));
  health_.Band("acme", hv1::BAND_RED);
  Consume();
  std::vector<playbooks::Run> runs = RunsOf("acme");
  int red_runs = 0;
  for (const playbooks::Run& r : runs) red_runs += r.playbook_id == "red-emergency-response";
  EXPECT_EQ(red_runs, 1);
  red = RunOf("acme", "red-emergency-response");
  ASSERT_TRUE(red.has_value());
  EXPECT_EQ(red->trigger_count, 2);
  EXPECT_EQ(TasksOf("acme", red->run_id).size(), 4u);
  ASSERT_TRUE(RunOf("acme", "yellow-recovery").has_value());

  // GREEN for 13 days is not enough; 14 is.
  clock_.Advance(absl::Hours(1));
  health_.Band("acme", hv1::BAND_GREEN);
  const absl::Time green_at = clock_.Now();
  Consume();
  clock_.Set(green_at + absl::Hours(24 * 13));
  ASSERT_OK(service_->Sweep());
  EXPECT_TRUE(RunOf("acme", "red-emergency-response").has_value());
  clock_.Set(green_at + absl::Hours(24 * 14) + absl::Minutes(1));
  ASSERT_OK(service_->Sweep());
  EXPECT_FALSE(RunOf("acme", "red-emergency-response").has_value());
  std::optional<playbooks::Run> done = RunOf("acme", "red-emergency-response", RunState::kSucceeded);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->end_reason, "GREEN for 14 days");
  ASSERT_TRUE(RunOf("acme", "yellow-recovery", RunState::kSucceeded).has_value());
  for (const Task& t : TasksOf("acme", done->run_id)) {
    EXPECT_NE(t.status, TaskStatus::kOpen) << t.task_id;
  }
}

TEST_F(PlaybookDbTest, SlaMissesClimbTheChainStepByStep) {
  health_.UpsertAccount("acme", hv1::TIER_ENTERPRISE, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.Band("acme", hv1::BAND_RED);
  Consume();
  std::optional<playbooks::Run> run = RunOf("acme", "red-emergency-response");
  ASSERT_TRUE(run.has_value());
  const std::string task_id = run->run_id + ".0";  // executive escalation, 24 h SLA
  absl::StatusOr<Task> task = service_->GetTask(task_id);
  ASSERT_OK(task);
  EXPECT_EQ(task->assignee_id, "csm-ann");
  EXPECT_EQ(task->due_at, kStart);
  EXPECT_EQ(task->escalate_at, kStart + absl::Hours(24));

  struct Want {
    Role role;
    std::string assignee;
  };
  const std::vector<Want> climb = {{Role::kCsManager, "role:CS_MANAGER"},
                                   {Role::kDirector, "role:DIRECTOR"},
                                   {Role::kVpCustomerSuccess, "role:VP_CUSTOMER_SUCCESS"}};
  // Before the deadline nothing happens.
  clock_.Set(kStart + absl::Hours(23));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(service_->GetTask(task_id)->escalation_level, 0);
  absl::Time deadline = kStart + absl::Hours(24);
  for (size_t level = 0; level < climb.size(); ++level) {
    clock_.Set(deadline + absl::Minutes(1));
    ASSERT_OK(service_->Sweep());
    ASSERT_OK(service_->Sweep());  // a second sweep at the same time does not climb twice
    task = service_->GetTask(task_id);
    ASSERT_OK(task);
    EXPECT_EQ(task->escalation_level, static_cast<int>(level + 1));
    EXPECT_EQ(task->role, climb[level].role);
    EXPECT_EQ(task->assignee_id, climb[level].assignee);
    deadline = clock_.Now() + absl::Hours(24);  // one SLA per level
  }
  // At the VP there is nowhere left to go.
  clock_.Set(deadline + absl::Hours(48));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(service_->GetTask(task_id)->escalation_level, 3);
  absl::StatusOr<std::vector<Escalation>> escalations = service_->ListEscalations(task_id);
  ASSERT_OK(escalations);
  ASSERT_EQ(escalations->size(), 3u);
  EXPECT_EQ((*escalations)[0].from_assignee_id, "csm-ann");
  EXPECT_EQ((*escalations)[0].to_role, Role::kCsManager);
  EXPECT_THAT((*escalations)[0].reason, HasSubstr("SLA missed"));
  EXPECT_EQ((*escalations)[2].level, 3);
  // Notification adapters see the escalations on the task stream.
  absl::StatusOr<PlaybookService::EventPage> events = service_->ListTaskEvents(0, 1000);
  ASSERT_OK(events);
  int escalated = 0;
  for (const TaskEvent& e : events->events) {
    if (e.kind == TaskEventKind::kEscalated && e.task.task_id == task_id) {
      ++escalated;
      ASSERT_TRUE(e.escalation.has_value());
      EXPECT_EQ(e.escalation->level, escalated);
    }
  }
  EXPECT_EQ(escalated, 3);
  absl::StatusOr<ProgramReport> metrics = service_->GetProgramMetrics(kStart, clock_.Now());
  ASSERT_OK(metrics);
  EXPECT_GE(metrics->overall.open_escalations_by_level[3], 1);
}

TEST_F(PlaybookDbTest, CompletedWorkStopsEscalatingAndFinishesTheRun) {
  health_.UpsertAccount("acme", hv1::TIER_SMB, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  Consume();
  absl::StatusOr<StartResult> started = service_->StartPlaybook(
      {"StartPlaybook", "s-1", "f"}, start_codec_, "win-back", "acme");
  ASSERT_OK(started);
  EXPECT_TRUE(started->created);
  // A retry gets the same run and opens nothing else.
  absl::StatusOr<StartResult> again = service_->StartPlaybook(
      {"StartPlaybook", "s-1", "f"}, start_codec_, "win-back", "acme");
  ASSERT_OK(again);
  EXPECT_EQ(again->run.run_id, started->run.run_id);
  // A different request while the run is active returns that run.
  absl::StatusOr<StartResult> other = service_->StartPlaybook(
      {"StartPlaybook", "s-2", "f"}, start_codec_, "win-back", "acme");
  ASSERT_OK(other);
  EXPECT_FALSE(other->created);
  EXPECT_EQ(other->run.run_id, started->run.run_id);

  const std::vector<Task> tasks = TasksOf("acme", started->run.run_id);
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].assignee_id, "role:RETENTION_SPECIALIST");
  absl::StatusOr<Task> done = service_->CompleteTask({"CompleteTask", "c-0", "f"}, task_codec_,
                                                     tasks[0].task_id, "reason recorded", "price");
  ASSERT_OK(done);
  EXPECT_TRUE(done->sla_met);
  EXPECT_THAT(service_->CompleteTask({"CompleteTask", "c-0b", "f"}, task_codec_, tasks[0].task_id,
                                     "again", ""),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(service_->CompleteTask({"CompleteTask", "c-x", "f"}, task_codec_, tasks[1].task_id,
                                     "", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outcome")));
  EXPECT_THAT(service_->CompleteTask({"CompleteTask", "", ""}, task_codec_, "no-such-task", "x", ""),
              StatusIs(absl::StatusCode::kNotFound));
  // Snooze moves the due time and its SLA; a time in the past is refused.
  EXPECT_THAT(service_->SnoozeTask({"SnoozeTask", "", ""}, task_codec_, tasks[2].task_id,
                                   clock_.Now() - absl::Hours(1), ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("until")));
  const absl::Time until = tasks[2].due_at + absl::Hours(24 * 10);
  absl::StatusOr<Task> snoozed = service_->SnoozeTask({"SnoozeTask", "z", "f"}, task_codec_,
                                                      tasks[2].task_id, until, "on holiday");
  ASSERT_OK(snoozed);
  EXPECT_EQ(snoozed->status, TaskStatus::kSnoozed);
  EXPECT_EQ(snoozed->due_at, until);
  absl::StatusOr<Task> moved = service_->ReassignTask({"ReassignTask", "r", "f"}, task_codec_,
                                                      tasks[2].task_id, "rs-kim", "coverage");
  ASSERT_OK(moved);
  EXPECT_EQ(moved->assignee_id, "rs-kim");
  TaskFilter mine;
  mine.assignee_id = "rs-kim";
  EXPECT_EQ(service_->ListTasks(mine)->tasks.size(), 1u);
  // Overdue: nothing yet; after the snooze ends and the survey's date, both are.
  TaskFilter overdue;
  overdue.account_id = "acme";
  overdue.overdue_only = true;
  EXPECT_EQ(service_->ListTasks(overdue)->tasks.size(), 0u);
  clock_.Set(until + absl::Hours(1));
  EXPECT_EQ(service_->ListTasks(overdue)->tasks.size(), 2u);
  // Completing the rest succeeds the run (win-back has no GREEN-days criterion).
  ASSERT_OK(service_->CompleteTask({"CompleteTask", "c-1", "f"}, task_codec_, tasks[1].task_id,
                                   "sent", ""));
  clock_.Set(until + absl::Hours(24 * 15));  // past the offer's 14-day SLA
  absl::StatusOr<Task> late = service_->CompleteTask({"CompleteTask", "c-2", "f"}, task_codec_,
                                                     tasks[2].task_id, "offer made", "");
  ASSERT_OK(late);
  EXPECT_FALSE(late->sla_met);
  absl::StatusOr<std::pair<playbooks::Run, std::vector<Task>>> run = service_->GetRun(started->run.run_id);
  ASSERT_OK(run);
  EXPECT_EQ(run->first.state, RunState::kSucceeded);
  EXPECT_THAT(service_->CancelRun({"CancelRun", "", ""}, run_codec_, started->run.run_id, "why"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // Unknown playbook and unknown account.
  EXPECT_THAT(service_->StartPlaybook({"StartPlaybook", "", ""}, start_codec_, "nope", "acme"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_->StartPlaybook({"StartPlaybook", "", ""}, start_codec_, "win-back", "ghost"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(PlaybookDbTest, CancelRunCancelsItsOpenTasks) {
  health_.UpsertAccount("acme", hv1::TIER_SMB, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.Band("acme", hv1::BAND_YELLOW);
  Consume();
  std::optional<playbooks::Run> run = RunOf("acme", "yellow-recovery");
  ASSERT_TRUE(run.has_value());
  EXPECT_THAT(service_->CancelRun({"CancelRun", "", ""}, run_codec_, run->run_id, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  absl::StatusOr<playbooks::Run> cancelled =
      service_->CancelRun({"CancelRun", "x", "f"}, run_codec_, run->run_id, "duplicate account");
  ASSERT_OK(cancelled);
  EXPECT_EQ(cancelled->state, RunState::kCancelled);
  for (const Task& t : TasksOf("acme", run->run_id)) EXPECT_EQ(t.status, TaskStatus::kCancelled);
  // A new YELLOW entry opens a fresh run now.
  health_.Band("acme", hv1::BAND_GREEN);
  health_.Band("acme", hv1::BAND_YELLOW);
  Consume();
  std::optional<playbooks::Run> fresh = RunOf("acme", "yellow-recovery");
  ASSERT_TRUE(fresh.has_value());
  EXPECT_NE(fresh->run_id, run->run_id);
}

TEST_F(PlaybookDbTest, ChurnFailsRunsStopsCadencesAndStartsWinBack) {
  health_.UpsertAccount("acme", hv1::TIER_MID_MARKET, "csm-ann", hv1::LIFECYCLE_ADOPTING,
                        absl::CivilDay(2027, 1, 1));
  health_.Band("acme", hv1::BAND_RED);
  Consume();
  clock_.Advance(absl::Hours(24 * 20));
  ASSERT_OK(service_->Sweep());
  std::optional<playbooks::Run> cadence = RunOf("acme", "cadence-mid-market-checkin");
  ASSERT_TRUE(cadence.has_value());
  const size_t touchpoints = TasksOf("acme", cadence->run_id).size();
  EXPECT_EQ(touchpoints, 1u);  // 1 February, within two weeks
  health_.Churn("acme");
  Consume();
  EXPECT_TRUE(RunOf("acme", "red-emergency-response", RunState::kFailed).has_value());
  EXPECT_TRUE(RunOf("acme", "cadence-mid-market-checkin", RunState::kCancelled).has_value());
  EXPECT_TRUE(RunOf("acme", "win-back").has_value());
  // No more touchpoints for a churned account, however long we wait.
  for (int month = 0; month < 6; ++month) {
    clock_.Advance(absl::Hours(24 * 30));
    ASSERT_OK(service_->Sweep());
  }
  EXPECT_EQ(TasksOf("acme", cadence->run_id).size(), touchpoints);
  EXPECT_THAT(service_->StartPlaybook({"StartPlaybook", "", ""}, start_codec_, "yellow-recovery",
                                      "acme"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(PlaybookDbTest, OneSimulatedYearGivesFourQbrsAndTwelveCheckIns) {
  for (int i = 0; i < 3; ++i) {
    health_.UpsertAccount(absl::StrCat("ent-", i), hv1::TIER_ENTERPRISE, "csm-ann",
                          hv1::LIFECYCLE_ADOPTING, absl::CivilDay(2027, 1, 1));
    health_.UpsertAccount(absl::StrCat("mid-", i), hv1::TIER_MID_MARKET, "csm-bo",
                          hv1::LIFECYCLE_ADOPTING, absl::CivilDay(2027, 1, 1));
  }
  Consume();
  for (int day = 0; day <= 365; ++day) {
    clock_.Set(kStart + absl::Hours(24 * day));
    ASSERT_OK(service_->Sweep());
  }
  for (int i = 0; i < 3; ++i) {
    int qbrs = 0;
    std::vector<absl::CivilDay> dates;
    for (const Task& t : TasksOf(absl::StrCat("ent-", i))) {
      if (t.kind != StepKind::kQbr) continue;
      ++qbrs;
      dates.push_back(absl::ToCivilDay(t.due_at, absl::UTCTimeZone()));
    }
    EXPECT_EQ(qbrs, 4) << "ent-" << i;
    EXPECT_THAT(dates, ::testing::ElementsAre(absl::CivilDay(2027, 4, 1), absl::CivilDay(2027, 7, 1),
                                              absl::CivilDay(2027, 10, 1),
                                              absl::CivilDay(2028, 1, 1)));
    int checkins = 0;
    for (const Task& t : TasksOf(absl::StrCat("mid-", i))) {
      checkins += t.playbook_id == "cadence-mid-market-checkin";
    }
    EXPECT_EQ(checkins, 12) << "mid-" << i;
  }
}

TEST_F(PlaybookDbTest, AnOldAccountGetsNoBacklogOfPastTouchpoints) {
  health_.UpsertAccount("old", hv1::TIER_ENTERPRISE, "csm-ann", hv1::LIFECYCLE_ADOPTING,
                        absl::CivilDay(2023, 1, 20));
  Consume();
  ASSERT_OK(service_->Sweep());
  EXPECT_TRUE(TasksOf("old").empty());  // next QBR: 20 April 2027, beyond the horizon
  clock_.Set(kStart + absl::Hours(24 * 100));
  ASSERT_OK(service_->Sweep());
  // Touchpoints since the run opened are never skipped (20 January, missed while
  // no scheduler ran, and 20 April), but nothing from the years before.
  std::vector<Task> tasks = TasksOf("old");
  ASSERT_EQ(tasks.size(), 4u);  // a QBR and an expansion review each time
  EXPECT_EQ(absl::ToCivilDay(tasks.front().due_at, absl::UTCTimeZone()),
            absl::CivilDay(2027, 1, 20));
  EXPECT_EQ(absl::ToCivilDay(tasks.back().due_at, absl::UTCTimeZone()),
            absl::CivilDay(2027, 4, 20));
}

TEST_F(PlaybookDbTest, TwoSchedulersCreateNoDuplicate) {
  for (int i = 0; i < 12; ++i) {
    health_.UpsertAccount(absl::StrCat("mid-", i), hv1::TIER_MID_MARKET, "csm-bo",
                          hv1::LIFECYCLE_ADOPTING, absl::CivilDay(2027, 1, 1));
  }
  Consume();
  db::Pool other_pool(db_->config());
  std::unique_ptr<PlaybookService> other = MakeService(&other_pool);
  for (int day = 0; day <= 120; day += 3) {
    clock_.Set(kStart + absl::Hours(24 * day));
    absl::Status a, b;
    std::thread one([&] { a = service_->Sweep().status(); });
    std::thread two([&] { b = other->Sweep().status(); });
    one.join();
    two.join();
    ASSERT_OK(a);
    ASSERT_OK(b);
  }
  // Touchpoints on 1 Feb .. 1 May (and 1 Jun is 14 days ahead of day 120 = 1 May + 0).
  const int64_t tasks = Count(
      "SELECT COUNT(*) FROM tasks WHERE playbook_id = 'cadence-mid-market-checkin'");
  EXPECT_EQ(tasks, 12 * 4);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM (SELECT account_id, due_at FROM tasks WHERE playbook_id ="
                  " 'cadence-mid-market-checkin' GROUP BY account_id, due_at HAVING COUNT(*) > 1) d"),
            0);
  // One TASK_CREATED per task on the outbox.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM event_log WHERE kind = 'TASK_CREATED'"),
            Count("SELECT COUNT(*) FROM tasks"));
}

TEST_F(PlaybookDbTest, ReplayingTheStreamFromZeroCreatesNothingNew) {
  health_.UpsertAccount("a", hv1::TIER_ENTERPRISE, "csm-ann");
  health_.UpsertAccount("b", hv1::TIER_SMB, "csm-bo", hv1::LIFECYCLE_ADOPTING);
  health_.Band("a", hv1::BAND_YELLOW);
  health_.Band("b", hv1::BAND_RED);
  health_.Band("b", hv1::BAND_GREEN);
  health_.Band("b", hv1::BAND_RED);
  health_.Churn("a");
  Consume();
  const int64_t runs = Count("SELECT COUNT(*) FROM runs");
  const int64_t tasks = Count("SELECT COUNT(*) FROM tasks");
  const int64_t events = Count("SELECT COUNT(*) FROM event_log");
  const int64_t triggers = Count("SELECT COUNT(*) FROM run_triggers");
  EXPECT_GT(runs, 3);
  EXPECT_EQ(Count("SELECT last_sequence FROM consumer_cursors WHERE consumer = 'health'"), 7);
  Execute("UPDATE consumer_cursors SET last_sequence = 0 WHERE consumer = 'health'");
  Consume();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs"), runs);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM tasks"), tasks);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM event_log"), events);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM run_triggers"), triggers);
  EXPECT_EQ(Count("SELECT last_sequence FROM consumer_cursors WHERE consumer = 'health'"), 7);
}

TEST_F(PlaybookDbTest, TwoConsumersApplyEachEventOnce) {
  for (int i = 0; i < 30; ++i) {
    const std::string id = absl::StrCat("acct-", i);
    health_.UpsertAccount(id, hv1::TIER_SMB, "csm-bo", hv1::LIFECYCLE_ADOPTING);
    health_.Band(id, hv1::BAND_YELLOW);
  }
  db::Pool other_pool(db_->config());
  std::unique_ptr<PlaybookService> other = MakeService(&other_pool);
  auto drain = [&](PlaybookService* s) {
    for (int i = 0; i < 200; ++i) {
      absl::StatusOr<int> applied = s->ConsumeHealthEvents(7);
      ASSERT_OK(applied);
    }
  };
  std::thread one([&] { drain(service_.get()); });
  std::thread two([&] { drain(other.get()); });
  one.join();
  two.join();
  EXPECT_EQ(Count("SELECT last_sequence FROM consumer_cursors WHERE consumer = 'health'"), 60);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE playbook_id = 'yellow-recovery'"), 30);
  EXPECT_EQ(Count("SELECT MAX(trigger_count) FROM runs"), 1);
}

// A page naming 300 accounts reads them, their runs and cohort rows in several
// chunk sizes (256 + 32 + 8 + 4): every account is found on both pages.
TEST_F(PlaybookDbTest, APageOfThreeHundredAccountsFindsEveryAccountAndRun) {
  for (int i = 0; i < 300; ++i) {
    const std::string id = absl::StrCat("acct-", 1000 + i);
    health_.UpsertAccount(id, hv1::TIER_SMB, "csm-bo", hv1::LIFECYCLE_ADOPTING);
    health_.Band(id, hv1::BAND_YELLOW);
  }
  ASSERT_OK(service_->ConsumeHealthEvents(1000));
  EXPECT_EQ(Count("SELECT last_sequence FROM consumer_cursors WHERE consumer = 'health'"), 600);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE playbook_id = 'yellow-recovery'"), 300);
  // The same band again, on one page: each account's active run is found, none is
  // started twice and nothing is skipped.
  for (int i = 0; i < 300; ++i) health_.Band(absl::StrCat("acct-", 1000 + i), hv1::BAND_YELLOW);
  ASSERT_OK(service_->ConsumeHealthEvents(1000));
  EXPECT_EQ(Count("SELECT last_sequence FROM consumer_cursors WHERE consumer = 'health'"), 900);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE playbook_id = 'yellow-recovery'"), 300);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM accounts"), 300);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM skipped_events"), 0);
}

TEST_F(PlaybookDbTest, AnEventThatCannotBeAppliedIsRecordedAndSkipped) {
  health_.UpsertAccount("acme", hv1::TIER_SMB, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  // An account id longer than any column allows (health itself would refuse it).
  health_.Band(std::string(300, 'x'), hv1::BAND_RED);
  health_.Band("acme", hv1::BAND_RED);
  Consume();
  EXPECT_EQ(Count("SELECT last_sequence FROM consumer_cursors WHERE consumer = 'health'"), 3);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM skipped_events WHERE sequence = 2"), 1);
  EXPECT_TRUE(RunOf("acme", "red-emergency-response").has_value());
}

TEST_F(PlaybookDbTest, HealthDownLeavesTheCursorAndResumes) {
  health_.UpsertAccount("acme", hv1::TIER_SMB, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.SetDown(true);
  EXPECT_THAT(service_->ConsumeHealthEvents(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(Count("SELECT last_sequence FROM consumer_cursors WHERE consumer = 'health'"), 0);
  EXPECT_THAT(service_->StartPlaybook({"StartPlaybook", "", ""}, start_codec_, "win-back", "acme"),
              StatusIs(absl::StatusCode::kUnavailable));
  health_.SetDown(false);
  health_.Band("acme", hv1::BAND_RED);
  // The first pass finds the row gone (applying nothing), the next makes it again.
  Consume();
  Consume();
  EXPECT_EQ(Count("SELECT last_sequence FROM consumer_cursors WHERE consumer = 'health'"), 2);
  EXPECT_TRUE(RunOf("acme", "red-emergency-response").has_value());
}

// The cursor row is made once per consumer; one deleted under a running replica (an
// operator resetting the stream) is made again by the next pass instead of leaving
// the consumer stuck, and the stream is then read from its start.
TEST_F(PlaybookDbTest, ADeletedCursorRowIsMadeAgain) {
  health_.UpsertAccount("acme", hv1::TIER_SMB, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  Consume();
  EXPECT_EQ(Count("SELECT last_sequence FROM consumer_cursors WHERE consumer = 'health'"), 1);
  Execute("DELETE FROM consumer_cursors WHERE consumer = 'health'");
  health_.Band("acme", hv1::BAND_RED);
  // The first pass finds the row gone (applying nothing), the next makes it again.
  Consume();
  Consume();
  EXPECT_EQ(Count("SELECT last_sequence FROM consumer_cursors WHERE consumer = 'health'"), 2);
  EXPECT_TRUE(RunOf("acme", "red-emergency-response").has_value());
}

TEST_F(PlaybookDbTest, GreenExpansionSignalsOpenOneOpportunityEach) {
  health_.UpsertAccount("acme", hv1::TIER_ENTERPRISE, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.UpsertAccount("sick", hv1::TIER_SMB, "csm-bo", hv1::LIFECYCLE_ADOPTING);
  health_.ExpansionSignal("acme", "sig-1", hv1::BAND_GREEN);
  health_.ExpansionSignal("sick", "sig-2", hv1::BAND_RED);
  Consume();
  ASSERT_OK(service_->Sweep());
  std::map<std::string, ev1::Opportunity> opened = expansion_server_.opened();
  ASSERT_EQ(opened.size(), 1u);
  const ev1::Opportunity& o = opened.begin()->second;
  EXPECT_EQ(o.account_id(), "acme");
  EXPECT_EQ(o.kind(), ev1::OPPORTUNITY_KIND_INTEGRATION_EXPANSION);
  EXPECT_EQ(o.source(), ev1::OPPORTUNITY_SOURCE_PLAYBOOK);
  EXPECT_EQ(o.tier(), ev1::TIER_ENTERPRISE);
  // Replaying the stream and sweeping again opens nothing more.
  Execute("UPDATE consumer_cursors SET last_sequence = 0 WHERE consumer = 'health'");
  Consume();
  clock_.Advance(absl::Hours(1));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(expansion_server_.opened().size(), 1u);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM expansion_requests WHERE sent_at IS NOT NULL"), 1);
}

// One open opportunity per interest (account, signal kind, feature): later signals
// join it, in the same sweep or a later one; once it is won or lost, the next
// signal opens a new one.
TEST_F(PlaybookDbTest, RepeatedSignalsOfAnInterestJoinItsOpenOpportunity) {
  health_.UpsertAccount("acme", hv1::TIER_ENTERPRISE, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.ExpansionSignal("acme", "sig-1", hv1::BAND_GREEN);
  health_.ExpansionSignal("acme", "sig-2", hv1::BAND_GREEN);
  health_.ExpansionSignal("acme", "sig-3", hv1::BAND_GREEN, "hubspot");
  Consume();
  ASSERT_OK(service_->Sweep());
  ASSERT_EQ(expansion_server_.opened().size(), 2u) << "salesforce and hubspot";
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT opportunity_id) FROM expansion_requests"
                  " WHERE sent_at IS NOT NULL AND feature = 'salesforce'"),
            1);
  std::string salesforce;
  for (const auto& [request_id, o] : expansion_server_.opened()) {
    if (o.title() == "Expansion interest: salesforce") salesforce = o.opportunity_id();
  }
  ASSERT_FALSE(salesforce.empty());

  // A later sweep: joins while open; expansion down means retry, not a second one.
  health_.ExpansionSignal("acme", "sig-4", hv1::BAND_GREEN);
  Consume();
  expansion_server_.SetDown(true);
  clock_.Advance(absl::Minutes(1));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM expansion_requests WHERE sent_at IS NULL"), 1);
  expansion_server_.SetDown(false);
  clock_.Advance(absl::Minutes(2));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(expansion_server_.opened().size(), 2u);
  EXPECT_EQ(Count(absl::StrCat("SELECT COUNT(*) FROM expansion_requests WHERE opportunity_id = '",
                               salesforce, "'")),
            3);

  // Won: the next signal opens a new opportunity.
  expansion_server_.SetStage(salesforce, ev1::STAGE_CLOSED_WON);
  health_.ExpansionSignal("acme", "sig-5", hv1::BAND_GREEN);
  Consume();
  clock_.Advance(absl::Minutes(1));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(expansion_server_.opened().size(), 3u);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM expansion_requests WHERE sent_at IS NULL"), 0);
}

// Two replicas sweeping signals of one interest at the same moment, neither having
// seen the other's opportunity: both ask under the interest's request id, so one
// opportunity is opened and both requests name it.
TEST_F(PlaybookDbTest, TwoReplicasSweepingOneInterestAtOnceOpenOneOpportunity) {
  health_.UpsertAccount("acme", hv1::TIER_ENTERPRISE, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.ExpansionSignal("acme", "sig-1", hv1::BAND_GREEN);
  health_.ExpansionSignal("acme", "sig-2", hv1::BAND_GREEN);
  Consume();
  ASSERT_EQ(Count("SELECT COUNT(*) FROM expansion_requests"), 2);
  // One is due a little later, so each replica claims one.
  Execute("UPDATE expansion_requests SET next_attempt_at = next_attempt_at + INTERVAL 10 SECOND"
          " ORDER BY request_id LIMIT 1");
  expansion_server_.HoldCreates(2);
  std::unique_ptr<PlaybookService> other = MakeService(pool_.get());
  absl::Status first;
  std::thread sweeping([&] { first = service_->Sweep().status(); });
  for (int i = 0; i < 500 && expansion_server_.held() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(expansion_server_.held(), 1) << "the first replica's create did not arrive";
  clock_.Advance(absl::Seconds(11));
  ASSERT_OK(other->Sweep());
  sweeping.join();
  ASSERT_OK(first);
  EXPECT_EQ(expansion_server_.opened().size(), 1u);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM expansion_requests WHERE sent_at IS NOT NULL"), 2);
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT opportunity_id) FROM expansion_requests"), 1);
}

// A call applies at most the configured page of events (the default: 500).
TEST_F(PlaybookDbTest, AConsumerCallAppliesOnePageOfTheConfiguredSize) {
  for (int i = 0; i < 7; ++i) {
    health_.UpsertAccount(absl::StrCat("acct-", i), hv1::TIER_SMB, "csm-ann",
                          hv1::LIFECYCLE_ADOPTING);
  }
  PlaybookService::Options small;
  small.consume_page_size = 3;
  std::unique_ptr<PlaybookService> paged = MakeService(pool_.get(), small);
  EXPECT_THAT(paged->ConsumeHealthEvents(), IsOkAndHolds(3));
  EXPECT_THAT(paged->ConsumeHealthEvents(), IsOkAndHolds(3));
  EXPECT_THAT(paged->ConsumeHealthEvents(), IsOkAndHolds(1));
  for (int i = 0; i < 600; ++i) health_.Band("acct-1", i % 2 ? hv1::BAND_RED : hv1::BAND_YELLOW);
  EXPECT_THAT(service_->ConsumeHealthEvents(), IsOkAndHolds(500));
  EXPECT_THAT(service_->ConsumeHealthEvents(), IsOkAndHolds(100));
}

TEST_F(PlaybookDbTest, APageOfEventsReadsItsAccountsInOneCall) {
  // Accounts new to this service whose events carry no profile.
  for (int i = 0; i < 30; ++i) {
    health_.SetAccountQuietly(absl::StrCat("acct-", i), hv1::TIER_SMB, "csm-ann");
    health_.Band(absl::StrCat("acct-", i), hv1::BAND_RED);
  }
  Consume();
  EXPECT_EQ(health_.account_calls(), std::make_pair(1, 0)) << "(ListAccounts, GetAccount)";
  for (int i = 0; i < 30; ++i) {
    std::optional<playbooks::Run> run = RunOf(absl::StrCat("acct-", i), "red-emergency-response");
    ASSERT_TRUE(run.has_value()) << i;
    EXPECT_EQ(run->owner_id, "csm-ann") << i;
  }

  // The feed by itself: unknown ids are left out; the cached ones cost no call.
  GrpcHealthFeed feed(address_, &clock_, GrpcHealthFeed::Options{});
  absl::StatusOr<std::map<std::string, AccountProfile>> got =
      feed.GetAccounts({"acct-3", "nobody", "acct-7", "acct-3"});
  ASSERT_OK(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(got->at("acct-7").tier, "SMB");
  ASSERT_OK(feed.GetAccounts({"acct-7"}));
  EXPECT_EQ(health_.account_calls(), std::make_pair(2, 0));

  // A health that ignores the filter (older than it) is asked one account at a time.
  health_.SetOld(true);
  GrpcHealthFeed fresh(address_, &clock_, GrpcHealthFeed::Options{});
  got = fresh.GetAccounts({"acct-1", "nobody"});
  ASSERT_OK(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->count("acct-1"), 1u);
  EXPECT_EQ(health_.account_calls(), std::make_pair(3, 2));
}

// Health is asked only for the profiles of accounts this service has no row of and
// whose first event in the page carries none. An account it knows takes every
// profile change from the stream, at the event that carries it, and not from
// health's current answer: events replayed from an old cursor see the profile they
// were published under.
TEST_F(PlaybookDbTest, KnownAccountsTakeTheirProfilesFromTheStream) {
  health_.UpsertAccount("acme", hv1::TIER_SMB, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.Band("acme", hv1::BAND_YELLOW);
  Consume();
  EXPECT_EQ(health_.account_calls(), std::make_pair(0, 0)) << "the upsert carried the profile";

  // Past the feed's cache: every page of a known account's events asked again before.
  for (int page = 0; page < 3; ++page) {
    clock_.Advance(absl::Minutes(5));
    health_.Score("acme", 61 + page, hv1::BAND_YELLOW);
    Consume();
  }
  EXPECT_EQ(health_.account_calls(), std::make_pair(0, 0)) << "(ListAccounts, GetAccount)";
  EXPECT_EQ(Count("SELECT ROUND(score) FROM account_standing WHERE account_id = 'acme'"), 63);

  // A profile health changed without an event reaches a known account only as far
  // as its events carry it (a score change names the tier, not the owner); the next
  // ACCOUNT_UPSERTED carries all of it, with the hand-over of open CSM work.
  health_.SetAccountQuietly("acme", hv1::TIER_ENTERPRISE, "csm-bo");
  health_.Band("acme", hv1::BAND_RED);
  Consume();
  EXPECT_EQ(health_.account_calls(), std::make_pair(0, 0));
  std::optional<playbooks::Run> red = RunOf("acme", "red-emergency-response");
  ASSERT_TRUE(red.has_value());
  EXPECT_EQ(red->owner_id, "csm-ann");
  EXPECT_EQ(cs::testing::QueryRows(*pool_, "SELECT tier, owner_id FROM accounts"
                                           " WHERE account_id = 'acme'"),
            (std::vector<std::string>{"ENTERPRISE\tcsm-ann"}));
  health_.UpsertAccount("acme", hv1::TIER_ENTERPRISE, "csm-bo", hv1::LIFECYCLE_ADOPTING);
  Consume();
  EXPECT_EQ(cs::testing::QueryRows(*pool_, "SELECT tier, owner_id FROM accounts"
                                           " WHERE account_id = 'acme'"),
            (std::vector<std::string>{"ENTERPRISE\tcsm-bo"}));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM tasks WHERE account_id = 'acme' AND role = 'CSM'"
                  " AND status = 'OPEN' AND assignee_id = 'csm-ann'"),
            0);

  // One page: a new account whose first event carries its profile costs no call;
  // one whose first event does not is asked for, once, with the page's other such.
  health_.UpsertAccount("beta", hv1::TIER_MID_MARKET, "csm-cy", hv1::LIFECYCLE_ADOPTING);
  health_.Band("beta", hv1::BAND_RED);
  health_.SetAccountQuietly("gamma", hv1::TIER_MID_MARKET, "csm-di");
  health_.Band("gamma", hv1::BAND_RED);
  health_.Band("acme", hv1::BAND_YELLOW);
  Consume();
  EXPECT_EQ(health_.account_calls(), std::make_pair(1, 0));
  ASSERT_TRUE(RunOf("gamma", "red-emergency-response").has_value());
  EXPECT_EQ(RunOf("gamma", "red-emergency-response")->owner_id, "csm-di");
  ASSERT_TRUE(RunOf("beta", "red-emergency-response").has_value());
  EXPECT_EQ(RunOf("beta", "red-emergency-response")->owner_id, "csm-cy");
}

// The accounts of a committed page are known to this replica from then on without a
// read (rows are never deleted), so a rescore's pages of known accounts cost none;
// an account another replica inserted is read once, then remembered.
TEST_F(PlaybookDbTest, KnownAccountsAreRememberedOnceTheirPageCommits) {
  health_.UpsertAccount("acme", hv1::TIER_SMB, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  Consume();
  MySqlPlaybookRepository& first = *replicas_.front().repository;
  // The row taken away behind the replica's back: the answer did not read it.
  Execute("DELETE FROM accounts WHERE account_id = 'acme'");
  EXPECT_THAT(first.KnownAccounts({"nobody", "acme"}),
              IsOkAndHolds(std::set<std::string>{"acme"}));

  // A second replica reads: the row is gone for it.
  std::unique_ptr<PlaybookService> other_service = MakeService(pool_.get());
  MySqlPlaybookRepository& other = *replicas_.back().repository;
  EXPECT_THAT(other.KnownAccounts({"acme"}), IsOkAndHolds(std::set<std::string>{}));
  // It inserts "beta" with its page; the first replica reads it once, then remembers it.
  health_.UpsertAccount("beta", hv1::TIER_SMB, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  Consume(other_service.get());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM accounts WHERE account_id = 'beta'"), 1);
  EXPECT_THAT(first.KnownAccounts({"beta"}), IsOkAndHolds(std::set<std::string>{"beta"}));
  Execute("DELETE FROM accounts WHERE account_id = 'beta'");
  EXPECT_THAT(first.KnownAccounts({"beta", "gamma"}),
              IsOkAndHolds(std::set<std::string>{"beta"}));
  EXPECT_THAT(other.KnownAccounts({"beta"}), IsOkAndHolds(std::set<std::string>{"beta"}));
}

// A page whose events for an account are score changes alone updates the account's
// standing without reading or locking its runs: it goes through while another
// transaction holds them. A band change in the page still waits for them.
TEST_F(PlaybookDbTest, ScoreChangesAloneLeaveTheAccountsRunsAlone) {
  health_.UpsertAccount("acme", hv1::TIER_MID_MARKET, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.Band("acme", hv1::BAND_RED);
  Consume();
  ASSERT_TRUE(RunOf("acme", "red-emergency-response").has_value());

  db::Pool::Lease other =
      HoldRows("SELECT run_id FROM runs WHERE account_id = 'acme' AND active_flag = 1 FOR UPDATE");
  health_.Score("acme", 41, hv1::BAND_RED);
  health_.Score("acme", 44.5, hv1::BAND_RED);
  std::atomic<bool> scores_applied{false};
  std::thread scores = ConsumeInBackground(scores_applied);
  EXPECT_TRUE(SetWithin5s(scores_applied)) << "score changes waited for the account's runs";
  if (!scores_applied.load()) other->Execute("COMMIT");
  scores.join();
  EXPECT_EQ(Count("SELECT ROUND(score * 10) FROM account_standing WHERE account_id = 'acme'"),
            445);

  health_.Band("acme", hv1::BAND_YELLOW);
  std::atomic<bool> band_applied{false};
  std::thread band = ConsumeInBackground(band_applied);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(band_applied.load()) << "a band change did not read the account's runs";
  other->Execute("COMMIT");
  band.join();
  EXPECT_TRUE(RunOf("acme", "yellow-recovery").has_value());
}

// A page whose events for an account this replica knows are score changes alone,
// naming the tier the account's row has, neither reads nor locks that row: the
// standing moves while another transaction holds it. A score change naming another
// tier (health changed it without an event the stream still holds) updates the row,
// so it waits; an account new to the replica still gets its row.
TEST_F(PlaybookDbTest, ScoreChangesOfAKnownAccountLeaveItsRowAlone) {
  health_.UpsertAccount("acme", hv1::TIER_MID_MARKET, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.Band("acme", hv1::BAND_YELLOW);
  Consume();

  db::Pool::Lease other = HoldRows("SELECT tier FROM accounts WHERE account_id = 'acme' FOR UPDATE");
  health_.Score("acme", 61, hv1::BAND_YELLOW);
  health_.Score("acme", 63.5, hv1::BAND_YELLOW);
  std::atomic<bool> scores_applied{false};
  std::thread scores = ConsumeInBackground(scores_applied);
  EXPECT_TRUE(SetWithin5s(scores_applied)) << "score changes waited for the account's row";
  if (!scores_applied.load()) other->Execute("COMMIT");
  scores.join();
  EXPECT_EQ(Count("SELECT ROUND(score * 10) FROM account_standing WHERE account_id = 'acme'"),
            635);

  health_.SetAccountQuietly("acme", hv1::TIER_ENTERPRISE, "csm-ann");
  health_.Score("acme", 64, hv1::BAND_YELLOW);
  std::atomic<bool> tier_applied{false};
  std::thread tier = ConsumeInBackground(tier_applied);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(tier_applied.load()) << "a new tier was applied without the account's row";
  other->Execute("COMMIT");
  tier.join();
  EXPECT_EQ(cs::testing::QueryRows(*pool_, "SELECT tier FROM accounts WHERE account_id = 'acme'"),
            (std::vector<std::string>{"ENTERPRISE"}));
  EXPECT_EQ(Count("SELECT ROUND(score) FROM account_standing WHERE account_id = 'acme'"), 64);

  health_.SetAccountQuietly("beta", hv1::TIER_SMB, "csm-cy");
  health_.Score("beta", 70, hv1::BAND_YELLOW);
  Consume();
  EXPECT_EQ(cs::testing::QueryRows(*pool_, "SELECT CONCAT(tier, ' ', owner_id) FROM accounts"
                                           " WHERE account_id = 'beta'"),
            (std::vector<std::string>{"SMB csm-cy"}));
}

// Later events of an account in one page see what the earlier ones wrote (the row
// read for the page is kept current, not read again).
TEST_F(PlaybookDbTest, LaterEventsOfAnAccountInAPageSeeEarlierWrites) {
  // A repeated band is no new entry: one trigger, not two.
  health_.UpsertAccount("same", hv1::TIER_SMB, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.Band("same", hv1::BAND_RED);
  health_.Band("same", hv1::BAND_RED);
  // Churned earlier in the page: a later RED starts nothing.
  health_.UpsertAccount("gone", hv1::TIER_SMB, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.Churn("gone");
  health_.Band("gone", hv1::BAND_RED);
  // A new owner, then RED: the run goes to the new owner.
  health_.UpsertAccount("moved", hv1::TIER_SMB, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.UpsertAccount("moved", hv1::TIER_SMB, "csm-bo", hv1::LIFECYCLE_ADOPTING);
  health_.Band("moved", hv1::BAND_RED);
  health_.Band("moved", hv1::BAND_GREEN);
  Consume();

  std::optional<playbooks::Run> same = RunOf("same", "red-emergency-response");
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->trigger_count, 1);
  EXPECT_FALSE(RunOf("gone", "red-emergency-response").has_value());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM accounts WHERE account_id = 'gone'"
                  " AND churned_at IS NOT NULL AND lifecycle = 'CHURNED'"),
            1);
  std::optional<playbooks::Run> moved = RunOf("moved", "red-emergency-response");
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->owner_id, "csm-bo");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM accounts WHERE account_id = 'moved' AND band = 'GREEN'"
                  " AND owner_id = 'csm-bo'"),
            1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE account_id = 'moved' AND active_flag = 1"
                  " AND green_since IS NULL"),
            0);
}

// A page's runs, triggers and cohort draws are read up front and written when the
// page is done; every event of the page must still see what the earlier ones did.
// The same stream applied in one page and one event per page (a second schema)
// leaves the same rows.
TEST_F(PlaybookDbTest, OnePageLeavesTheRowsThatOneEventPerPageLeaves) {
  std::unique_ptr<cs::testing::TestDatabase> single_db;
  CS_TEST_DATABASE_OR_SKIP(single_db, "pbone");
  db::Pool single_pool(single_db->config());
  ASSERT_OK(db::ApplyMigrations(
      single_pool, {{"common", &common_migrations()}, {"playbooks", &playbooks_migrations()}}));
  PlaybookService::Options one;
  one.consume_page_size = 1;
  std::unique_ptr<PlaybookService> single = MakeService(&single_pool, one);
  ASSERT_OK(single->EnsureDefaultPlaybooks());
  Playbook alert = DefaultPlaybooks()[1];
  alert.playbook_id = "usage-rescue";
  alert.trigger = Trigger();
  alert.trigger.kind = TriggerKind::kAlertOpened;
  alert.trigger.alert_kind = "USAGE_DECLINE";
  alert.holdout_percent = 0;
  ASSERT_OK(service_->CreatePlaybook({"CreatePlaybook", "", ""}, playbook_codec_, alert));
  ASSERT_OK(single->CreatePlaybook({"CreatePlaybook", "", ""}, playbook_codec_, alert));

  auto later = [&] { clock_.Advance(absl::Minutes(7)); };
  for (const std::string id : {"a", "c", "d"}) {
    health_.UpsertAccount(id, hv1::TIER_SMB, "csm-ann");
    later();
  }
  // Interleaved, so one account's events are spread over the page. (b's work is
  // handed over to its later owner at the upsert that names the owner.)
  health_.FirstValue("d");  // marks the onboarding run opened earlier in the page
  health_.UpsertAccount("b", hv1::TIER_SMB, "csm-ann");
  health_.Band("a", hv1::BAND_RED);  // a RED run and its cohort draw
  later();
  health_.Band("b", hv1::BAND_RED);
  health_.Band("c", hv1::BAND_RED);  // its run is unwritten when c churns
  later();
  health_.Band("a", hv1::BAND_GREEN);  // green_since on the unwritten runs, cohort recovered
  health_.AlertOpened("a", hv1::ALERT_KIND_USAGE_DECLINE);  // opens GREEN: green from now
  later();
  health_.UpsertAccount("b", hv1::TIER_SMB, "csm-bo");  // hand-over of unwritten work
  health_.Churn("c");                                   // ends runs opened in the page
  health_.Band("c", hv1::BAND_YELLOW);                  // churned: nothing opens
  later();
  health_.Band("a", hv1::BAND_RED);  // the RED run is bumped, green_since cleared
  health_.Band("b", hv1::BAND_YELLOW);
  health_.AlertOpened("a", hv1::ALERT_KIND_USAGE_DECLINE);  // bumped too
  later();
  health_.Band("a", hv1::BAND_YELLOW);
  health_.Band("d", hv1::BAND_RED);

  ASSERT_THAT(service_->ConsumeHealthEvents(), IsOkAndHolds(18));
  for (int i = 0; i < 18; ++i) ASSERT_THAT(single->ConsumeHealthEvents(), IsOkAndHolds(1));
  EXPECT_THAT(single->ConsumeHealthEvents(), IsOkAndHolds(0));

  // Everything but the run ids (from the trigger's sequence, the same in both) and
  // the consumer's own clock, which is the same too: the rows must match exactly.
  const std::vector<std::string> queries = {
      "SELECT run_id, playbook_id, account_id, state, owner_id, trigger_key, triggered_at,"
      " trigger_count, last_triggered_at, green_since, exit_green_days, fail_on_churn,"
      " ended_at, end_reason, active_flag, reached_value_at FROM runs ORDER BY run_id",
      "SELECT playbook_id, account_id, trigger_key, run_id FROM run_triggers"
      " ORDER BY playbook_id, account_id, trigger_key",
      "SELECT playbook_id, account_id, arm, draw, entered_at, recovered_at, churned_at"
      " FROM cohort ORDER BY playbook_id, account_id",
      "SELECT task_id, run_id, account_id, step_index, role, assignee_id, status, due_at,"
      " escalate_at FROM tasks ORDER BY task_id",
      "SELECT account_id, band, churned_at, owner_id FROM accounts ORDER BY account_id",
      "SELECT kind, subject_id, payload FROM event_log ORDER BY sequence"};
  for (const std::string& q : queries) {
    const std::vector<std::string> paged = cs::testing::QueryRows(*pool_, q);
    EXPECT_FALSE(paged.empty()) << q;
    EXPECT_EQ(paged, cs::testing::QueryRows(single_pool, q)) << q;
  }
  // And the scenario did what the comments say.
  EXPECT_EQ(cs::testing::QueryRows(*pool_, "SELECT account_id, band FROM accounts"
                                           " ORDER BY account_id"),
            (std::vector<std::string>{"a\tYELLOW", "b\tYELLOW", "c\tYELLOW", "d\tRED"}));
  EXPECT_EQ(Count("SELECT trigger_count FROM runs WHERE account_id = 'a'"
                  " AND playbook_id = 'red-emergency-response'"),
            2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE account_id = 'a' AND active_flag = 1"
                  " AND green_since IS NOT NULL"),
            0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM cohort WHERE account_id = 'a'"
                  " AND recovered_at IS NOT NULL"),
            1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE account_id = 'c' AND active_flag = 1"
                  " AND playbook_id <> 'win-back'"),
            0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE account_id = 'c' AND state = 'FAILED'"
                  " AND playbook_id = 'red-emergency-response'"),
            1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE account_id = 'd'"
                  " AND reached_value_at IS NOT NULL"),
            1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM tasks WHERE account_id = 'b' AND role = 'CSM'"
                  " AND status = 'OPEN' AND assignee_id = 'csm-ann'"),
            0);
  EXPECT_GT(Count("SELECT COUNT(*) FROM tasks WHERE account_id = 'b' AND assignee_id = 'csm-bo'"),
            0);
}

TEST_F(PlaybookDbTest, HoldOutAccountsGetNoRunAndLiftComparesArms) {
  Playbook p = DefaultPlaybooks()[1];  // YELLOW recovery
  p.playbook_id = "yellow-holdout";
  p.holdout_percent = 50;
  ASSERT_OK(service_->CreatePlaybook({"CreatePlaybook", "", ""}, playbook_codec_, p));
  constexpr int kAccounts = 40;
  for (int i = 0; i < kAccounts; ++i) {
    const std::string id = absl::StrCat("acct-", i);
    health_.UpsertAccount(id, hv1::TIER_SMB, "csm-bo", hv1::LIFECYCLE_ADOPTING);
    health_.Band(id, hv1::BAND_YELLOW);
  }
  Consume();
  // Half the accounts recover.
  for (int i = 0; i < kAccounts; i += 2) health_.Band(absl::StrCat("acct-", i), hv1::BAND_GREEN);
  Consume();
  const int64_t held_out = Count("SELECT COUNT(*) FROM cohort WHERE playbook_id = 'yellow-holdout'"
                                 " AND arm = 'HELD_OUT'");
  EXPECT_GT(held_out, 5);
  EXPECT_LT(held_out, 35);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE playbook_id = 'yellow-holdout'"),
            kAccounts - held_out);
  // The draw is the recorded one, per account: the same accounts every time.
  for (int i = 0; i < kAccounts; ++i) {
    const std::string id = absl::StrCat("acct-", i);
    const bool out = HoldoutDraw("yellow-holdout", id) * 100 < 50;
    EXPECT_EQ(RunOf(id, "yellow-holdout").has_value(), !out) << id;
  }
  absl::StatusOr<PlaybookLift> lift = service_->GetPlaybookLift("yellow-holdout");
  ASSERT_OK(lift);
  EXPECT_EQ(lift->held_out.accounts, held_out);
  EXPECT_EQ(lift->treated.accounts + lift->held_out.accounts, kAccounts);
  EXPECT_EQ(lift->treated.recovered + lift->held_out.recovered, kAccounts / 2);
  EXPECT_LE(lift->recovery.low, lift->recovery.estimate);
  EXPECT_GE(lift->recovery.high, lift->recovery.estimate);
  EXPECT_THAT(service_->GetPlaybookLift("nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(PlaybookDbTest, RenewalRunOpensOnceAheadOfTheRenewalDate) {
  const absl::CivilDay renewal(2027, 6, 1);
  health_.UpsertAccount("acme", hv1::TIER_SMB, "csm-ann", hv1::LIFECYCLE_ADOPTING,
                        absl::CivilDay(2026, 6, 1), renewal);
  Consume();
  // 90 days before 1 June 2027 is 3 March 2027.
  for (int day = 0; day <= 120; ++day) {
    clock_.Set(kStart + absl::Hours(24 * day));
    ASSERT_OK(service_->Sweep());
    const bool due = absl::ToCivilDay(clock_.Now(), absl::UTCTimeZone()) >= renewal - 90;
    ASSERT_EQ(RunOf("acme", "renewal-value-review").has_value(), due) << "day " << day;
  }
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE playbook_id = 'renewal-value-review'"), 1);
  std::optional<playbooks::Run> run = RunOf("acme", "renewal-value-review");
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->trigger_key, "renewal:2027-06-01");
  const std::vector<Task> tasks = TasksOf("acme", run->run_id);
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(absl::ToCivilDay(tasks[0].due_at, absl::UTCTimeZone()), absl::CivilDay(2027, 3, 3));
}

TEST_F(PlaybookDbTest, AlertTriggersOpenTheirPlaybooks) {
  Playbook p = DefaultPlaybooks()[1];
  p.playbook_id = "payment-recovery";
  p.trigger = Trigger();
  p.trigger.kind = TriggerKind::kAlertOpened;
  p.trigger.alert_kind = "PAYMENT_FAILURE";
  p.tiers = {"ENTERPRISE"};
  ASSERT_OK(service_->CreatePlaybook({"CreatePlaybook", "", ""}, playbook_codec_, p));
  health_.UpsertAccount("big", hv1::TIER_ENTERPRISE, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.UpsertAccount("small", hv1::TIER_SMB, "csm-bo", hv1::LIFECYCLE_ADOPTING);
  health_.AlertOpened("big", hv1::ALERT_KIND_USAGE_DECLINE);
  health_.AlertOpened("small", hv1::ALERT_KIND_PAYMENT_FAILURE);
  Consume();
  EXPECT_FALSE(RunOf("big", "payment-recovery").has_value());    // another alert kind
  EXPECT_FALSE(RunOf("small", "payment-recovery").has_value());  // another tier
  health_.AlertOpened("big", hv1::ALERT_KIND_PAYMENT_FAILURE);
  Consume();
  std::optional<playbooks::Run> run = RunOf("big", "payment-recovery");
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(TasksOf("big", run->run_id).size(), p.steps.size());
}

TEST_F(PlaybookDbTest, ANewOwnerTakesOverOpenCsmWork) {
  health_.UpsertAccount("acme", hv1::TIER_SMB, "csm-ann");
  Consume();
  std::optional<playbooks::Run> run = RunOf("acme", "onboarding-smb");
  ASSERT_TRUE(run.has_value());
  std::vector<Task> tasks = TasksOf("acme", run->run_id);
  ASSERT_EQ(tasks.size(), 5u);
  ASSERT_OK(service_->CompleteTask({"CompleteTask", "", ""}, task_codec_, tasks[0].task_id, "done",
                                   ""));
  ASSERT_OK(service_->ReassignTask({"ReassignTask", "", ""}, task_codec_, tasks[1].task_id,
                                   "csm-temp", ""));
  health_.UpsertAccount("acme", hv1::TIER_SMB, "csm-bo");
  Consume();
  tasks = TasksOf("acme", run->run_id);
  EXPECT_EQ(tasks[0].assignee_id, "csm-ann");   // completed: history stays
  EXPECT_EQ(tasks[1].assignee_id, "csm-temp");  // reassigned by hand: left alone
  for (size_t i = 2; i < tasks.size(); ++i) EXPECT_EQ(tasks[i].assignee_id, "csm-bo");
  EXPECT_EQ(RunOf("acme", "onboarding-smb")->owner_id, "csm-bo");
}

TEST_F(PlaybookDbTest, ConsumerThroughput) {
  constexpr int kAccounts = 300;
  for (int i = 0; i < kAccounts; ++i) {
    const std::string id = absl::StrCat("acct-", i);
    health_.UpsertAccount(id, hv1::TIER_SMB, "csm-bo", hv1::LIFECYCLE_ADOPTING);
    health_.Band(id, i % 2 == 0 ? hv1::BAND_YELLOW : hv1::BAND_RED);
  }
  const absl::Time start = absl::Now();
  Consume();
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(Count("SELECT last_sequence FROM consumer_cursors WHERE consumer = 'health'"),
            2 * kAccounts);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs"), kAccounts);
  const double rate = 2 * kAccounts / absl::ToDoubleSeconds(took);
  std::cout << "consumer: " << 2 * kAccounts << " events (" << kAccounts << " runs, "
            << Count("SELECT COUNT(*) FROM tasks") << " tasks) in " << absl::FormatDuration(took)
            << " = " << static_cast<int>(rate) << " events/s\n";
  RecordProperty("events_per_second", static_cast<int>(rate));
}

TEST_F(PlaybookDbTest, ProgramMetricsMeasureInterventions) {
  health_.UpsertAccount("fast", hv1::TIER_ENTERPRISE, "csm-ann", hv1::LIFECYCLE_ADOPTING);
  health_.UpsertAccount("slow", hv1::TIER_SMB, "csm-bo", hv1::LIFECYCLE_ADOPTING);
  health_.Band("fast", hv1::BAND_YELLOW);
  health_.Band("slow", hv1::BAND_YELLOW);
  Consume();
  std::optional<playbooks::Run> fast = RunOf("fast", "yellow-recovery");
  std::optional<playbooks::Run> slow = RunOf("slow", "yellow-recovery");
  ASSERT_TRUE(fast.has_value() && slow.has_value());
  // The fast account is called within its 48 h; the slow one only after 72 h.
  clock_.Set(kStart + absl::Hours(10));
  ASSERT_OK(service_->CompleteTask({"CompleteTask", "", ""}, task_codec_, fast->run_id + ".0",
                                   "reached sponsor", ""));
  clock_.Set(kStart + absl::Hours(72));
  ASSERT_OK(service_->Sweep());  // the slow account's call escalated at 48 h
  ASSERT_OK(service_->CompleteTask({"CompleteTask", "", ""}, task_codec_, slow->run_id + ".0",
                                   "reached sponsor", ""));
  // The fast account recovers, the slow one churns.
  health_.Band("fast", hv1::BAND_GREEN);
  health_.Churn("slow");
  Consume();
  clock_.Set(kStart + absl::Hours(72 + 24 * 15));
  ASSERT_OK(service_->Sweep());
  absl::StatusOr<ProgramReport> report =
      service_->GetProgramMetrics(kStart - absl::Hours(1), clock_.Now());
  ASSERT_OK(report);
  const ProgramMetrics& m = report->overall;
  EXPECT_EQ(m.risk_runs, 2);
  EXPECT_EQ(m.risk_runs_succeeded, 1);
  EXPECT_EQ(m.risk_runs_failed, 1);
  EXPECT_DOUBLE_EQ(m.intervention_success_rate, 0.5);
  EXPECT_DOUBLE_EQ(m.yellow_recovery_rate, 0.5);
  EXPECT_DOUBLE_EQ(m.time_to_intervention_median_hours, 41);
  EXPECT_DOUBLE_EQ(m.time_to_intervention_mean_hours, 41);
  EXPECT_EQ(m.tasks_completed, 2);
  EXPECT_EQ(m.tasks_within_sla, 1);
  ASSERT_EQ(report->by_tier.size(), 2u);
  EXPECT_EQ(report->by_tier[0].tier, "ENTERPRISE");
  EXPECT_DOUBLE_EQ(report->by_tier[0].time_to_intervention_median_hours, 10);
  EXPECT_EQ(report->by_tier[1].tier, "SMB");
  EXPECT_DOUBLE_EQ(report->by_tier[1].sla_attainment, 0);
  EXPECT_THAT(service_->GetProgramMetrics(clock_.Now(), kStart),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("from")));
}

TEST_F(PlaybookDbTest, WatchTasksResumesFromASequence) {
  health_.UpsertAccount("acme", hv1::TIER_SMB, "csm-ann");
  Consume();
  absl::StatusOr<PlaybookService::EventPage> page = service_->ListTaskEvents(0, 1000);
  ASSERT_OK(page);
  ASSERT_EQ(page->events.size(), 5u);  // the five SMB onboarding tasks
  std::vector<int64_t> seen;
  PlaybookService::WatchSink sink;
  sink.event = [&](const TaskEvent& e) {
    seen.push_back(e.sequence);
    return seen.size() < 3;
  };
  sink.heartbeat = [](int64_t, absl::Time) { return false; };
  ASSERT_OK(service_->WatchTasks(2, absl::Milliseconds(100), sink));
  EXPECT_THAT(seen, ::testing::ElementsAre(3, 4, 5));
  EXPECT_EQ(page->events[2].kind, TaskEventKind::kCreated);
}

// The handler through a real in-process gRPC server: mapping, validation messages,
// page tokens and the task stream.
TEST_F(PlaybookDbTest, HandlerValidatesPagesAndStreams) {
  MySqlEscalationRepository chains(pool_.get(), &clock_);
  EscalationService escalations(&chains, &clock_);
  PlaybookHandler handler(&escalations, service_.get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&handler);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::PlaybookService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  auto ctx = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return c;
  };

  v1::CreatePlaybookRequest create;
  PlaybookToProto(DefaultPlaybooks().front(), create.mutable_playbook());
  create.mutable_playbook()->set_playbook_id("custom");
  create.mutable_playbook()->mutable_steps(0)->set_role(static_cast<v1::Role>(77));
  v1::CreatePlaybookResponse created;
  grpc::Status s = stub->CreatePlaybook(ctx().get(), create, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("playbook.steps[0].role"));
  create.mutable_playbook()->mutable_steps(0)->set_role(v1::ROLE_CSM);
  create.mutable_playbook()->mutable_steps(0)->mutable_due_offset()->set_seconds(-60);
  s = stub->CreatePlaybook(ctx().get(), create, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("playbook.steps[0].due_offset"));
  create.mutable_playbook()->mutable_steps(0)->mutable_due_offset()->set_seconds(3600);
  create.set_request_id("create-custom");
  s = stub->CreatePlaybook(ctx().get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(created.playbook().version(), 1);
  v1::CreatePlaybookResponse replayed;
  s = stub->CreatePlaybook(ctx().get(), create, &replayed);
  ASSERT_TRUE(s.ok()) << s.error_message();  // the retry answers as the first time
  EXPECT_EQ(replayed.playbook().version(), 1);

  health_.UpsertAccount("acme", hv1::TIER_ENTERPRISE, "csm-ann");
  Consume();
  // Eight onboarding tasks, three per page, in due order.
  v1::ListTasksRequest list;
  list.set_account_id("acme");
  list.set_page_size(3);
  std::vector<std::string> ids;
  int pages = 0;
  do {
    v1::ListTasksResponse page;
    s = stub->ListTasks(ctx().get(), list, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const v1::Task& t : page.tasks()) ids.push_back(t.task_id());
    list.set_page_token(page.next_page_token());
    ++pages;
  } while (!list.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(ids.size(), 8u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 8u);
  list.set_page_token("not-a-token");
  v1::ListTasksResponse bad;
  s = stub->ListTasks(ctx().get(), list, &bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token"));

  v1::CompleteTaskRequest complete;
  complete.set_task_id("nope");
  complete.set_outcome("x");
  v1::CompleteTaskResponse completed;
  s = stub->CompleteTask(ctx().get(), complete, &completed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  // The stream: eight events, then heartbeats while idle.
  v1::WatchTasksRequest watch;
  watch.mutable_heartbeat_interval()->set_nanos(200'000'000);
  auto stream_ctx = ctx();
  auto reader = stub->WatchTasks(stream_ctx.get(), watch);
  v1::WatchTasksResponse item;
  int events = 0;
  while (reader->Read(&item)) {
    if (item.has_event()) {
      ++events;
      EXPECT_EQ(item.event().sequence(), events);
      continue;
    }
    EXPECT_EQ(item.heartbeat().last_sequence(), 8);
    break;
  }
  EXPECT_EQ(events, 8);
  stream_ctx->TryCancel();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

}  // namespace
}  // namespace cs::playbooks
