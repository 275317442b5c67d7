#include "services/playbooks/onboarding.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace cs::playbooks {

std::vector<OnboardingTarget> DefaultOnboardingTargets() {
  return {{"ENTERPRISE", 7, 0.95}, {"MID_MARKET", 10, 0.90}, {"SMB", 14, 0.85}, {"SOLO", 21, 0.75}};
}

std::optional<double> Quantile(std::vector<double> values, double p) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const double position = (values.size() - 1) * std::clamp(p, 0.0, 1.0);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (position - below) * (values[above] - values[below]);
}

namespace {

double DaysBetween(absl::Time from, absl::Time to) {
  return std::max(0.0, absl::ToDoubleHours(to - from) / 24.0);
}

}  // namespace

OnboardingReport ComputeOnboardingReport(const std::vector<OnboardingFact>& facts,
                                         const std::vector<OnboardingTarget>& targets,
                                         absl::Time from, absl::Time to, absl::Time now,
                                         int late_limit) {
  OnboardingReport report;
  report.from = from;
  report.to = to;
  std::map<std::string, size_t> index;
  for (const OnboardingTarget& t : targets) {
    index[t.tier] = report.by_tier.size();
    OnboardingTierMetrics m;
    m.target = t;
    report.by_tier.push_back(m);
  }
  std::vector<std::vector<double>> days(report.by_tier.size());
  for (const OnboardingFact& f : facts) {
    auto it = index.find(f.tier);
    if (it == index.end()) continue;
    OnboardingTierMetrics& m = report.by_tier[it->second];
    const int target_days = m.target.time_to_value_days;
    ++m.onboardings;
    if (f.reached_value_at.has_value()) {
      const double d = DaysBetween(f.started_at, *f.reached_value_at);
      days[it->second].push_back(d);
      ++m.reached_value;
      if (d <= target_days) ++m.reached_value_within_target;
    }
    switch (f.state) {
      case RunState::kSucceeded:
        ++m.completed;
        break;
      case RunState::kFailed:
        ++m.not_completed;
        break;
      case RunState::kActive:
        // Its whole plan is past due and it is still not done: not completed.
        if (f.last_due_at.has_value() && *f.last_due_at < now) {
          ++m.not_completed;
        } else {
          ++m.in_progress;
        }
        break;
      default:
        break;  // cancelled by hand: neither way
    }
    if (f.churned) continue;
    LateOnboarding late;
    if (!f.reached_value_at.has_value() && now - f.started_at > absl::Hours(24) * target_days) {
      late.reasons.push_back(LateReason::kNoValuePastTarget);
    }
    if (f.state == RunState::kActive && f.overdue_tasks > 0) {
      late.reasons.push_back(LateReason::kOnboardingOverdue);
    }
    if (late.reasons.empty()) continue;
    late.account_id = f.account_id;
    late.tier = f.tier;
    late.run_id = f.run_id;
    late.owner_id = f.owner_id;
    late.started_at = f.started_at;
    late.days_since_start = DaysBetween(f.started_at, now);
    late.target_days = target_days;
    late.overdue_tasks = f.state == RunState::kActive ? f.overdue_tasks : 0;
    if (late.overdue_tasks > 0) late.oldest_overdue_due_at = f.oldest_overdue_due_at;
    report.late.push_back(std::move(late));
  }
  for (size_t i = 0; i < report.by_tier.size(); ++i) {
    OnboardingTierMetrics& m = report.by_tier[i];
    m.median_days_to_value = Quantile(days[i], 0.5);
    m.p90_days_to_value = Quantile(days[i], 0.9);
    m.time_to_value_target_met =
        m.median_days_to_value.has_value() && *m.median_days_to_value <= m.target.time_to_value_days;
    const int decided = m.completed + m.not_completed;
    if (decided > 0) {
      m.completion_rate = static_cast<double>(m.completed) / decided;
      m.completion_target_met = *m.completion_rate >= m.target.completion_rate;
    }
  }
  std::stable_sort(report.late.begin(), report.late.end(),
                   [](const LateOnboarding& a, const LateOnboarding& b) {
                     if (a.started_at != b.started_at) return a.started_at < b.started_at;
                     return a.account_id < b.account_id;
                   });
  if (late_limit >= 0 && report.late.size() > static_cast<size_t>(late_limit)) {
    report.late.resize(late_limit);
  }
  return report;
}

}  // namespace cs::playbooks
