// Onboarding metrics and advocacy over the real MariaDB, fed through the real
// consumer by an in-process fake of health's event API, with the fake clock.

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/db/migrations.h"
#include "common/server/proto_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "services/playbooks/advocacy_mapping.h"
#include "services/playbooks/advocacy_service.h"
#include "services/playbooks/advocacy_store.h"
#include "services/playbooks/grpc_peers.h"
#include "services/playbooks/mysql_escalation_repository.h"
#include "services/playbooks/mysql_playbook_repository.h"
#include "services/playbooks/onboarding_service.h"
#include "services/playbooks/playbook_service.h"
#include "services/playbooks/proto_mapping.h"

namespace cs::playbooks {
namespace {

namespace hv1 = ::cs::health::v1;
namespace v1 = ::cs::playbooks::v1;
using ::cs::testing::StatusIs;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Health's event log and accounts as playbooks reads them.
class FakeHealth final : public hv1::AccountHealthService::Service {
 public:
  explicit FakeHealth(const Clock* clock) : clock_(clock) {}

  grpc::Status ListEvents(grpc::ServerContext*, const hv1::ListEventsRequest* request,
                          hv1::ListEventsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    const int limit = request->page_size() == 0 ? 100 : request->page_size();
    for (const hv1::Event& e : events_) {
      if (e.sequence() <= request->after_sequence()) continue;
      if (response->events_size() >= limit) break;
      *response->add_events() = e;
    }
    response->set_last_sequence(static_cast<int64_t>(events_.size()));
    return grpc::Status::OK;
  }

  grpc::Status GetAccount(grpc::ServerContext*, const hv1::GetAccountRequest* request,
                          hv1::GetAccountResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = accounts_.find(request->account_id());
    if (it == accounts_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such account");
    *response->mutable_account() = it->second;
    return grpc::Status::OK;
  }

  void Upsert(const std::string& id, hv1::Tier tier, hv1::Lifecycle lifecycle,
              int64_t arr = 0) {
    hv1::Account a;
    a.set_account_id(id);
    a.set_tier(tier);
    a.set_owner_id("csm-" + id);
    a.set_industry(hv1::INDUSTRY_SAAS);
    a.set_lifecycle(lifecycle);
    if (arr > 0) {
      a.mutable_arr()->set_minor_units(arr);
      a.mutable_arr()->set_currency_code("USD");
    }
    std::lock_guard<std::mutex> lock(mu_);
    accounts_[id] = a;
    *Append(hv1::EVENT_KIND_ACCOUNT_UPSERTED, id).mutable_account() = a;
  }

  void Churn(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    accounts_[id].set_lifecycle(hv1::LIFECYCLE_CHURNED);
    *Append(hv1::EVENT_KIND_ACCOUNT_CHURNED, id).mutable_account() = accounts_[id];
  }

  // A score change of the "health" score; with band_changed a BAND_CHANGED too
  // (health publishes both when the band moves).
  void Score(const std::string& id, double score, hv1::Band band, bool band_changed = false) {
    std::lock_guard<std::mutex> lock(mu_);
    for (hv1::EventKind kind : {hv1::EVENT_KIND_SCORE_CHANGED, hv1::EVENT_KIND_BAND_CHANGED}) {
      if (kind == hv1::EVENT_KIND_BAND_CHANGED && !band_changed) continue;
      hv1::ScoreChange* s = Append(kind, id).mutable_score_change();
      s->set_account_id(id);
      s->set_score_name("health");
      s->set_score(score);
      s->set_band(band);
      s->set_tier(accounts_[id].tier());
    }
  }

  void Nps(const std::string& id, double score, absl::Time at) {
    std::lock_guard<std::mutex> lock(mu_);
    hv1::NpsRecorded* n = Append(hv1::EVENT_KIND_NPS_RECORDED, id).mutable_nps_recorded();
    n->set_signal_event_id(absl::StrCat("nps-", events_.size()));
    n->set_score(score);
    ToTimestamp(at, n->mutable_responded_at());
  }

  void FirstValue(const std::string& id, absl::Time at) {
    std::lock_guard<std::mutex> lock(mu_);
    hv1::FirstValueReached* f =
        Append(hv1::EVENT_KIND_FIRST_VALUE_REACHED, id).mutable_first_value_reached();
    f->set_tier(accounts_[id].tier());
    ToTimestamp(at, f->mutable_reached_at());
    f->set_signal_event_id(absl::StrCat("fv-", events_.size()));
  }

 private:
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
};

class NoExpansion final : public ExpansionClient {
 public:
  absl::StatusOr<std::string> CreateOpportunity(const OpportunityRequest&) override {
    return absl::UnavailableError("not in this test");
  }
  absl::StatusOr<bool> IsOpen(const std::string&) override {
    return absl::UnavailableError("not in this test");
  }
};

const absl::Time kT0 = absl::FromCivil(absl::CivilSecond(2027, 3, 1, 9, 0, 0), absl::UTCTimeZone());
absl::Time Day(double d) { return kT0 + absl::Hours(24 * d); }

class OutcomesDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "pbout");
    pool_ = std::make_unique<db::Pool>(db_->config());
    ASSERT_OK(db::ApplyMigrations(
        *pool_, {{"common", &common_migrations()}, {"playbooks", &playbooks_migrations()}}));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&health_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    repository_ = std::make_unique<MySqlPlaybookRepository>(pool_.get(), &clock_,
                                                            TaskEventCodecForOutbox());
    feed_ = std::make_unique<GrpcHealthFeed>(absl::StrCat("127.0.0.1:", port), &clock_,
                                             GrpcHealthFeed::Options{});
    playbooks_ = std::make_unique<PlaybookService>(repository_.get(), feed_.get(), &expansion_,
                                                   &clock_, PlaybookService::Options{});
    ASSERT_OK(playbooks_->EnsureDefaultPlaybooks());
    outcomes_ = std::make_unique<MySqlOutcomeRepository>(pool_.get(), &clock_);
    onboarding_ = std::make_unique<OnboardingService>(outcomes_.get(), &clock_);
    advocacy_ = std::make_unique<AdvocacyService>(outcomes_.get(), &clock_);
    task_codec_ = ProtoCodec<Task, v1::Task>(TaskToProto, TaskFromProto);
    run_codec_ = ProtoCodec<playbooks::Run, v1::Run>(RunToProto, RunFromProto);
    ask_codec_ = ProtoCodec<AdvocacyAsk, v1::AdvocacyAsk>(
        AskToProto, [](const v1::AdvocacyAsk& p) { return AskFromProto(p); });
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  void Consume() {
    for (int i = 0; i < 100; ++i) {
      absl::StatusOr<int> applied = playbooks_->ConsumeHealthEvents();
      ASSERT_OK(applied);
      if (*applied == 0) return;
    }
    FAIL() << "consumer never caught up";
  }

  std::optional<playbooks::Run> OnboardingRun(const std::string& account_id) {
    RunFilter f;
    f.account_id = account_id;
    f.page_size = 100;
    absl::StatusOr<RunPage> page = playbooks_->ListRuns(f);
    EXPECT_OK(page);
    if (!page.ok()) return std::nullopt;
    for (const playbooks::Run& r : page->runs) {
      if (absl::StartsWith(r.playbook_id, "onboarding-")) return r;
    }
    return std::nullopt;
  }

  std::string Column(const std::string& sql, const std::string& param) {
    std::string out = "no row";
    EXPECT_OK(pool_->Run([&](db::Connection& c) -> absl::Status {
      auto& stmt = c.Prepare(sql);
      stmt.setString(1, param);
      std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
      if (rs->next()) out = rs->isNull(1) ? "null" : std::string(rs->getString(1));
      return absl::OkStatus();
    }));
    return out;
  }

  static absl::Time At(const std::string& column) {
    absl::StatusOr<absl::Time> t = db::FromSqlDatetime(column);
    EXPECT_OK(t) << column;
    return t.ok() ? *t : absl::InfinitePast();
  }

  void CompleteAllTasks(const std::string& run_id) {
    TaskFilter f;
    f.run_id = run_id;
    f.page_size = 100;
    absl::StatusOr<TaskPage> tasks = playbooks_->ListTasks(f);
    ASSERT_OK(tasks);
    ASSERT_FALSE(tasks->tasks.empty());
    for (const Task& t : tasks->tasks) {
      ASSERT_OK(playbooks_->CompleteTask({"CompleteTask", "", ""}, task_codec_, t.task_id, "done", ""));
    }
  }

  absl::StatusOr<AdvocacyAsk> Ask(const std::string& account, AdvocacyKind kind,
                                  const std::string& override_reason = "",
                                  const std::string& request_id = "") {
    AdvocacyAsk a;
    a.account_id = account;
    a.kind = kind;
    a.asked_by = "csm-1";
    a.override_reason = override_reason;
    return advocacy_->RecordAsk({"RecordAdvocacyAsk", request_id, absl::StrCat(account, static_cast<int>(kind))},
                                ask_codec_, a);
  }

  std::vector<std::string> CandidateIds(const CandidateCriteria& c = {}) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<AdvocateCandidate>> list = advocacy_->ListCandidates(c);
    EXPECT_OK(list);
    if (list.ok()) {
      for (const AdvocateCandidate& a : *list) out.push_back(a.account_id);
    }
    return out;
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<db::Pool> pool_;
  FakeClock clock_{kT0};
  FakeHealth health_{&clock_};
  NoExpansion expansion_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MySqlPlaybookRepository> repository_;
  std::unique_ptr<GrpcHealthFeed> feed_;
  std::unique_ptr<PlaybookService> playbooks_;
  std::unique_ptr<MySqlOutcomeRepository> outcomes_;
  std::unique_ptr<OnboardingService> onboarding_;
  std::unique_ptr<AdvocacyService> advocacy_;
  db::ResultCodec<Task> task_codec_;
  db::ResultCodec<playbooks::Run> run_codec_;
  db::ResultCodec<AdvocacyAsk> ask_codec_;
};

// A page's score and band moves are written once per account when the page is
// done; what is stored must be what the moves applied one by one would leave.
TEST_F(OutcomesDbTest, APageOfBandMovesLeavesGreenSinceAsEachMoveInTurnWould) {
  for (const char* id : {"keep", "restart", "leave", "fresh"}) {
    health_.Upsert(id, hv1::TIER_MID_MARKET, hv1::LIFECYCLE_ADOPTING);
  }
  for (const char* id : {"keep", "restart", "leave"}) health_.Score(id, 90, hv1::BAND_GREEN, true);
  Consume();
  const std::string green_since =
      "SELECT green_since FROM account_standing WHERE account_id = ?";
  ASSERT_EQ(At(Column(green_since, "restart")), Day(0));
  // One page from here on.
  clock_.Set(Day(5));
  health_.Score("keep", 91, hv1::BAND_GREEN);
  health_.Score("restart", 40, hv1::BAND_RED, true);
  health_.Score("leave", 92, hv1::BAND_GREEN);
  health_.Score("fresh", 95, hv1::BAND_GREEN, true);
  clock_.Set(Day(6));
  health_.Score("keep", 93, hv1::BAND_GREEN);
  health_.Score("restart", 90, hv1::BAND_GREEN, true);
  health_.Score("leave", 30, hv1::BAND_RED, true);
  health_.Score("fresh", 45, hv1::BAND_RED, true);
  clock_.Set(Day(7));
  health_.Score("restart", 91, hv1::BAND_GREEN);
  health_.Score("fresh", 96, hv1::BAND_GREEN, true);
  absl::StatusOr<int> applied = playbooks_->ConsumeHealthEvents();
  ASSERT_OK(applied);
  ASSERT_EQ(*applied, 16);  // the whole page in one transaction
  // GREEN throughout: the stored start stays.
  EXPECT_EQ(At(Column(green_since, "keep")), Day(0));
  // RED in between: GREEN again from the first GREEN after it, not the stored start.
  EXPECT_EQ(At(Column(green_since, "restart")), Day(6));
  EXPECT_EQ(Column(green_since, "leave"), "null");
  EXPECT_EQ(At(Column(green_since, "fresh")), Day(7));
  const std::string standing =
      "SELECT CONCAT(score, ' ', band) FROM account_standing WHERE account_id = ?";
  EXPECT_EQ(Column(standing, "keep"), "93 GREEN");
  EXPECT_EQ(Column(standing, "restart"), "91 GREEN");
  EXPECT_EQ(Column(standing, "leave"), "30 RED");
  EXPECT_EQ(Column(standing, "fresh"), "96 GREEN");
}

TEST_F(OutcomesDbTest, FirstValueMarksTheOnboardingRunOnce) {
  health_.Upsert("s1", hv1::TIER_SMB, hv1::LIFECYCLE_ONBOARDING);
  Consume();
  std::optional<playbooks::Run> run = OnboardingRun("s1");
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->playbook_id, "onboarding-smb");
  const std::string sql = "SELECT reached_value_at FROM runs WHERE run_id = ?";
  EXPECT_EQ(Column(sql, run->run_id), "null");

  clock_.Advance(absl::Hours(24 * 4));
  health_.FirstValue("s1", Day(3));
  Consume();
  EXPECT_EQ(At(Column(sql, run->run_id)), Day(3));
  EXPECT_EQ(At(Column("SELECT first_value_at FROM account_standing WHERE account_id = ?", "s1")),
            Day(3));
  // Health publishes it once; even a second one (a replay) would not move it.
  health_.FirstValue("s1", Day(1));
  Consume();
  EXPECT_EQ(At(Column(sql, run->run_id)), Day(3));
}

TEST_F(OutcomesDbTest, OnboardingMetricsOnAHandMadeCohort) {
  // SMB (target 14 days, 85 %): six onboardings at T0, one at T0 + 25 days.
  for (const char* id : {"s1", "s2", "s3", "s4", "s5"}) {
    health_.Upsert(id, hv1::TIER_SMB, hv1::LIFECYCLE_ONBOARDING);
  }
  health_.Upsert("e1", hv1::TIER_ENTERPRISE, hv1::LIFECYCLE_ONBOARDING);
  health_.Upsert("m1", hv1::TIER_MID_MARKET, hv1::LIFECYCLE_ONBOARDING);
  // An account that is not onboarding has no onboarding run and is not counted.
  health_.Upsert("old", hv1::TIER_SMB, hv1::LIFECYCLE_ADOPTING);
  Consume();
  clock_.Advance(absl::Hours(24));
  health_.Churn("m1");  // fails its onboarding; a churned account is never late
  health_.FirstValue("s1", Day(2));
  health_.FirstValue("s2", Day(5));
  health_.FirstValue("s3", Day(9));
  health_.FirstValue("s4", Day(20));
  health_.FirstValue("e1", Day(3));
  Consume();
  CompleteAllTasks(OnboardingRun("s1")->run_id);
  CompleteAllTasks(OnboardingRun("s2")->run_id);
  ASSERT_OK(playbooks_->CancelRun({"CancelRun", "", ""}, run_codec_, OnboardingRun("s3")->run_id,
                                  "moved to a partner"));
  clock_.Set(Day(25));
  health_.Upsert("s6", hv1::TIER_SMB, hv1::LIFECYCLE_ONBOARDING);
  Consume();
  clock_.Set(Day(30));

  OnboardingQuery q;
  q.from = Day(-1);
  absl::StatusOr<OnboardingReport> r = onboarding_->GetOnboardingMetrics(q);
  ASSERT_OK(r);
  ASSERT_EQ(r->by_tier.size(), 4u);
  const OnboardingTierMetrics& smb = r->by_tier[2];
  EXPECT_EQ(smb.target.tier, "SMB");
  EXPECT_EQ(smb.onboardings, 6);
  EXPECT_EQ(smb.reached_value, 4);
  EXPECT_EQ(smb.reached_value_within_target, 3);
  // Days 2, 5, 9, 20: median (5 + 9) / 2 = 7, p90 9 + 0.7 * 11 = 16.7.
  EXPECT_THAT(*smb.median_days_to_value, DoubleNear(7, 1e-6));
  EXPECT_THAT(*smb.p90_days_to_value, DoubleNear(16.7, 1e-6));
  EXPECT_TRUE(smb.time_to_value_target_met);
  // s1, s2 completed; s4, s5 past their last (day 14) task; s6 (day 25) still
  // has tasks ahead; s3 cancelled: 2 of 4, under 85 %.
  EXPECT_EQ(smb.completed, 2);
  EXPECT_EQ(smb.not_completed, 2);
  EXPECT_EQ(smb.in_progress, 1);
  EXPECT_THAT(*smb.completion_rate, DoubleNear(0.5, 1e-12));
  EXPECT_FALSE(smb.completion_target_met);
  const OnboardingTierMetrics& ent = r->by_tier[0];
  EXPECT_EQ(ent.onboardings, 1);
  EXPECT_THAT(*ent.median_days_to_value, DoubleNear(3, 1e-6));
  EXPECT_TRUE(ent.time_to_value_target_met);
  EXPECT_EQ(ent.in_progress, 1);  // the enterprise plan runs to day 90
  const OnboardingTierMetrics& mid = r->by_tier[1];
  EXPECT_EQ(mid.not_completed, 1);
  EXPECT_THAT(*mid.completion_rate, DoubleNear(0, 1e-12));

  // Late now (day 30), a task being overdue once its 2-day SLA after the due time
  // is over: s4 (value at day 20 but tasks overdue), s5 (no value, tasks overdue),
  // s6 (tasks of its days 0 and 1 overdue; 5 days in, not yet past 14);
  // e1 (value, enterprise tasks overdue too). Not m1 (churned), s1/s2 (done), s3.
  std::map<std::string, LateOnboarding> late;
  for (const LateOnboarding& l : r->late) late[l.account_id] = l;
  EXPECT_EQ(late.size(), 4u);
  ASSERT_TRUE(late.count("s5"));
  EXPECT_THAT(late["s5"].reasons,
              ElementsAre(LateReason::kNoValuePastTarget, LateReason::kOnboardingOverdue));
  EXPECT_EQ(late["s5"].overdue_tasks, 5);  // days 0, 1, 3, 7, 14
  EXPECT_EQ(*late["s5"].oldest_overdue_due_at, Day(0));
  ASSERT_TRUE(late.count("s4"));
  EXPECT_THAT(late["s4"].reasons, ElementsAre(LateReason::kOnboardingOverdue));
  ASSERT_TRUE(late.count("s6"));
  EXPECT_THAT(late["s6"].reasons, ElementsAre(LateReason::kOnboardingOverdue));
  EXPECT_EQ(late["s6"].overdue_tasks, 2);
  EXPECT_EQ(*late["s6"].oldest_overdue_due_at, Day(25));
  EXPECT_TRUE(late.count("e1"));
  EXPECT_EQ(r->late.front().account_id, "e1");  // oldest first, then by id
  EXPECT_EQ(late["s5"].target_days, 14);

  // One tier, with its own target: SMB at 5 days, 50 %.
  q.tier = "SMB";
  q.targets = {{"SMB", 5, 0.5}};
  r = onboarding_->GetOnboardingMetrics(q);
  ASSERT_OK(r);
  ASSERT_EQ(r->by_tier.size(), 1u);
  EXPECT_EQ(r->by_tier[0].reached_value_within_target, 2);
  EXPECT_FALSE(r->by_tier[0].time_to_value_target_met);
  EXPECT_TRUE(r->by_tier[0].completion_target_met);
  for (const LateOnboarding& l : r->late) EXPECT_EQ(l.tier, "SMB");
  // A period before everything is empty.
  OnboardingQuery before;
  before.from = Day(-30);
  before.to = Day(-1);
  r = onboarding_->GetOnboardingMetrics(before);
  ASSERT_OK(r);
  EXPECT_EQ(r->by_tier[2].onboardings, 0);
  EXPECT_TRUE(r->late.empty());
}

TEST_F(OutcomesDbTest, OnboardingMetricsRefuseBadInput) {
  OnboardingQuery q;
  q.from = Day(2);
  q.to = Day(1);
  EXPECT_THAT(onboarding_->GetOnboardingMetrics(q),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("from")));
  q = {};
  q.targets = {{"SMB", 0, 0.5}};
  EXPECT_THAT(onboarding_->GetOnboardingMetrics(q),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("targets[0].time_to_value_days")));
  q.targets = {{"SMB", 5, 0.5}, {"SMB", 6, 0.5}};
  EXPECT_THAT(onboarding_->GetOnboardingMetrics(q),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("targets[1].tier")));
  q = {};
  q.late_limit = 5000;
  EXPECT_THAT(onboarding_->GetOnboardingMetrics(q),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("late_limit")));
}

class AdvocacyDbTest : public OutcomesDbTest {
 protected:
  // At T0: accounts that pass every rule but one; by day 60 the GREEN ones have
  // been GREEN 60 days.
  void Portfolio() {
    for (const char* id : {"good1", "good2", "low_score", "low_nps", "no_nps", "red_run",
                           "yellow_run", "churned", "asked", "asked_long_ago", "new_green",
                           "smb"}) {
      health_.Upsert(id, std::string(id) == "smb" ? hv1::TIER_SMB : hv1::TIER_ENTERPRISE,
                     hv1::LIFECYCLE_ADOPTING, std::string(id) == "good2" ? 5'000'000 : 0);
    }
    health_.Score("good1", 92, hv1::BAND_GREEN, true);
    health_.Score("good2", 85, hv1::BAND_GREEN, true);
    health_.Score("low_score", 78, hv1::BAND_GREEN, true);
    health_.Score("low_nps", 90, hv1::BAND_GREEN, true);
    health_.Score("no_nps", 90, hv1::BAND_GREEN, true);
    // A RED and a YELLOW episode opened risk runs that are still active.
    health_.Score("red_run", 40, hv1::BAND_RED, true);
    health_.Score("yellow_run", 65, hv1::BAND_YELLOW, true);
    health_.Score("churned", 90, hv1::BAND_GREEN, true);
    health_.Score("asked", 90, hv1::BAND_GREEN, true);
    health_.Score("asked_long_ago", 88, hv1::BAND_GREEN, true);
    health_.Score("smb", 95, hv1::BAND_GREEN, true);
    Consume();
    clock_.Set(Day(1));
    health_.Score("red_run", 90, hv1::BAND_GREEN, true);
    health_.Score("yellow_run", 90, hv1::BAND_GREEN, true);
    for (const char* id : {"good1", "low_score", "red_run", "yellow_run", "churned",
                           "asked", "asked_long_ago", "new_green", "smb"}) {
      health_.Nps(id, 10, Day(1));
    }
    health_.Nps("good2", 9, Day(1));
    // The latest answer counts, whatever order they arrive in.
    health_.Nps("low_nps", 7, Day(2));
    health_.Nps("low_nps", 10, Day(0.5));
    Consume();
    // A score move inside GREEN keeps the account's GREEN days.
    clock_.Set(Day(5));
    health_.Score("good1", 91, hv1::BAND_GREEN);
    Consume();
    clock_.Set(Day(10));
    ASSERT_OK(Ask("asked_long_ago", AdvocacyKind::kReference));
    clock_.Set(Day(50));
    health_.Churn("churned");
    Consume();
    ASSERT_OK(Ask("asked", AdvocacyKind::kCaseStudy));
    // A first score, GREEN, on day 90: 11 days GREEN by day 101.
    clock_.Set(Day(90));
    health_.Score("new_green", 95, hv1::BAND_GREEN, true);
    Consume();
    clock_.Set(Day(101));  // asked_long_ago: 91 days ago; asked: 51
  }
};

TEST_F(AdvocacyDbTest, CandidatesAreGreenHighScorePromotersStableAndNotInRiskOrAsked) {
  Portfolio();
  // Defaults: score >= 80, NPS >= 9, GREEN 30 days. Ranked by score, then NPS.
  absl::StatusOr<std::vector<AdvocateCandidate>> list = advocacy_->ListCandidates({});
  ASSERT_OK(list);
  std::vector<std::string> ids;
  for (const AdvocateCandidate& c : *list) ids.push_back(c.account_id);
  EXPECT_THAT(ids, ElementsAre("smb", "good1", "asked_long_ago", "good2"));
  const AdvocateCandidate& good1 = (*list)[1];
  EXPECT_EQ(good1.tier, "ENTERPRISE");
  EXPECT_EQ(good1.owner_id, "csm-good1");
  EXPECT_EQ(good1.score, 91);
  EXPECT_EQ(good1.nps, 10);
  EXPECT_EQ(good1.nps_at, Day(1));
  EXPECT_EQ(good1.green_since, Day(0));
  EXPECT_THAT(good1.days_stable, DoubleNear(101, 1e-9));
  EXPECT_FALSE(good1.arr_minor.has_value());
  EXPECT_EQ(*(*list)[3].arr_minor, 5'000'000);
  EXPECT_EQ((*list)[3].arr_currency, "USD");

  // Each rule on its own: relaxing it brings back exactly the account it kept out.
  CandidateCriteria c;
  c.min_score = 75;
  EXPECT_THAT(CandidateIds(c), ElementsAre("smb", "good1", "asked_long_ago", "good2", "low_score"));
  c = {};
  c.min_nps = 7;
  EXPECT_THAT(CandidateIds(c), ElementsAre("smb", "good1", "low_nps", "asked_long_ago", "good2"));
  c = {};
  c.min_green_days = 10;  // new_green turned GREEN on day 90: 11 days; ties with smb
  EXPECT_THAT(CandidateIds(c),
              ElementsAre("smb", "new_green", "good1", "asked_long_ago", "good2"));
  c.min_green_days = 12;
  EXPECT_THAT(CandidateIds(c), ElementsAre("smb", "good1", "asked_long_ago", "good2"));
  // no_nps never answered; red_run and yellow_run are GREEN again but their risk
  // runs are still active; churned is churned; asked was asked 51 days ago.
  c = {};
  c.min_nps = 0;
  c.min_score = 0;
  c.min_green_days = 0;
  std::vector<std::string> all = CandidateIds(c);
  for (const char* out : {"no_nps", "red_run", "yellow_run", "churned", "asked"}) {
    EXPECT_THAT(all, ::testing::Not(::testing::Contains(out))) << out;
  }
  // Ending the risk runs brings those two back.
  RunFilter f;
  f.page_size = 100;
  f.state = RunState::kActive;
  for (const char* id : {"red_run", "yellow_run"}) {
    f.account_id = id;
    absl::StatusOr<RunPage> runs = playbooks_->ListRuns(f);
    ASSERT_OK(runs);
    ASSERT_FALSE(runs->runs.empty());
    for (const playbooks::Run& r : runs->runs) {
      ASSERT_OK(playbooks_->CancelRun({"CancelRun", "", ""}, run_codec_, r.run_id, "recovered"));
    }
  }
  all = CandidateIds(c);
  EXPECT_THAT(all, ::testing::Contains("red_run"));
  EXPECT_THAT(all, ::testing::Contains("yellow_run"));
  // Tier filter and limit.
  c = {};
  c.tier = "SMB";
  EXPECT_THAT(CandidateIds(c), ElementsAre("smb"));
  c = {};
  c.limit = 2;
  EXPECT_THAT(CandidateIds(c), ElementsAre("smb", "good1"));
  c = {};
  c.min_nps = 11;
  EXPECT_THAT(advocacy_->ListCandidates(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_nps")));
}

TEST_F(AdvocacyDbTest, AnAccountIsAskedAtMostOnceAQuarterUnlessOverridden) {
  health_.Upsert("a1", hv1::TIER_SMB, hv1::LIFECYCLE_ADOPTING);
  health_.Upsert("a2", hv1::TIER_SMB, hv1::LIFECYCLE_ADOPTING);
  Consume();
  absl::StatusOr<AdvocacyAsk> first = Ask("a1", AdvocacyKind::kReference, "", "ask-1");
  ASSERT_OK(first);
  EXPECT_GT(first->ask_id, 0);
  EXPECT_EQ(first->status, AskStatus::kRequested);
  EXPECT_EQ(first->asked_at, kT0);
  // The retry answers the same ask and writes nothing.
  absl::StatusOr<AdvocacyAsk> retry = Ask("a1", AdvocacyKind::kReference, "", "ask-1");
  ASSERT_OK(retry);
  EXPECT_EQ(retry->ask_id, first->ask_id);

  // 89 days later, any kind: refused, naming when it was last asked.
  clock_.Set(Day(89));
  EXPECT_THAT(Ask("a1", AdvocacyKind::kReferral),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr("last asked on 2027-03-01"),
                                        HasSubstr("REFERENCE"), HasSubstr("override_reason"))));
  // Another account is not affected; an override goes through and is kept.
  ASSERT_OK(Ask("a2", AdvocacyKind::kReferral));
  absl::StatusOr<AdvocacyAsk> overridden =
      Ask("a1", AdvocacyKind::kCaseStudy, "customer offered a case study");
  ASSERT_OK(overridden);
  EXPECT_EQ(overridden->override_reason, "customer offered a case study");
  // The quarter counts from the latest ask (day 89): day 150 is too early, 180 fine.
  clock_.Set(Day(150));
  EXPECT_THAT(Ask("a1", AdvocacyKind::kReference),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("2027-05-29")));
  clock_.Set(Day(180));
  ASSERT_OK(Ask("a1", AdvocacyKind::kReference));

  EXPECT_THAT(Ask("nobody", AdvocacyKind::kReference),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nobody")));
  EXPECT_THAT(Ask("a2", AdvocacyKind::kUnspecified),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kind")));
  AdvocacyAsk no_owner;
  no_owner.account_id = "a2";
  no_owner.kind = AdvocacyKind::kReference;
  EXPECT_THAT(advocacy_->RecordAsk({"RecordAdvocacyAsk", "", "x"}, ask_codec_, no_owner),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("asked_by")));
  // Three asks of a1 and one of a2 stored; the refused ones wrote nothing.
  AskFilter all;
  absl::StatusOr<AskPage> page = advocacy_->ListAsks(all);
  ASSERT_OK(page);
  EXPECT_EQ(page->asks.size(), 4u);
}

TEST_F(AdvocacyDbTest, AsksMoveThroughTheirStatusesAndList) {
  health_.Upsert("a1", hv1::TIER_SMB, hv1::LIFECYCLE_ADOPTING);
  health_.Upsert("a2", hv1::TIER_SMB, hv1::LIFECYCLE_ADOPTING);
  health_.Upsert("a3", hv1::TIER_SMB, hv1::LIFECYCLE_ADOPTING);
  Consume();
  absl::StatusOr<AdvocacyAsk> a1 = Ask("a1", AdvocacyKind::kReference);
  ASSERT_OK(a1);
  ASSERT_OK(Ask("a2", AdvocacyKind::kCaseStudy));
  ASSERT_OK(Ask("a3", AdvocacyKind::kReferral));
  clock_.Advance(absl::Hours(5));
  absl::StatusOr<AdvocacyAsk> agreed = advocacy_->UpdateAsk(
      {"UpdateAdvocacyAsk", "u1", "f1"}, ask_codec_, a1->ask_id, AskStatus::kAgreed, "happy to");
  ASSERT_OK(agreed);
  EXPECT_EQ(agreed->status, AskStatus::kAgreed);
  EXPECT_EQ(agreed->note, "happy to");
  EXPECT_EQ(agreed->updated_at, kT0 + absl::Hours(5));
  EXPECT_THAT(advocacy_->UpdateAsk({"UpdateAdvocacyAsk", "", ""}, ask_codec_, a1->ask_id,
                                   AskStatus::kRequested, ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("AGREED")));
  ASSERT_OK(advocacy_->UpdateAsk({"UpdateAdvocacyAsk", "", ""}, ask_codec_, a1->ask_id,
                                 AskStatus::kCompleted, ""));
  EXPECT_THAT(advocacy_->UpdateAsk({"UpdateAdvocacyAsk", "", ""}, ask_codec_, a1->ask_id,
                                   AskStatus::kDeclined, ""),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // The first update's retry answers as before, even though the ask moved on.
  absl::StatusOr<AdvocacyAsk> replay = advocacy_->UpdateAsk(
      {"UpdateAdvocacyAsk", "u1", "f1"}, ask_codec_, a1->ask_id, AskStatus::kAgreed, "happy to");
  ASSERT_OK(replay);
  EXPECT_EQ(replay->status, AskStatus::kAgreed);
  EXPECT_THAT(advocacy_->UpdateAsk({"UpdateAdvocacyAsk", "", ""}, ask_codec_, 999,
                                   AskStatus::kAgreed, ""),
              StatusIs(absl::StatusCode::kNotFound));

  AskFilter f;
  f.page_size = 2;
  absl::StatusOr<AskPage> page = advocacy_->ListAsks(f);
  ASSERT_OK(page);
  ASSERT_EQ(page->asks.size(), 2u);
  EXPECT_EQ(page->asks[0].account_id, "a3");  // newest first
  ASSERT_GT(page->next_before, 0);
  f.before_ask_id = page->next_before;
  page = advocacy_->ListAsks(f);
  ASSERT_OK(page);
  ASSERT_EQ(page->asks.size(), 1u);
  EXPECT_EQ(page->asks[0].account_id, "a1");
  EXPECT_EQ(page->asks[0].status, AskStatus::kCompleted);
  EXPECT_EQ(page->next_before, 0);
  AskFilter by_kind;
  by_kind.kind = AdvocacyKind::kCaseStudy;
  page = advocacy_->ListAsks(by_kind);
  ASSERT_OK(page);
  ASSERT_EQ(page->asks.size(), 1u);
  EXPECT_EQ(page->asks[0].account_id, "a2");
  AskFilter by_status;
  by_status.status = AskStatus::kRequested;
  by_status.account_id = "a1";
  EXPECT_TRUE(advocacy_->ListAsks(by_status)->asks.empty());
}

}  // namespace
}  // namespace cs::playbooks
