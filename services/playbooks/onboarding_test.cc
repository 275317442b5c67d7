// The onboarding figures on hand-made facts, each expected value worked out by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/playbooks/advocacy.h"
#include "services/playbooks/onboarding.h"

namespace cs::playbooks {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
absl::Time Day(double d) { return kT0 + absl::Hours(24 * d); }

TEST(QuantileTest, InterpolatesBetweenTheClosestRanks) {
  EXPECT_FALSE(Quantile({}, 0.5).has_value());
  EXPECT_EQ(*Quantile({4}, 0.9), 4);
  // Sorted 2 5 9 20: median at position 1.5 -> (5 + 9) / 2 = 7; p90 at 2.7 ->
  // 9 + 0.7 * (20 - 9) = 16.7.
  EXPECT_THAT(*Quantile({20, 2, 9, 5}, 0.5), DoubleNear(7, 1e-12));
  EXPECT_THAT(*Quantile({20, 2, 9, 5}, 0.9), DoubleNear(16.7, 1e-12));
  // Odd count: the middle value; p90 of 1..5 at 3.6 -> 4.6.
  EXPECT_THAT(*Quantile({3, 1, 2, 5, 4}, 0.5), DoubleNear(3, 1e-12));
  EXPECT_THAT(*Quantile({3, 1, 2, 5, 4}, 0.9), DoubleNear(4.6, 1e-12));
}

OnboardingFact Fact(const std::string& id, const std::string& tier, RunState state,
                    std::optional<double> value_day, std::optional<double> last_due_day) {
  OnboardingFact f;
  f.run_id = "run-" + id;
  f.account_id = id;
  f.tier = tier;
  f.state = state;
  f.started_at = kT0;
  if (value_day) f.reached_value_at = Day(*value_day);
  if (last_due_day) f.last_due_at = Day(*last_due_day);
  return f;
}

TEST(OnboardingReportTest, FiguresPerTierAgainstTheTargets) {
  std::vector<OnboardingFact> facts = {
      Fact("s1", "SMB", RunState::kSucceeded, 2, 14),
      Fact("s2", "SMB", RunState::kSucceeded, 5, 14),
      Fact("s3", "SMB", RunState::kCancelled, 9, 14),
      Fact("s4", "SMB", RunState::kActive, 20, 14),     // plan over, not done
      Fact("s5", "SMB", RunState::kActive, std::nullopt, 14),
      Fact("s6", "SMB", RunState::kActive, std::nullopt, 40),  // plan still running
      Fact("e1", "ENTERPRISE", RunState::kFailed, 3, 90),
  };
  facts[4].overdue_tasks = 2;
  facts[4].oldest_overdue_due_at = Day(1);
  const absl::Time now = Day(30);
  OnboardingReport r = ComputeOnboardingReport(facts, DefaultOnboardingTargets(), Day(-1), now,
                                               now, 100);
  ASSERT_EQ(r.by_tier.size(), 4u);
  const OnboardingTierMetrics& smb = r.by_tier[2];
  EXPECT_EQ(smb.target.tier, "SMB");
  EXPECT_EQ(smb.target.time_to_value_days, 14);
  EXPECT_EQ(smb.onboardings, 6);
  EXPECT_EQ(smb.reached_value, 4);
  EXPECT_EQ(smb.reached_value_within_target, 3);  // 2, 5, 9 of 2, 5, 9, 20
  EXPECT_THAT(*smb.median_days_to_value, DoubleNear(7, 1e-9));
  EXPECT_THAT(*smb.p90_days_to_value, DoubleNear(16.7, 1e-9));
  EXPECT_TRUE(smb.time_to_value_target_met);
  // Completed s1, s2; not completed s4, s5 (plan past due); s6 in progress; s3
  // cancelled counts neither way: 2 / 4 against 85 %.
  EXPECT_EQ(smb.completed, 2);
  EXPECT_EQ(smb.not_completed, 2);
  EXPECT_EQ(smb.in_progress, 1);
  EXPECT_THAT(*smb.completion_rate, DoubleNear(0.5, 1e-12));
  EXPECT_FALSE(smb.completion_target_met);
  const OnboardingTierMetrics& ent = r.by_tier[0];
  EXPECT_EQ(ent.onboardings, 1);
  EXPECT_THAT(*ent.median_days_to_value, DoubleNear(3, 1e-9));
  EXPECT_TRUE(ent.time_to_value_target_met);
  EXPECT_THAT(*ent.completion_rate, DoubleNear(0, 1e-12));
  EXPECT_FALSE(r.by_tier[1].median_days_to_value.has_value());
  EXPECT_FALSE(r.by_tier[1].completion_rate.has_value());
  EXPECT_FALSE(r.by_tier[1].time_to_value_target_met);
  // Late: s5 (no value after 30 > 14 days, and overdue tasks), s6 (no value after
  // 30 days); s4 reached value (late, but reached) and has no overdue task.
  ASSERT_EQ(r.late.size(), 2u);
  EXPECT_EQ(r.late[0].account_id, "s5");
  EXPECT_THAT(r.late[0].reasons,
              ElementsAre(LateReason::kNoValuePastTarget, LateReason::kOnboardingOverdue));
  EXPECT_EQ(r.late[0].overdue_tasks, 2);
  EXPECT_EQ(*r.late[0].oldest_overdue_due_at, Day(1));
  EXPECT_EQ(r.late[1].account_id, "s6");
  EXPECT_THAT(r.late[1].reasons, ElementsAre(LateReason::kNoValuePastTarget));
  EXPECT_THAT(r.late[1].days_since_start, DoubleNear(30, 1e-9));
}

TEST(OnboardingReportTest, ValueBeforeTheStartCountsAsDayZeroAndChurnedAccountsAreNotLate) {
  std::vector<OnboardingFact> facts = {Fact("a", "SOLO", RunState::kActive, -3, 7),
                                       Fact("b", "SOLO", RunState::kFailed, std::nullopt, 7)};
  facts[1].churned = true;
  OnboardingReport r = ComputeOnboardingReport(facts, {{"SOLO", 21, 0.75}}, Day(-1), Day(60),
                                               Day(60), 100);
  ASSERT_EQ(r.by_tier.size(), 1u);
  EXPECT_EQ(*r.by_tier[0].median_days_to_value, 0);
  EXPECT_TRUE(r.late.empty());
}

TEST(AdvocacyTest, AskStatusesMoveForwardOnly) {
  EXPECT_TRUE(AskTransitionAllowed(AskStatus::kRequested, AskStatus::kAgreed));
  EXPECT_TRUE(AskTransitionAllowed(AskStatus::kRequested, AskStatus::kDeclined));
  EXPECT_TRUE(AskTransitionAllowed(AskStatus::kAgreed, AskStatus::kCompleted));
  EXPECT_TRUE(AskTransitionAllowed(AskStatus::kAgreed, AskStatus::kDeclined));
  EXPECT_FALSE(AskTransitionAllowed(AskStatus::kRequested, AskStatus::kCompleted));
  EXPECT_FALSE(AskTransitionAllowed(AskStatus::kAgreed, AskStatus::kRequested));
  EXPECT_FALSE(AskTransitionAllowed(AskStatus::kCompleted, AskStatus::kDeclined));
  EXPECT_FALSE(AskTransitionAllowed(AskStatus::kDeclined, AskStatus::kAgreed));
}

}  // namespace
}  // namespace cs::playbooks
