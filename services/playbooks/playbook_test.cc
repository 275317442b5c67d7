#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "common/testing/status_matchers.h"
#include "services/playbooks/playbook.h"
#include "services/playbooks/playbook_service.h"
#include "services/playbooks/proto_mapping.h"

namespace cs::playbooks {
namespace {

using ::cs::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const Playbook& Find(const std::vector<Playbook>& all, const std::string& id) {
  for (const Playbook& p : all) {
    if (p.playbook_id == id) return p;
  }
  ADD_FAILURE() << "no playbook " << id;
  static Playbook none;
  return none;
}

std::vector<int> DueDays(const Playbook& p) {
  std::vector<int> days;
  for (const Step& s : p.steps) days.push_back(static_cast<int>(s.due_offset / absl::Hours(24)));
  return days;
}

TEST(DefaultPlaybooksTest, AreValidAndUnique) {
  const std::vector<Playbook> all = DefaultPlaybooks();
  std::set<std::string> ids;
  for (const Playbook& p : all) {
    EXPECT_OK(ValidatePlaybook(p)) << p.playbook_id;
    EXPECT_TRUE(ids.insert(p.playbook_id).second) << p.playbook_id;
  }
  EXPECT_EQ(all.size(), 13u);
}

TEST(DefaultPlaybooksTest, FollowDomainDeadlines) {
  const std::vector<Playbook> all = DefaultPlaybooks();
  const Playbook& red = Find(all, "red-emergency-response");
  EXPECT_EQ(red.trigger.kind, TriggerKind::kBandEntered);
  EXPECT_EQ(red.trigger.band, "RED");
  EXPECT_EQ(red.steps[0].kind, StepKind::kEscalation);
  EXPECT_EQ(red.steps[0].due_offset, absl::ZeroDuration());
  EXPECT_EQ(red.steps[0].sla, absl::Hours(24));  // executive escalation within 24 h
  EXPECT_EQ(red.exit.green_days, 14);
  EXPECT_TRUE(red.exit.fail_on_churn);
  const Playbook& yellow = Find(all, "yellow-recovery");
  EXPECT_EQ(yellow.steps[0].due_offset, absl::ZeroDuration());
  EXPECT_EQ(yellow.steps[0].sla, absl::Hours(48));  // CSM intervention within 48 h
  EXPECT_EQ(yellow.steps[0].role, Role::kCsm);
  EXPECT_EQ(yellow.steps.back().role, Role::kVpCustomerSuccess);
}

TEST(DefaultPlaybooksTest, OnboardingMilestonesPerTier) {
  const std::vector<Playbook> all = DefaultPlaybooks();
  EXPECT_THAT(DueDays(Find(all, "onboarding-enterprise")), ElementsAre(0, 1, 3, 7, 14, 30, 60, 90));
  EXPECT_THAT(DueDays(Find(all, "onboarding-mid-market")), ElementsAre(0, 1, 3, 7, 14, 30));
  EXPECT_THAT(DueDays(Find(all, "onboarding-smb")), ElementsAre(0, 1, 3, 7, 14));
  const Playbook& solo = Find(all, "onboarding-solo");
  EXPECT_THAT(DueDays(solo), ElementsAre(0, 1, 3, 7));
  for (const Step& s : solo.steps) EXPECT_EQ(s.role, Role::kAutomated);
  EXPECT_THAT(Find(all, "onboarding-smb").tiers, ElementsAre("SMB"));
}

TEST(DefaultPlaybooksTest, CadencesPerTier) {
  const std::vector<Playbook> all = DefaultPlaybooks();
  EXPECT_EQ(Find(all, "cadence-enterprise-qbr").trigger.cadence_months, 3);
  EXPECT_EQ(Find(all, "cadence-enterprise-qbr").steps[0].kind, StepKind::kQbr);
  EXPECT_EQ(Find(all, "cadence-mid-market-checkin").trigger.cadence_months, 1);
  EXPECT_EQ(Find(all, "cadence-smb-checkin").trigger.cadence_months, 3);
  EXPECT_EQ(Find(all, "cadence-solo-survey").steps[0].kind, StepKind::kSurvey);
}

Playbook Valid() { return DefaultPlaybooks().front(); }

TEST(ValidatePlaybookTest, NamesTheField) {
  Playbook p = Valid();
  p.steps.clear();
  EXPECT_THAT(ValidatePlaybook(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("playbook.steps: at least one")));
  p = Valid();
  p.steps[1].due_offset = -absl::Hours(1);
  EXPECT_THAT(ValidatePlaybook(p),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("playbook.steps[1].due_offset: must not be negative")));
  p = Valid();
  p.steps[2].role = Role::kUnspecified;
  EXPECT_THAT(ValidatePlaybook(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("playbook.steps[2].role")));
  p = Valid();
  p.trigger.band = "PURPLE";
  EXPECT_THAT(ValidatePlaybook(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("playbook.trigger.band")));
  p = Valid();
  p.trigger = Trigger();
  p.trigger.kind = TriggerKind::kCadence;
  EXPECT_THAT(ValidatePlaybook(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("playbook.trigger.cadence_months")));
  p = Valid();
  p.holdout_percent = 80;
  EXPECT_THAT(ValidatePlaybook(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("playbook.holdout_percent")));
  p = Valid();
  p.tiers = {"GIANT"};
  EXPECT_THAT(ValidatePlaybook(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("playbook.tiers[0]")));
  p = Valid();
  p.playbook_id = "";
  EXPECT_THAT(ValidatePlaybook(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("playbook.playbook_id")));
}

TEST(PlaybookMappingTest, RefusesUnknownRolesAndKinds) {
  cs::playbooks::v1::Playbook p;
  PlaybookToProto(Valid(), &p);
  p.mutable_steps(1)->set_role(static_cast<cs::playbooks::v1::Role>(42));
  EXPECT_THAT(PlaybookFromProto(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("playbook.steps[1].role")));
  PlaybookToProto(Valid(), &p);
  p.mutable_trigger()->set_kind(static_cast<cs::playbooks::v1::TriggerKind>(99));
  EXPECT_THAT(PlaybookFromProto(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("playbook.trigger.kind")));
}

TEST(PlaybookMappingTest, RoundTrips) {
  for (const Playbook& original : DefaultPlaybooks()) {
    cs::playbooks::v1::Playbook p;
    PlaybookToProto(original, &p);
    absl::StatusOr<Playbook> back = PlaybookFromProto(p);
    ASSERT_OK(back);
    EXPECT_EQ(back->steps, original.steps);
    EXPECT_EQ(back->trigger, original.trigger);
    EXPECT_EQ(back->tiers, original.tiers);
    EXPECT_EQ(back->exit, original.exit);
  }
}

TEST(EscalationRulesTest, AssigneesAndLevels) {
  EscalationChain chain = DefaultEscalationChain();
  chain.levels[2].assignee_id = "dir-1";
  EXPECT_EQ(ResolveAssignee(Role::kCsm, "csm-7", chain), "csm-7");
  EXPECT_EQ(ResolveAssignee(Role::kCsm, "", chain), "role:CSM");
  EXPECT_EQ(ResolveAssignee(Role::kDirector, "csm-7", chain), "dir-1");
  EXPECT_EQ(ResolveAssignee(Role::kCsManager, "csm-7", chain), "role:CS_MANAGER");
  EXPECT_EQ(ResolveAssignee(Role::kAutomated, "csm-7", chain), "automated");
  EXPECT_EQ(NextEscalationLevel(chain, Role::kCsm), 1);
  EXPECT_EQ(NextEscalationLevel(chain, Role::kCsManager), 2);
  EXPECT_EQ(NextEscalationLevel(chain, Role::kDirector), 3);
  EXPECT_EQ(NextEscalationLevel(chain, Role::kVpCustomerSuccess), std::nullopt);
  EXPECT_EQ(NextEscalationLevel(chain, Role::kRetentionSpecialist), 1);
  EXPECT_EQ(NextEscalationLevel(chain, Role::kAutomated), std::nullopt);
}

TEST(CadenceDateTest, MonthsFromAnchorClampToMonthEnd) {
  EXPECT_EQ(CadenceDate(absl::CivilDay(2027, 1, 15), 3, 1), absl::CivilDay(2027, 4, 15));
  EXPECT_EQ(CadenceDate(absl::CivilDay(2027, 1, 15), 3, 4), absl::CivilDay(2028, 1, 15));
  EXPECT_EQ(CadenceDate(absl::CivilDay(2027, 1, 31), 1, 1), absl::CivilDay(2027, 2, 28));
  EXPECT_EQ(CadenceDate(absl::CivilDay(2027, 1, 31), 1, 2), absl::CivilDay(2027, 3, 31));
  EXPECT_EQ(CadenceDate(absl::CivilDay(2027, 11, 30), 1, 3), absl::CivilDay(2028, 2, 29));
}

TEST(HoldoutDrawTest, DeterministicAndUniform) {
  EXPECT_EQ(HoldoutDraw("p", "a-1"), HoldoutDraw("p", "a-1"));
  EXPECT_NE(HoldoutDraw("p", "a-1"), HoldoutDraw("q", "a-1"));
  int below = 0;
  for (int i = 0; i < 10000; ++i) {
    const double d = HoldoutDraw("p", "acct-" + std::to_string(i));
    ASSERT_GE(d, 0);
    ASSERT_LT(d, 1);
    if (d < 0.2) ++below;
  }
  EXPECT_NEAR(below / 10000.0, 0.2, 0.02);
}

TEST(StatisticsTest, MedianAndProportionDifference) {
  EXPECT_EQ(Median({}), 0);
  EXPECT_EQ(Median({5, 1, 3}), 3);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  const Difference d = ProportionDifference(60, 100, 40, 100);
  EXPECT_NEAR(d.estimate, 0.2, 1e-12);
  // se = sqrt(.6*.4/100 + .4*.6/100) = 0.069282; 1.96 se = 0.135793
  EXPECT_NEAR(d.low, 0.2 - 0.135793, 1e-5);
  EXPECT_NEAR(d.high, 0.2 + 0.135793, 1e-5);
  const Difference none = ProportionDifference(1, 0, 1, 5);
  EXPECT_EQ(none.estimate, 0);
}

TEST(ProgramMetricsTest, RatesAndTimeToIntervention) {
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  MetricsFacts facts;
  facts.runs = {
      {"ENTERPRISE", TriggerKind::kBandEntered, "RED", RunState::kSucceeded, t0, t0 + absl::Hours(10)},
      {"ENTERPRISE", TriggerKind::kBandEntered, "YELLOW", RunState::kFailed, t0, t0 + absl::Hours(30)},
      {"SMB", TriggerKind::kBandEntered, "YELLOW", RunState::kSucceeded, t0, t0 + absl::Hours(2)},
      {"SMB", TriggerKind::kBandEntered, "YELLOW", RunState::kActive, t0, std::nullopt},
      // Not a risk run: ignored by the intervention measures.
      {"SMB", TriggerKind::kCadence, "", RunState::kActive, t0, t0 + absl::Hours(1)},
  };
  facts.completed_tasks = {{"SMB", true}, {"SMB", false}, {"ENTERPRISE", true}, {"ENTERPRISE", true}};
  facts.open_escalations["SMB"][1] = 2;
  facts.open_escalations["ENTERPRISE"][1] = 1;
  facts.open_escalations["ENTERPRISE"][3] = 4;
  const ProgramReport r = ComputeProgramMetrics(facts);
  EXPECT_EQ(r.overall.risk_runs, 4);
  EXPECT_DOUBLE_EQ(r.overall.intervention_success_rate, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.overall.time_to_intervention_median_hours, 10);
  EXPECT_DOUBLE_EQ(r.overall.time_to_intervention_mean_hours, 14);
  EXPECT_EQ(r.overall.yellow_runs, 3);
  EXPECT_DOUBLE_EQ(r.overall.yellow_recovery_rate, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.overall.sla_attainment, 0.75);
  EXPECT_EQ(r.overall.open_escalations_by_level.at(1), 3);
  EXPECT_EQ(r.overall.open_escalations_by_level.at(3), 4);
  ASSERT_EQ(r.by_tier.size(), 2u);
  EXPECT_EQ(r.by_tier[0].tier, "ENTERPRISE");
  EXPECT_DOUBLE_EQ(r.by_tier[0].intervention_success_rate, 0.5);
  EXPECT_EQ(r.by_tier[1].tier, "SMB");
  EXPECT_DOUBLE_EQ(r.by_tier[1].sla_attainment, 0.5);
}

}  // namespace
}  // namespace cs::playbooks
