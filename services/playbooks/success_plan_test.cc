// The pure rules of success plans: validation, ids, progress, criteria values,
// carried server state and templates.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "common/testing/status_matchers.h"
#include "services/playbooks/success_plan.h"
#include "services/playbooks/success_plan_wiring.h"

namespace cs::playbooks {
namespace {

using ::cs::testing::StatusIs;
using ::testing::HasSubstr;

const absl::Time kStart = absl::FromCivil(absl::CivilSecond(2026, 3, 1, 9, 0, 0), absl::UTCTimeZone());
absl::Time Day(int d) { return kStart + absl::Hours(24 * d); }

Milestone M(const std::string& title, int due_day, MilestoneStatus status = MilestoneStatus::kPlanned,
            std::optional<int> completed_day = std::nullopt) {
  Milestone m;
  m.title = title;
  m.due_at = Day(due_day);
  m.status = status;
  if (completed_day.has_value()) m.completed_at = Day(*completed_day);
  return m;
}

Criterion C(CriterionSource source, const std::string& name, Comparison cmp, double target) {
  Criterion c;
  c.description = "target";
  c.source = source;
  c.name = name;
  c.comparison = cmp;
  c.target = target;
  return c;
}

SuccessPlan Plan() {
  SuccessPlan p;
  p.account_id = "acct-1";
  p.title = "FY27 plan";
  p.owner_id = "csm-ann";
  p.status = PlanStatus::kActive;
  Objective o;
  o.title = "Adoption";
  o.milestones = {M("setup", 1)};
  p.objectives = {o};
  return p;
}

TEST(SuccessPlanValidationTest, NamesTheField) {
  SuccessPlan p = Plan();
  EXPECT_OK(ValidatePlan(p));

  p.objectives[0].milestones[0].due_at = absl::InfinitePast();
  EXPECT_THAT(ValidatePlan(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("plan.objectives[0].milestones[0].due_at")));
  p = Plan();
  p.objectives[0].criteria = {C(CriterionSource::kComponent, "HAPPINESS", Comparison::kAtLeast, 1)};
  EXPECT_THAT(ValidatePlan(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("plan.objectives[0].criteria[0].name")));
  p = Plan();
  p.objectives[0].criteria = {C(CriterionSource::kMeasure, "logins_per_week", Comparison::kUnspecified, 1)};
  EXPECT_THAT(ValidatePlan(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("plan.objectives[0].criteria[0].comparison")));
  p = Plan();
  p.roi_amount = Money{-5, "USD"};
  EXPECT_THAT(ValidatePlan(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("plan.expected_roi.amount")));
  p = Plan();
  p.objectives.clear();
  EXPECT_THAT(ValidatePlan(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("plan.objectives")));
  p = Plan();
  p.objectives.push_back(p.objectives[0]);
  p.objectives[0].milestones[0].milestone_id = "same";
  p.objectives[1].milestones[0].milestone_id = "same";
  EXPECT_THAT(ValidatePlan(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("plan.objectives[1].milestones[0].milestone_id")));
}

TEST(SuccessPlanIdsTest, FillsEmptyIdsAroundTakenOnes) {
  SuccessPlan p = Plan();
  p.objectives[0].milestones.push_back(M("second", 2));
  p.objectives[0].milestones[1].milestone_id = "o1-m1";  // the id the first would get
  p.objectives[0].criteria = {C(CriterionSource::kHealthScore, "", Comparison::kAtLeast, 80)};
  AssignPlanIds(&p);
  EXPECT_EQ(p.objectives[0].objective_id, "o1");
  EXPECT_EQ(p.objectives[0].milestones[0].milestone_id, "o1-m1.2");
  EXPECT_EQ(p.objectives[0].milestones[1].milestone_id, "o1-m1");
  EXPECT_EQ(p.objectives[0].criteria[0].criterion_id, "o1-c1");
  EXPECT_OK(ValidatePlan(p));
}

// A hand-made plan: five milestones, two objectives, three criteria, seen on day 20.
TEST(SuccessPlanProgressTest, CountsOnTimeOverdueAndAchieved) {
  SuccessPlan p = Plan();
  Objective a;
  a.title = "Onboard";
  a.milestones = {M("setup", 5, MilestoneStatus::kCompleted, 4),     // on time
                  M("tour", 10, MilestoneStatus::kCompleted, 12),    // late
                  M("quick win", 15, MilestoneStatus::kInProgress),  // overdue
                  M("review", 30),                                   // not yet due
                  M("dropped", 8, MilestoneStatus::kCancelled)};     // not counted
  Objective b;
  b.title = "Health";
  b.criteria = {C(CriterionSource::kHealthScore, "", Comparison::kAtLeast, 80),
                C(CriterionSource::kComponent, "FEATURE_ADOPTION", Comparison::kAtLeast, 70)};
  b.criteria[0].met = true;
  b.criteria[1].met = true;
  Objective c;
  c.title = "ROI";
  c.criteria = {C(CriterionSource::kManual, "", Comparison::kUnspecified, 0)};
  p.objectives = {a, b, c};

  const PlanProgress progress = ComputeProgress(p, Day(20));
  EXPECT_EQ(progress.objectives, 3);
  EXPECT_EQ(progress.objectives_achieved, 1);  // only b: a has open milestones, c unmet
  EXPECT_EQ(progress.milestones, 4);
  EXPECT_EQ(progress.milestones_completed, 2);
  EXPECT_EQ(progress.milestones_met_on_time, 1);
  EXPECT_EQ(progress.milestones_overdue, 1);
  // Decided: setup, tour (completed) and quick win (past due); review may still be on time.
  EXPECT_DOUBLE_EQ(progress.on_time_share, 1.0 / 3.0);
  EXPECT_EQ(progress.criteria, 3);
  EXPECT_EQ(progress.criteria_met, 2);

  EXPECT_TRUE(IsOverdue(p.objectives[0].milestones[2], Day(20)));
  EXPECT_FALSE(IsOverdue(p.objectives[0].milestones[2], Day(15)));
  EXPECT_FALSE(IsOverdue(p.objectives[0].milestones[4], Day(20)));

  const PlanProgress none = ComputeProgress(Plan(), Day(0));
  EXPECT_EQ(none.on_time_share, 0);
}

TEST(SuccessPlanCriteriaTest, ReadsTheNamedValue) {
  HealthReading r;
  r.has_score = true;
  r.score = 82;
  r.components["FEATURE_ADOPTION"] = 64;
  r.measures["logins_per_week"] = 210;
  const Criterion score = C(CriterionSource::kHealthScore, "", Comparison::kAtLeast, 80);
  const Criterion adoption = C(CriterionSource::kComponent, "FEATURE_ADOPTION", Comparison::kAtLeast, 70);
  const Criterion logins = C(CriterionSource::kMeasure, "logins_per_week", Comparison::kAtLeast, 200);
  const Criterion tickets = C(CriterionSource::kMeasure, "tickets_per_month", Comparison::kAtMost, 5);
  EXPECT_EQ(CriterionValue(score, r), 82);
  EXPECT_TRUE(MeetsTarget(score, 82));
  EXPECT_EQ(CriterionValue(adoption, r), 64);
  EXPECT_FALSE(MeetsTarget(adoption, 64));
  EXPECT_TRUE(MeetsTarget(logins, *CriterionValue(logins, r)));
  EXPECT_EQ(CriterionValue(tickets, r), std::nullopt);  // no data: the check waits
  EXPECT_TRUE(MeetsTarget(tickets, 5));
  EXPECT_FALSE(MeetsTarget(tickets, 5.5));
  EXPECT_EQ(CriterionValue(C(CriterionSource::kManual, "", Comparison::kAtLeast, 1), r), std::nullopt);
}

TEST(SuccessPlanCarryTest, KeepsServerStateByIdWhileUnchanged) {
  SuccessPlan current = Plan();
  current.objectives[0].milestones = {M("a", 5), M("b", 6, MilestoneStatus::kCompleted, 4)};
  current.objectives[0].milestones[0].milestone_id = "a";
  current.objectives[0].milestones[0].alerted_at = Day(5);
  current.objectives[0].milestones[1].milestone_id = "b";
  current.objectives[0].criteria = {C(CriterionSource::kHealthScore, "", Comparison::kAtLeast, 80),
                                    C(CriterionSource::kMeasure, "logins_per_week", Comparison::kAtLeast, 200)};
  current.objectives[0].criteria[0].criterion_id = "score";
  current.objectives[0].criteria[0].met = true;
  current.objectives[0].criteria[0].met_at = Day(3);
  current.objectives[0].criteria[1].criterion_id = "logins";
  current.objectives[0].criteria[1].met = true;
  current.objectives[0].criteria[1].met_at = Day(3);

  SuccessPlan next = current;
  next.objectives[0].milestones[1].completed_at = Day(9);  // a client cannot rewrite history
  next.objectives[0].criteria[0].met = false;               // nor unmeet an automatic criterion
  next.objectives[0].criteria[1].target = 300;              // a new target starts unmet
  CarryServerState(current, &next, Day(10));
  EXPECT_EQ(next.objectives[0].milestones[0].alerted_at, Day(5));
  EXPECT_EQ(next.objectives[0].milestones[1].completed_at, Day(4));
  EXPECT_TRUE(next.objectives[0].criteria[0].met);
  EXPECT_EQ(next.objectives[0].criteria[0].met_at, Day(3));
  EXPECT_FALSE(next.objectives[0].criteria[1].met);
  EXPECT_EQ(next.objectives[0].criteria[1].met_at, std::nullopt);

  // A moved due date owes a new alert; a newly completed milestone is completed now.
  SuccessPlan moved = current;
  moved.objectives[0].milestones[0].due_at = Day(12);
  moved.objectives[0].milestones[0].status = MilestoneStatus::kCompleted;
  CarryServerState(current, &moved, Day(10));
  EXPECT_EQ(moved.objectives[0].milestones[0].alerted_at, std::nullopt);
  EXPECT_EQ(moved.objectives[0].milestones[0].completed_at, Day(10));
}

TEST(SuccessPlanTemplateTest, DefaultsAreValidAndInstantiate) {
  const std::vector<PlanTemplate> all = DefaultPlanTemplates();
  ASSERT_EQ(all.size(), 4u);
  std::set<std::string> tiers;
  for (const PlanTemplate& t : all) {
    EXPECT_OK(ValidateTemplate(t)) << t.template_id;
    tiers.insert(t.tier);
  }
  EXPECT_EQ(tiers, (std::set<std::string>{"ENTERPRISE", "MID_MARKET", "SMB", "SOLO"}));
  EXPECT_EQ(all[0].template_id, "default-enterprise");
  EXPECT_EQ(all[1].template_id, "default-mid-market");

  SuccessPlan p = Plan();
  p.starts_at = kStart;
  Instantiate(all[1], &p);  // mid-market: first value within 10 days, adoption 70
  AssignPlanIds(&p);
  EXPECT_OK(ValidatePlan(p));
  EXPECT_EQ(p.template_id, "default-mid-market");
  ASSERT_EQ(p.objectives.size(), 2u);
  EXPECT_EQ(p.objectives[0].milestones.back().due_at, Day(10));
  EXPECT_EQ(p.objectives[0].criteria[0].target, 70);
  EXPECT_EQ(p.objectives[1].milestones.back().due_at, Day(90));
  EXPECT_EQ(p.objectives[1].milestones.back().status, MilestoneStatus::kPlanned);

  PlanTemplate bad = all[0];
  bad.objectives[0].milestones[0].due_after_days = -1;
  EXPECT_THAT(ValidateTemplate(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("plan_template.objectives[0].milestones[0].due_after_days")));
  bad = all[0];
  bad.tier = "HUGE";
  EXPECT_THAT(ValidateTemplate(bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("plan_template.tier")));
}

// The loop sweeps at most once per interval, however often it is woken.
TEST(SweepPacerTest, SweepsAtMostOncePerInterval) {
  SweepPacer pacer(absl::Seconds(1));
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  EXPECT_TRUE(pacer.Due(t0)) << "the first round";
  EXPECT_FALSE(pacer.Due(t0 + absl::Milliseconds(30)));
  EXPECT_FALSE(pacer.Due(t0 + absl::Milliseconds(999)));
  EXPECT_TRUE(pacer.Due(t0 + absl::Milliseconds(1000)));
  EXPECT_FALSE(pacer.Due(t0 + absl::Milliseconds(1500)));
  EXPECT_TRUE(pacer.Due(t0 + absl::Milliseconds(2600))) << "an idle wait of the interval";
  EXPECT_TRUE(pacer.Due(t0 + absl::Milliseconds(3600)));
}

}  // namespace
}  // namespace cs::playbooks
