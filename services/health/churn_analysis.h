#ifndef CS_SERVICES_HEALTH_CHURN_ANALYSIS_H_
#define CS_SERVICES_HEALTH_CHURN_ANALYSIS_H_

// Looking back at accounts whose outcome is known: whether an account churned
// within a horizon after a day, the features the churn model reads, and the
// tally of a scorecard backtest. Pure functions over what the repository read.

#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "services/health/account.h"
#include "services/health/backtest.h"
#include "services/health/churn_model.h"
#include "services/health/measures.h"
#include "services/health/scorecard.h"

namespace cs::health {

// One account with its daily counters over the days the caller asked for.
struct AccountHistory {
  Account account;
  CounterWindow counters;
  // The first day with any signal, over all time; nullopt: none yet.
  std::optional<absl::CivilDay> first_signal_day;
};

enum class Outcome {
  kAlreadyChurned,  // churned on or before the day: nothing left to predict
  kChurned,         // churned within the horizon after the day
  kStayed,          // still a customer when the horizon ended
};

// The caller makes sure the horizon has passed (day + horizon_days <= today), so
// an account that has not churned is known to have stayed.
Outcome OutcomeAfter(const Account& account, absl::CivilDay day, int horizon_days);

// The churn model's inputs: the measures that are sums and so always defined
// (logins, session minutes, data volume, distinct features, tickets, payment
// failures, engagement, expansion interest, sponsor changes). Averages and ratios
// are left out: they have no value without observations, and imputing one would
// invent data the model then learns from.
const std::vector<std::string>& ChurnFeatureNames();
std::vector<double> ChurnFeatures(const CounterWindow& counters, absl::CivilDay day,
                                  int lookback_days);

// A training example at `cutoff`: features over the lookback ending on it, label
// churned within the horizon. nullopt for an account that had churned already or
// had no signal by the cutoff (it was not a customer the suite knew of).
std::optional<ChurnExample> ChurnExampleAt(const AccountHistory& history, absl::CivilDay cutoff,
                                           int horizon_days, int lookback_days);

// The accounts of one backtest day, and those left out and why.
struct BacktestTally {
  std::optional<absl::CivilDay> as_of;  // nullopt: every day together
  std::vector<BacktestCase> cases;
  int skipped_already_churned = 0;
  int skipped_no_data = 0;
  int skipped_not_covered = 0;
};

// Replays `scorecard` on the account as it stood at the end of `day` and adds the
// case (score, band, churned within the horizon) to the tally, or counts why it
// was left out: churned already, no signal by the day (or nothing the scorecard
// can measure), or a tier or industry the scorecard does not cover.
void AddToBacktest(const Scorecard& scorecard, const AccountHistory& history, absl::CivilDay day,
                   int horizon_days, BacktestTally* tally);

// The tally's report with its skip counts.
struct BacktestSummary {
  std::optional<absl::CivilDay> as_of;
  BacktestReport report;
  int skipped_already_churned = 0;
  int skipped_no_data = 0;
  int skipped_not_covered = 0;
};
BacktestSummary Summarize(const BacktestTally& tally);

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_CHURN_ANALYSIS_H_
