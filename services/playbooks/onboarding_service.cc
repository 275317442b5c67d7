#include "services/playbooks/onboarding_service.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace cs::playbooks {

absl::StatusOr<OnboardingReport> OnboardingService::GetOnboardingMetrics(const OnboardingQuery& q) {
  const absl::Time now = clock_->Now();
  const absl::Time to = q.to.value_or(now);
  const absl::Time from = q.from.value_or(to - absl::Hours(24) * kDefaultPeriodDays);
  if (from >= to) return absl::InvalidArgumentError("from: must be before to");
  if (q.late_limit < 0 || q.late_limit > kMaxLateLimit) {
    return absl::InvalidArgumentError(absl::StrCat("late_limit: must be in 0-", kMaxLateLimit));
  }
  std::vector<OnboardingTarget> targets = DefaultOnboardingTargets();
  std::set<std::string> overridden;
  for (size_t i = 0; i < q.targets.size(); ++i) {
    const OnboardingTarget& t = q.targets[i];
    const std::string field = absl::StrCat("targets[", i, "]");
    bool known = false;
    for (OnboardingTarget& d : targets) {
      if (d.tier != t.tier) continue;
      known = true;
      if (!overridden.insert(t.tier).second) {
        return absl::InvalidArgumentError(absl::StrCat(field, ".tier: given twice"));
      }
      if (t.time_to_value_days < 1 || t.time_to_value_days > 365) {
        return absl::InvalidArgumentError(absl::StrCat(field, ".time_to_value_days: must be 1-365"));
      }
      if (!(t.completion_rate > 0 && t.completion_rate <= 1)) {
        return absl::InvalidArgumentError(absl::StrCat(field, ".completion_rate: must be in (0, 1]"));
      }
      d = t;
    }
    if (!known) return absl::InvalidArgumentError(absl::StrCat(field, ".tier: required (a known tier)"));
  }
  if (!q.tier.empty()) {
    std::vector<OnboardingTarget> one;
    for (const OnboardingTarget& t : targets) {
      if (t.tier == q.tier) one.push_back(t);
    }
    if (one.empty()) return absl::InvalidArgumentError("tier: unknown tier");
    targets = std::move(one);
  }
  ASSIGN_OR_RETURN(std::vector<OnboardingFact> facts,
                   repository_->LoadOnboardingFacts(from, to, q.tier, now));
  return ComputeOnboardingReport(facts, targets, from, to, now,
                                 q.late_limit == 0 ? kDefaultLateLimit : q.late_limit);
}

}  // namespace cs::playbooks
