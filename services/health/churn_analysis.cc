#include "services/health/churn_analysis.h"

#include "services/health/scoring.h"

namespace cs::health {

Outcome OutcomeAfter(const Account& account, absl::CivilDay day, int horizon_days) {
  // churned_on is what MarkChurned recorded; lifecycle alone carries no date, so a
  // churned account without one cannot be placed in time and counts as churned
  // before any day.
  if (!account.churned_on.has_value()) {
    return account.lifecycle == Lifecycle::kChurned ? Outcome::kAlreadyChurned : Outcome::kStayed;
  }
  if (*account.churned_on <= day) return Outcome::kAlreadyChurned;
  if (*account.churned_on <= day + horizon_days) return Outcome::kChurned;
  return Outcome::kStayed;
}

const std::vector<std::string>& ChurnFeatureNames() {
  static const auto* names = new std::vector<std::string>{
      "logins_per_week",        "session_minutes_per_week",    "data_volume_per_week",
      "distinct_features_used", "tickets_per_month",           "payment_failures",
      "engagement_events_per_month", "expansion_signals",      "sponsor_changes",
  };
  return *names;
}

std::vector<double> ChurnFeatures(const CounterWindow& counters, absl::CivilDay day,
                                  int lookback_days) {
  std::vector<double> out;
  for (const std::string& name : ChurnFeatureNames()) {
    out.push_back(ComputeMeasure(name, counters, day, lookback_days).value_or(0));
  }
  return out;
}

std::optional<ChurnExample> ChurnExampleAt(const AccountHistory& h, absl::CivilDay cutoff,
                                           int horizon_days, int lookback_days) {
  const Outcome outcome = OutcomeAfter(h.account, cutoff, horizon_days);
  if (outcome == Outcome::kAlreadyChurned) return std::nullopt;
  if (!h.first_signal_day.has_value() || *h.first_signal_day > cutoff) return std::nullopt;
  ChurnExample e;
  e.features = ChurnFeatures(h.counters, cutoff, lookback_days);
  e.churned = outcome == Outcome::kChurned;
  return e;
}

void AddToBacktest(const Scorecard& scorecard, const AccountHistory& h, absl::CivilDay day,
                   int horizon_days, BacktestTally* tally) {
  const Outcome outcome = OutcomeAfter(h.account, day, horizon_days);
  if (outcome == Outcome::kAlreadyChurned) {
    ++tally->skipped_already_churned;
    return;
  }
  if (!Covers(scorecard, h.account.tier, h.account.industry)) {
    ++tally->skipped_not_covered;
    return;
  }
  if (!h.first_signal_day.has_value() || *h.first_signal_day > day) {
    ++tally->skipped_no_data;
    return;
  }
  absl::StatusOr<Score> score = ScoreAt(scorecard, h.counters, day);
  if (!score.ok()) {
    ++tally->skipped_no_data;
    return;
  }
  tally->cases.push_back({.score = score->value,
                          .band = static_cast<int>(score->band),
                          .churned = outcome == Outcome::kChurned});
}

BacktestSummary Summarize(const BacktestTally& tally) {
  BacktestSummary s;
  s.as_of = tally.as_of;
  s.report = SummarizeBacktest(tally.cases);
  s.skipped_already_churned = tally.skipped_already_churned;
  s.skipped_no_data = tally.skipped_no_data;
  s.skipped_not_covered = tally.skipped_not_covered;
  return s;
}

}  // namespace cs::health
