// Success plans over the real MariaDB with the fake clock, reading health through
// an in-process fake of its gRPC API (event log and GetHealth).

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/db/event_log.h"
#include "common/db/migrations.h"
#include "common/hash.h"
#include "common/server/proto_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "services/playbooks/grpc_handler.h"
#include "services/playbooks/grpc_peers.h"
#include "services/playbooks/mysql_escalation_repository.h"
#include "services/playbooks/mysql_playbook_repository.h"
#include "services/playbooks/mysql_success_plan_repository.h"
#include "services/playbooks/playbook_service.h"
#include "services/playbooks/proto_mapping.h"
#include "services/playbooks/success_plan_health_client.h"
#include "services/playbooks/success_plan_mapping.h"
#include "services/playbooks/success_plan_service.h"

namespace cs::playbooks {
namespace {

namespace hv1 = ::cs::health::v1;
namespace v1 = ::cs::playbooks::v1;
using ::cs::testing::StatusIs;
using ::testing::HasSubstr;

// Health as success plans see it: an event log and each account's current health.
class FakeHealth final : public hv1::AccountHealthService::Service {
 public:
  explicit FakeHealth(const Clock* clock) : clock_(clock) {}

  grpc::Status ListEvents(grpc::ServerContext*, const hv1::ListEventsRequest* request,
                          hv1::ListEventsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
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

  grpc::Status GetHealth(grpc::ServerContext*, const hv1::GetHealthRequest* request,
                         hv1::GetHealthResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++get_health_calls_;
    if (down_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "health is down");
    auto it = health_.find(request->account_id());
    if (it == health_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no score");
    *response->mutable_health() = it->second;
    return grpc::Status::OK;
  }

  grpc::Status GetAccount(grpc::ServerContext*, const hv1::GetAccountRequest* request,
                          hv1::GetAccountResponse* response) override {
    hv1::Account* a = response->mutable_account();
    a->set_account_id(request->account_id());
    a->set_tier(hv1::TIER_ENTERPRISE);
    a->set_industry(hv1::INDUSTRY_SAAS);
    a->set_owner_id("csm-ann");
    a->set_lifecycle(hv1::LIFECYCLE_ADOPTING);
    return grpc::Status::OK;
  }

  // Sets the account's health without publishing anything (a quiet change).
  void SetHealth(const std::string& id, double score, double adoption, double logins) {
    std::lock_guard<std::mutex> lock(mu_);
    hv1::Health& h = health_[id];
    h.Clear();
    h.set_account_id(id);
    h.set_score_name("health");
    h.set_score(score);
    hv1::ComponentScore* c = h.add_components();
    c->set_component(hv1::COMPONENT_FEATURE_ADOPTION);
    c->set_measure("distinct_features_used");
    c->set_normalized(adoption);
    c->set_raw(adoption / 10);
    c = h.add_components();
    c->set_component(hv1::COMPONENT_PRODUCT_USAGE);
    c->set_measure("logins_per_week");
    c->set_raw(logins);
    c->set_normalized(std::min(100.0, logins / 3));
  }

  // Publishes SCORE_CHANGED for the account.
  void ScoreChanged(const std::string& id, double score) {
    std::lock_guard<std::mutex> lock(mu_);
    hv1::Event& e = events_.emplace_back();
    e.set_sequence(static_cast<int64_t>(events_.size()));
    e.set_kind(hv1::EVENT_KIND_SCORE_CHANGED);
    e.set_account_id(id);
    ToTimestamp(clock_->Now(), e.mutable_occurred_at());
    e.mutable_score_change()->set_account_id(id);
    e.mutable_score_change()->set_score_name("health");
    e.mutable_score_change()->set_score(score);
  }

  void SetDown(bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = down;
  }
  int get_health_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return get_health_calls_;
  }

 private:
  const Clock* clock_;
  std::mutex mu_;
  std::vector<hv1::Event> events_;
  std::map<std::string, hv1::Health> health_;
  bool down_ = false;
  int get_health_calls_ = 0;
};

const absl::Time kStart =
    absl::FromCivil(absl::CivilSecond(2027, 3, 1, 9, 0, 0), absl::UTCTimeZone());
absl::Time Day(double d) { return kStart + absl::Hours(24 * d); }

class SuccessPlanDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "splan");
    pool_ = std::make_unique<db::Pool>(db_->config());
    ASSERT_OK(db::ApplyMigrations(
        *pool_, {{"common", &common_migrations()}, {"playbooks", &playbooks_migrations()}}));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&health_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = absl::StrCat("127.0.0.1:", port);
    plan_codec_ = ProtoCodec<SuccessPlan, v1::SuccessPlan>(SuccessPlanToProto, SuccessPlanFromProto);
    template_codec_ = ProtoCodec<PlanTemplate, v1::SuccessPlanTemplate>(PlanTemplateToProto,
                                                                        PlanTemplateFromProto);
    service_ = MakeService();
    ASSERT_OK(service_->EnsureDefaultTemplates());
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // One replica's worth of wiring (tests make several against the same schema).
  struct Replica {
    std::unique_ptr<MySqlSuccessPlanRepository> repository;
    std::unique_ptr<GrpcHealthFeed> feed;
    std::unique_ptr<GrpcHealthReader> reader;
  };
  std::unique_ptr<SuccessPlanService> MakeService(SuccessPlanService::Options options = {}) {
    Replica& r = replicas_.emplace_back();
    r.repository = std::make_unique<MySqlSuccessPlanRepository>(
        pool_.get(), &clock_, TaskEventCodecForOutbox(), template_codec_);
    GrpcHealthFeed::Options feed_options;
    feed_options.channel.max_attempts = 1;
    r.feed = std::make_unique<GrpcHealthFeed>(address_, &clock_, feed_options);
    GrpcHealthReader::Options reader_options;
    reader_options.channel.max_attempts = 1;
    r.reader = std::make_unique<GrpcHealthReader>(address_, reader_options);
    return std::make_unique<SuccessPlanService>(r.repository.get(), r.feed.get(), r.reader.get(),
                                                &clock_, options);
  }

  SuccessPlan NewPlan(const std::string& account_id) {
    SuccessPlan p;
    p.account_id = account_id;
    p.title = "Year one";
    p.owner_id = "csm-ann";
    p.roi_amount = Money{5000000, "USD"};
    p.roi_description = "two analysts freed from manual reporting";
    Objective o;
    o.title = "Roll out";
    Milestone a;
    a.title = "Pilot team live";
    a.due_at = Day(2);
    Milestone b;
    b.title = "All teams live";
    b.due_at = Day(5);
    b.owner_id = "pm-bo";
    o.milestones = {a, b};
    p.objectives = {o};
    return p;
  }

  absl::StatusOr<SuccessPlan> Create(const SuccessPlan& p, const std::string& request_id = "",
                                     const std::string& template_id = "") {
    // The fingerprint stands for the request without its id (WriteKeyOf hashes it).
    return service_->CreatePlan(
        {"CreateSuccessPlan", request_id, Fingerprint64Hex(p.title + "/" + template_id)},
        plan_codec_, p, template_id);
  }

  // Every MILESTONE_OVERDUE event on the outbox, read the way ListTaskEvents reads it.
  std::vector<MilestoneAlert> OverdueEvents() {
    MySqlPlaybookRepository outbox(pool_.get(), &clock_, TaskEventCodecForOutbox());
    absl::StatusOr<std::vector<TaskEvent>> events = outbox.TaskEventsAfter(0, 10000);
    EXPECT_OK(events);
    std::vector<MilestoneAlert> out;
    if (!events.ok()) return out;
    for (const TaskEvent& e : *events) {
      if (e.kind != TaskEventKind::kMilestoneOverdue) continue;
      EXPECT_TRUE(e.milestone.has_value());
      if (e.milestone.has_value()) out.push_back(*e.milestone);
    }
    return out;
  }

  int64_t Count(const std::string& sql) { return cs::testing::QueryInt(*pool_, sql); }

  const Criterion& CriterionOf(const SuccessPlan& p, const std::string& id) {
    for (const Objective& o : p.objectives) {
      for (const Criterion& c : o.criteria) {
        if (c.criterion_id == id) return c;
      }
    }
    ADD_FAILURE() << "no criterion " << id;
    static Criterion none;
    return none;
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<db::Pool> pool_;
  FakeClock clock_{kStart};
  FakeHealth health_{&clock_};
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  db::ResultCodec<SuccessPlan> plan_codec_;
  db::ResultCodec<PlanTemplate> template_codec_;
  std::list<Replica> replicas_;
  std::unique_ptr<SuccessPlanService> service_;
};

TEST_F(SuccessPlanDbTest, OverdueMilestonesAlertExactlyOnceAndNeverBeforeDue) {
  absl::StatusOr<SuccessPlan> plan = Create(NewPlan("acct-1"), "r1");
  ASSERT_OK(plan);
  EXPECT_EQ(plan->version, 1);
  EXPECT_EQ(plan->status, PlanStatus::kActive);
  ASSERT_EQ(plan->objectives[0].milestones.size(), 2u);
  const std::string first = plan->objectives[0].milestones[0].milestone_id;
  const std::string second = plan->objectives[0].milestones[1].milestone_id;

  // Right at the due time nothing is late yet.
  clock_.Set(Day(2));
  ASSERT_OK(service_->Sweep());
  EXPECT_TRUE(OverdueEvents().empty());

  clock_.Set(Day(2) + absl::Seconds(1));
  ASSERT_OK(service_->Sweep());
  ASSERT_OK(service_->Sweep());
  std::vector<MilestoneAlert> alerts = OverdueEvents();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].plan_id, plan->plan_id);
  EXPECT_EQ(alerts[0].milestone_id, first);
  EXPECT_EQ(alerts[0].account_id, "acct-1");
  EXPECT_EQ(alerts[0].owner_id, "csm-ann");  // no owner of its own: the plan's
  EXPECT_EQ(alerts[0].due_at, Day(2));

  // Completed before its due time: the second milestone never alerts.
  ASSERT_OK(service_->CompleteMilestone({"CompleteMilestone", "c1", "fc1"}, plan_codec_,
                                        plan->plan_id, second));
  clock_.Set(Day(30));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(OverdueEvents().size(), 1u);

  // Moving the first milestone's due date owes a new alert once the new date passes.
  absl::StatusOr<SuccessPlan> current = service_->GetPlan(plan->plan_id);
  ASSERT_OK(current);
  EXPECT_TRUE(current->objectives[0].milestones[0].alerted_at.has_value());
  SuccessPlan moved = *current;
  moved.objectives[0].milestones[0].due_at = Day(40);
  ASSERT_OK(service_->UpdatePlan({"UpdateSuccessPlan", "u1", "fu1"}, plan_codec_, moved));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(OverdueEvents().size(), 1u);
  clock_.Set(Day(41));
  ASSERT_OK(service_->Sweep());
  alerts = OverdueEvents();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].due_at, Day(40));

  // A cancelled plan's milestones are no longer watched.
  absl::StatusOr<SuccessPlan> again = Create(NewPlan("acct-2"), "r2");
  ASSERT_OK(again);
  SuccessPlan cancelled = *again;
  cancelled.status = PlanStatus::kCancelled;
  ASSERT_OK(service_->UpdatePlan({"UpdateSuccessPlan", "u2", "fu2"}, plan_codec_, cancelled));
  clock_.Set(Day(100));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(OverdueEvents().size(), 2u);
}

TEST_F(SuccessPlanDbTest, TwoReplicasNeverAlertTwice) {
  constexpr int kPlans = 30;
  for (int i = 0; i < kPlans; ++i) ASSERT_OK(Create(NewPlan(absl::StrCat("acct-", i))));
  clock_.Set(Day(10));
  SuccessPlanService::Options small;
  small.batch = 7;  // many short claims, so the replicas interleave
  std::unique_ptr<SuccessPlanService> a = MakeService(small);
  std::unique_ptr<SuccessPlanService> b = MakeService(small);
  auto drain = [](SuccessPlanService* s) {
    for (int round = 0; round < 200; ++round) {
      absl::StatusOr<int> done = s->Sweep();
      if (done.ok() && *done == 0) return;
    }
  };
  std::thread ta(drain, a.get());
  std::thread tb(drain, b.get());
  ta.join();
  tb.join();
  drain(service_.get());
  const std::vector<MilestoneAlert> alerts = OverdueEvents();
  std::set<std::pair<std::string, std::string>> unique;
  for (const MilestoneAlert& m : alerts) unique.insert({m.plan_id, m.milestone_id});
  EXPECT_EQ(alerts.size(), static_cast<size_t>(2 * kPlans));
  EXPECT_EQ(unique.size(), static_cast<size_t>(2 * kPlans));
}

TEST_F(SuccessPlanDbTest, CriteriaAreCheckedFromScoreEventsAndPeriodically) {
  health_.SetHealth("acct-1", 70, 60, 150);
  SuccessPlan p = NewPlan("acct-1");
  Objective o;
  o.title = "Value";
  Criterion score;
  score.criterion_id = "score";
  score.description = "Health score >= 80";
  score.source = CriterionSource::kHealthScore;
  score.comparison = Comparison::kAtLeast;
  score.target = 80;
  Criterion adoption = score;
  adoption.criterion_id = "adoption";
  adoption.description = "Feature adoption >= 70";
  adoption.source = CriterionSource::kComponent;
  adoption.name = "FEATURE_ADOPTION";
  adoption.target = 70;
  Criterion wau = score;
  wau.criterion_id = "wau";
  wau.description = "Weekly active users >= 200";
  wau.source = CriterionSource::kMeasure;
  wau.name = "logins_per_week";
  wau.target = 200;
  o.criteria = {score, adoption, wau};
  p.objectives.push_back(o);
  absl::StatusOr<SuccessPlan> plan = Create(p, "r1");
  ASSERT_OK(plan);

  // A new plan is checked at once: nothing is met yet, the values are kept.
  ASSERT_OK(service_->Sweep());
  absl::StatusOr<SuccessPlan> read = service_->GetPlan(plan->plan_id);
  ASSERT_OK(read);
  EXPECT_FALSE(CriterionOf(*read, "score").met);
  EXPECT_EQ(CriterionOf(*read, "score").last_value, 70);
  EXPECT_EQ(CriterionOf(*read, "wau").last_value, 150);
  EXPECT_EQ(CriterionOf(*read, "score").last_checked_at, kStart);
  const int calls = health_.get_health_calls();
  EXPECT_EQ(calls, 1);  // one GetHealth per account, not per criterion

  // Health improves quietly: nothing is asked until a score event or the interval.
  health_.SetHealth("acct-1", 85, 60, 210);
  clock_.Advance(absl::Minutes(5));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(health_.get_health_calls(), calls);
  EXPECT_FALSE(CriterionOf(*service_->GetPlan(plan->plan_id), "score").met);

  // SCORE_CHANGED for the account brings the check forward.
  health_.ScoreChanged("acct-1", 85);
  health_.ScoreChanged("acct-other", 40);
  absl::StatusOr<int> consumed = service_->ConsumeHealthEvents();
  ASSERT_OK(consumed);
  EXPECT_EQ(*consumed, 2);
  EXPECT_EQ(*service_->ConsumeHealthEvents(), 0);
  ASSERT_OK(service_->Sweep());
  read = service_->GetPlan(plan->plan_id);
  ASSERT_OK(read);
  EXPECT_TRUE(CriterionOf(*read, "score").met);
  EXPECT_EQ(CriterionOf(*read, "score").met_at, clock_.Now());
  EXPECT_TRUE(CriterionOf(*read, "wau").met);
  EXPECT_FALSE(CriterionOf(*read, "adoption").met);
  EXPECT_EQ(ComputeProgress(*read, clock_.Now()).criteria_met, 2);
  EXPECT_FALSE(IsAchieved(read->objectives[1]));

  // Health is away: the claimed check is left for after the lease, nothing recorded.
  health_.SetHealth("acct-1", 85, 75, 210);
  clock_.Advance(absl::Hours(7));
  health_.SetDown(true);
  EXPECT_THAT(service_->Sweep(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(CriterionOf(*service_->GetPlan(plan->plan_id), "adoption").met);
  health_.SetDown(false);
  ASSERT_OK(service_->Sweep());  // still leased
  EXPECT_FALSE(CriterionOf(*service_->GetPlan(plan->plan_id), "adoption").met);

  // The periodic check (no event) finds the adoption target reached.
  clock_.Advance(absl::Minutes(2));
  ASSERT_OK(service_->Sweep());
  read = service_->GetPlan(plan->plan_id);
  ASSERT_OK(read);
  EXPECT_TRUE(CriterionOf(*read, "adoption").met);
  EXPECT_TRUE(IsAchieved(read->objectives[1]));
  // Met criteria are not checked any more, even when health drops again.
  health_.SetHealth("acct-1", 50, 10, 10);
  const int before = health_.get_health_calls();
  clock_.Advance(absl::Hours(24));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(health_.get_health_calls(), before);
  EXPECT_TRUE(CriterionOf(*service_->GetPlan(plan->plan_id), "score").met);
}

TEST_F(SuccessPlanDbTest, TemplatesPerTierAndIndustryInstantiate) {
  absl::StatusOr<std::vector<PlanTemplate>> mid = service_->ListTemplates("MID_MARKET", "");
  ASSERT_OK(mid);
  ASSERT_EQ(mid->size(), 1u);
  EXPECT_EQ((*mid)[0].template_id, "default-mid-market");
  ASSERT_OK(service_->EnsureDefaultTemplates());  // another replica's start changes nothing
  EXPECT_EQ(service_->ListTemplates("", "")->size(), 4u);

  PlanTemplate saas = (*mid)[0];
  saas.template_id = "mid-market-saas";
  saas.name = "Mid-market SaaS";
  saas.industry = "SAAS";
  saas.objectives.resize(1);
  saas.objectives[0].milestones = {{"Integration live", 21}};
  ASSERT_OK(service_->CreateTemplate({"CreateSuccessPlanTemplate", "t1", "ft1"}, template_codec_,
                                     saas));
  EXPECT_THAT(service_->CreateTemplate({"CreateSuccessPlanTemplate", "t2", "ft2"}, template_codec_,
                                       saas),
              StatusIs(absl::StatusCode::kAlreadyExists));
  absl::StatusOr<std::vector<PlanTemplate>> for_saas = service_->ListTemplates("MID_MARKET", "SAAS");
  ASSERT_OK(for_saas);
  ASSERT_EQ(for_saas->size(), 2u);
  EXPECT_EQ((*for_saas)[0].template_id, "mid-market-saas");  // industry-specific first
  EXPECT_EQ((*for_saas)[1].template_id, "default-mid-market");
  EXPECT_EQ(service_->ListTemplates("MID_MARKET", "HEALTHCARE")->size(), 1u);
  EXPECT_THAT(service_->ListTemplates("HUGE", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tier")));

  SuccessPlan p = NewPlan("acct-9");
  p.objectives.clear();
  p.starts_at = Day(3);
  absl::StatusOr<SuccessPlan> plan = Create(p, "from-template", "mid-market-saas");
  ASSERT_OK(plan);
  EXPECT_EQ(plan->template_id, "mid-market-saas");
  ASSERT_EQ(plan->objectives.size(), 1u);
  ASSERT_EQ(plan->objectives[0].milestones.size(), 1u);
  EXPECT_EQ(plan->objectives[0].milestones[0].title, "Integration live");
  EXPECT_EQ(plan->objectives[0].milestones[0].due_at, Day(24));
  EXPECT_EQ(plan->objectives[0].milestones[0].status, MilestoneStatus::kPlanned);
  ASSERT_EQ(plan->objectives[0].criteria.size(), 1u);
  EXPECT_EQ(plan->objectives[0].criteria[0].name, "FEATURE_ADOPTION");
  EXPECT_EQ(plan->objectives[0].criteria[0].target, 70);
  EXPECT_FALSE(plan->objectives[0].criteria[0].met);

  p.objectives = NewPlan("x").objectives;
  EXPECT_THAT(Create(p, "both", "mid-market-saas"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("plan.objectives")));
  p.objectives.clear();
  EXPECT_THAT(Create(p, "missing", "no-such-template"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("template_id")));
}

TEST_F(SuccessPlanDbTest, BadInputNamesTheFieldAndWritesNothing) {
  SuccessPlan p = NewPlan("acct-1");
  p.objectives[0].milestones[1].due_at = absl::InfinitePast();
  EXPECT_THAT(Create(p, "bad1"), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("plan.objectives[0].milestones[1].due_at")));
  p = NewPlan("acct-1");
  p.owner_id = "";
  EXPECT_THAT(Create(p, "bad2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("plan.owner_id")));
  p = NewPlan("acct-1");
  p.roi_amount = Money{100, "XXQ"};
  EXPECT_THAT(Create(p, "bad3"), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("plan.expected_roi.amount")));
  p = NewPlan("");
  EXPECT_THAT(Create(p, "bad4"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("plan.account_id")));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM success_plans"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM success_plan_milestones"), 0);

  // An unknown enum value from the wire is refused by the mapping, naming the field.
  v1::SuccessPlan wire;
  wire.add_objectives()->add_criteria()->set_source(static_cast<v1::CriterionSource>(42));
  EXPECT_THAT(SuccessPlanFromProto(wire),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("plan.objectives[0].criteria[0].source")));

  absl::StatusOr<SuccessPlan> plan = Create(NewPlan("acct-1"), "ok");
  ASSERT_OK(plan);
  SuccessPlan update = *plan;
  update.objectives[0].title = "";
  EXPECT_THAT(service_->UpdatePlan({"UpdateSuccessPlan", "bad5", "f"}, plan_codec_, update),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("plan.objectives[0].title")));
  EXPECT_EQ(service_->GetPlan(plan->plan_id)->version, 1);
  EXPECT_THAT(service_->CompleteMilestone({"CompleteMilestone", "bad6", "f"}, plan_codec_,
                                          plan->plan_id, "nope"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_->GetPlan("no-such-plan"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SuccessPlanDbTest, RetriesReplayTheFirstAnswer) {
  absl::StatusOr<SuccessPlan> first = Create(NewPlan("acct-1"), "same");
  ASSERT_OK(first);
  clock_.Advance(absl::Hours(1));
  absl::StatusOr<SuccessPlan> retry = Create(NewPlan("acct-1"), "same");
  ASSERT_OK(retry);
  EXPECT_EQ(retry->plan_id, first->plan_id);
  EXPECT_EQ(retry->created_at, first->created_at);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM success_plans"), 1);
  // The same request id with another request is refused, not answered with the old plan.
  SuccessPlan other = NewPlan("acct-1");
  other.title = "Another";
  EXPECT_THAT(Create(other, "same"), StatusIs(absl::StatusCode::kInvalidArgument));

  const std::string milestone = first->objectives[0].milestones[0].milestone_id;
  absl::StatusOr<SuccessPlan> done = service_->CompleteMilestone(
      {"CompleteMilestone", "c1", "fc1"}, plan_codec_, first->plan_id, milestone);
  ASSERT_OK(done);
  EXPECT_EQ(done->version, 2);
  clock_.Advance(absl::Hours(1));
  absl::StatusOr<SuccessPlan> replay = service_->CompleteMilestone(
      {"CompleteMilestone", "c1", "fc1"}, plan_codec_, first->plan_id, milestone);
  ASSERT_OK(replay);
  EXPECT_EQ(replay->version, 2);
  EXPECT_EQ(replay->objectives[0].milestones[0].completed_at, done->objectives[0].milestones[0].completed_at);
  EXPECT_EQ(service_->GetPlan(first->plan_id)->version, 2);
}

TEST_F(SuccessPlanDbTest, StaleVersionIsAbortedAndChangesNothing) {
  absl::StatusOr<SuccessPlan> plan = Create(NewPlan("acct-1"), "r1");
  ASSERT_OK(plan);
  SuccessPlan a = *plan;
  a.title = "Renamed";
  absl::StatusOr<SuccessPlan> v2 = service_->UpdatePlan({"UpdateSuccessPlan", "a", "fa"}, plan_codec_, a);
  ASSERT_OK(v2);
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->title, "Renamed");
  SuccessPlan b = *plan;  // still at version 1
  b.title = "Lost update";
  EXPECT_THAT(service_->UpdatePlan({"UpdateSuccessPlan", "b", "fb"}, plan_codec_, b),
              StatusIs(absl::StatusCode::kAborted));
  absl::StatusOr<SuccessPlan> read = service_->GetPlan(plan->plan_id);
  ASSERT_OK(read);
  EXPECT_EQ(read->title, "Renamed");
  EXPECT_EQ(read->version, 2);
}

TEST_F(SuccessPlanDbTest, ListsByAccountStatusAndOwnerInPages) {
  for (int i = 0; i < 5; ++i) {
    SuccessPlan p = NewPlan(i < 3 ? "acct-a" : "acct-b");
    p.plan_id = absl::StrCat("plan-", i);
    p.owner_id = i % 2 == 0 ? "csm-ann" : "csm-bo";
    ASSERT_OK(Create(p));
  }
  PlanFilter f;
  f.account_id = "acct-a";
  f.page_size = 2;
  absl::StatusOr<PlanPage> page = service_->ListPlans(f);
  ASSERT_OK(page);
  ASSERT_EQ(page->plans.size(), 2u);
  EXPECT_EQ(page->plans[0].plan_id, "plan-0");
  ASSERT_FALSE(page->next.empty());
  f.after = page->next;
  page = service_->ListPlans(f);
  ASSERT_OK(page);
  ASSERT_EQ(page->plans.size(), 1u);
  EXPECT_EQ(page->plans[0].plan_id, "plan-2");
  EXPECT_TRUE(page->next.empty());
  EXPECT_EQ(page->plans[0].objectives[0].milestones.size(), 2u);

  PlanFilter by_owner;
  by_owner.owner_id = "csm-bo";
  EXPECT_EQ(service_->ListPlans(by_owner)->plans.size(), 2u);
  PlanFilter by_status;
  by_status.status = PlanStatus::kCompleted;
  EXPECT_TRUE(service_->ListPlans(by_status)->plans.empty());
  by_status.page_size = 5000;
  EXPECT_THAT(service_->ListPlans(by_status),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
}

TEST_F(SuccessPlanDbTest, QbrTasksReviewTheAccountsPlan) {
  SuccessPlan p = NewPlan("acct-1");
  p.starts_at = Day(0);
  absl::StatusOr<SuccessPlan> plan = Create(p, "r1");
  ASSERT_OK(plan);
  Task qbr;
  qbr.kind = StepKind::kQbr;
  qbr.account_id = "acct-1";
  qbr.created_at = Day(1);
  qbr.due_at = Day(80);
  absl::StatusOr<std::optional<std::string>> linked = service_->PlanReviewedBy(qbr);
  ASSERT_OK(linked);
  EXPECT_EQ(*linked, plan->plan_id);

  Task call = qbr;
  call.kind = StepKind::kCall;
  EXPECT_EQ(*service_->PlanReviewedBy(call), std::nullopt);
  Task elsewhere = qbr;
  elsewhere.account_id = "acct-2";
  EXPECT_EQ(*service_->PlanReviewedBy(elsewhere), std::nullopt);
  Task before = qbr;  // due before the plan started
  before.due_at = Day(-10);
  before.created_at = Day(-20);
  EXPECT_EQ(*service_->PlanReviewedBy(before), std::nullopt);

  // A newer plan takes over the QBRs due after it starts; closed plans keep older ones.
  clock_.Set(Day(40));
  SuccessPlan closed = *service_->GetPlan(plan->plan_id);
  closed.status = PlanStatus::kCompleted;
  ASSERT_OK(service_->UpdatePlan({"UpdateSuccessPlan", "close", "fc"}, plan_codec_, closed));
  SuccessPlan next = NewPlan("acct-1");
  next.starts_at = Day(40);
  absl::StatusOr<SuccessPlan> second = Create(next, "r2");
  ASSERT_OK(second);
  EXPECT_EQ(*service_->PlanReviewedBy(qbr), second->plan_id);
  Task old = qbr;
  old.due_at = Day(30);
  EXPECT_EQ(*service_->PlanReviewedBy(old), plan->plan_id);
}

}  // namespace
}  // namespace cs::playbooks

namespace cs::playbooks {
namespace {

// The RPCs through a real in-process gRPC server: wire validation, replay, the
// QBR task's link, the overdue event on ListTaskEvents and progress on the wire.
TEST_F(SuccessPlanDbTest, HandlerServesPlansAndLinksQbrTasks) {
  MySqlEscalationRepository chains(pool_.get(), &clock_);
  EscalationService escalations(&chains, &clock_);
  MySqlPlaybookRepository playbook_repository(pool_.get(), &clock_, TaskEventCodecForOutbox());
  GrpcHealthFeed feed(address_, &clock_, GrpcHealthFeed::Options{});
  PlaybookService playbooks(&playbook_repository, &feed, /*expansion=*/nullptr, &clock_,
                            PlaybookService::Options{});
  PlaybookHandler handler(&escalations, &playbooks);
  handler.AttachSuccessPlans(service_.get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&handler);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = v1::PlaybookService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  auto ctx = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return c;
  };

  v1::CreateSuccessPlanRequest create;
  create.set_request_id("create-1");
  SuccessPlanToProto(NewPlan("acct-1"), create.mutable_plan());
  create.mutable_plan()->clear_created_at();
  create.mutable_plan()->clear_updated_at();
  create.mutable_plan()->clear_starts_at();
  v1::SuccessCriterion* bad = create.mutable_plan()->mutable_objectives(0)->add_criteria();
  bad->set_description("weekly active users >= 200");
  bad->set_source(v1::CRITERION_SOURCE_MEASURE);
  bad->set_name("logins per week");  // a space: not a measure name
  bad->set_comparison(v1::COMPARISON_AT_LEAST);
  bad->set_target(200);
  v1::CreateSuccessPlanResponse created;
  grpc::Status s = stub->CreateSuccessPlan(ctx().get(), create, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("plan.objectives[0].criteria[0].name"));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM success_plans"), 0);
  bad->set_name("logins_per_week");
  s = stub->CreateSuccessPlan(ctx().get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string plan_id = created.plan().plan_id();
  EXPECT_EQ(created.plan().version(), 1);
  EXPECT_EQ(created.plan().expected_roi().amount().minor_units(), 5000000);
  v1::CreateSuccessPlanResponse replayed;
  clock_.Advance(absl::Minutes(1));
  s = stub->CreateSuccessPlan(ctx().get(), create, &replayed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(replayed.plan().plan_id(), plan_id);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM success_plans"), 1);

  // A playbook with a QBR step: its task names the plan it reviews.
  Playbook review = DefaultPlaybooks().front();
  review.playbook_id = "quarterly-review";
  review.trigger = Trigger{};
  review.trigger.kind = TriggerKind::kManual;
  review.steps.resize(1);
  review.steps[0].title = "Quarterly business review";
  review.steps[0].kind = StepKind::kQbr;
  review.steps[0].due_offset = absl::Hours(24 * 30);
  review.steps[0].sla = absl::ZeroDuration();
  review.holdout_percent = 0;
  ASSERT_OK(playbooks.CreatePlaybook({"CreatePlaybook", "", ""},
                                     ProtoCodec<Playbook, v1::Playbook>(PlaybookToProto,
                                                                        PlaybookFromProto),
                                     review));
  v1::StartPlaybookRequest start;
  start.set_playbook_id("quarterly-review");
  start.set_account_id("acct-1");
  v1::StartPlaybookResponse started;
  s = stub->StartPlaybook(ctx().get(), start, &started);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::GetRunRequest get_run;
  get_run.set_run_id(started.run().run_id());
  v1::GetRunResponse run;
  s = stub->GetRun(ctx().get(), get_run, &run);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(run.tasks_size(), 1);
  EXPECT_EQ(run.tasks(0).kind(), v1::STEP_KIND_QBR);
  EXPECT_EQ(run.tasks(0).success_plan_id(), plan_id);

  // Past the first milestone's due time: one overdue event on the task stream.
  clock_.Set(Day(3));
  ASSERT_OK(service_->Sweep());
  v1::ListTaskEventsRequest list_events;
  v1::ListTaskEventsResponse events;
  s = stub->ListTaskEvents(ctx().get(), list_events, &events);
  ASSERT_TRUE(s.ok()) << s.error_message();
  int overdue = 0;
  for (const v1::TaskEvent& e : events.events()) {
    if (e.kind() == v1::TASK_EVENT_KIND_TASK_CREATED) {
      EXPECT_EQ(e.task().account_id(), "acct-1");
    }
    if (e.kind() != v1::TASK_EVENT_KIND_MILESTONE_OVERDUE) continue;
    ++overdue;
    EXPECT_EQ(e.account_id(), "acct-1");
    EXPECT_FALSE(e.has_task());
    EXPECT_EQ(e.milestone_overdue().plan_id(), plan_id);
    EXPECT_EQ(e.milestone_overdue().title(), "Pilot team live");
  }
  EXPECT_EQ(overdue, 1);

  v1::GetSuccessPlanRequest get;
  get.set_plan_id(plan_id);
  v1::GetSuccessPlanResponse got;
  s = stub->GetSuccessPlan(ctx().get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(got.plan().objectives(0).milestones(0).overdue());
  EXPECT_FALSE(got.plan().objectives(0).milestones(1).overdue());
  EXPECT_TRUE(got.plan().objectives(0).milestones(0).has_overdue_alerted_at());
  EXPECT_EQ(got.plan().progress().milestones(), 2);
  EXPECT_EQ(got.plan().progress().milestones_overdue(), 1);
  EXPECT_EQ(got.plan().progress().on_time_share(), 0);
  EXPECT_EQ(got.plan().progress().criteria(), 1);

  // A stale version over the wire is ABORTED.
  v1::UpdateSuccessPlanRequest update;
  *update.mutable_plan() = got.plan();
  update.mutable_plan()->set_version(got.plan().version() + 5);
  v1::UpdateSuccessPlanResponse updated;
  s = stub->UpdateSuccessPlan(ctx().get(), update, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);

  v1::ListSuccessPlanTemplatesRequest list_templates;
  list_templates.set_tier(hv1::TIER_ENTERPRISE);
  v1::ListSuccessPlanTemplatesResponse templates;
  s = stub->ListSuccessPlanTemplates(ctx().get(), list_templates, &templates);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(templates.templates_size(), 1);
  EXPECT_EQ(templates.templates(0).template_id(), "default-enterprise");
  EXPECT_EQ(templates.templates(0).tier(), hv1::TIER_ENTERPRISE);
  server->Shutdown();
}

}  // namespace
}  // namespace cs::playbooks
