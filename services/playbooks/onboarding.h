#ifndef CS_SERVICES_PLAYBOOKS_ONBOARDING_H_
#define CS_SERVICES_PLAYBOOKS_ONBOARDING_H_

// Onboarding measures (DOMAIN §1): time to first value and completion per tier
// against the tier's targets, and the late onboardings. Pure functions over the
// facts the repository reads, so the figures are unit-testable.

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/playbooks/playbook.h"

namespace cs::playbooks {

// The trigger of onboarding playbooks: an onboarding is a run it opened.
inline constexpr char kOnboardingTrigger[] = "ACCOUNT_CREATED";

struct OnboardingTarget {
  std::string tier;  // ENTERPRISE, MID_MARKET, SMB, SOLO
  int time_to_value_days = 0;
  double completion_rate = 0;  // share, (0, 1]
};

// DOMAIN §1: 7/10/14/21 days and 95/90/85/75 %, in tier order.
std::vector<OnboardingTarget> DefaultOnboardingTargets();

// The p-quantile (p in [0, 1]) by linear interpolation between the closest ranks
// of the sorted values: position (n - 1) * p. nullopt for no values.
std::optional<double> Quantile(std::vector<double> values, double p);

// One onboarding run, as of `now` of the report.
struct OnboardingFact {
  std::string run_id;
  std::string account_id;
  std::string tier;
  std::string owner_id;
  RunState state = RunState::kUnspecified;
  absl::Time started_at;
  std::optional<absl::Time> reached_value_at;
  // The latest due time of its tasks (the end of its plan).
  std::optional<absl::Time> last_due_at;
  // Open tasks past their due time plus SLA, and the oldest such due time.
  int overdue_tasks = 0;
  std::optional<absl::Time> oldest_overdue_due_at;
  bool churned = false;
};

struct OnboardingTierMetrics {
  OnboardingTarget target;
  int onboardings = 0;
  int reached_value = 0;
  int reached_value_within_target = 0;
  std::optional<double> median_days_to_value;
  std::optional<double> p90_days_to_value;
  bool time_to_value_target_met = false;
  int completed = 0;
  int not_completed = 0;
  int in_progress = 0;
  std::optional<double> completion_rate;
  bool completion_target_met = false;
};

enum class LateReason { kUnspecified = 0, kNoValuePastTarget = 1, kOnboardingOverdue = 2 };

struct LateOnboarding {
  std::string account_id;
  std::string tier;
  std::string run_id;
  std::string owner_id;
  absl::Time started_at;
  double days_since_start = 0;
  int target_days = 0;
  std::vector<LateReason> reasons;
  int overdue_tasks = 0;
  std::optional<absl::Time> oldest_overdue_due_at;
};

struct OnboardingReport {
  absl::Time from;
  absl::Time to;
  std::vector<OnboardingTierMetrics> by_tier;
  std::vector<LateOnboarding> late;
};

// `targets` has one entry per tier to report, in the order to report them.
// Days to value = (first value - start) / 24 h, 0 when value came first.
// Late: not churned and (no value and more than the target's days since start,
// or an active run with an overdue task); oldest start first, at most late_limit.
OnboardingReport ComputeOnboardingReport(const std::vector<OnboardingFact>& facts,
                                         const std::vector<OnboardingTarget>& targets,
                                         absl::Time from, absl::Time to, absl::Time now,
                                         int late_limit);

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_ONBOARDING_H_
