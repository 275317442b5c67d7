#ifndef CS_SERVICES_HEALTH_SCORING_H_
#define CS_SERVICES_HEALTH_SCORING_H_

// Rescoring one account: every named score from the scorecard that covers it,
// the events a change publishes, and the early-warning alerts that open or
// resolve. A pure function of what the repository read, so the same rules serve
// ingest, the daily rescore and a scorecard change.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/health/account.h"
#include "services/health/alerts.h"
#include "services/health/measures.h"
#include "services/health/scorecard.h"

namespace cs::health {

// A SCORE_CHANGED event is published when the score moved at least this much
// since the last one published (or the band changed): a stream consumer wants
// movements, not every decimal of every batch.
inline constexpr double kPublishedScoreStep = 1.0;

struct StoredScore {
  std::string account_id;
  std::string score_name;
  std::string scorecard_id;
  int scorecard_version = 0;
  double score = 0;
  Band band = Band::kUnspecified;
  std::vector<ComponentScore> components;
  // The components' stored text (EncodeComponents). A rescore reads the current
  // scores with this alone, undecoded, and Rescore sets it on a new score whose
  // current one has it: the two texts are compared, and a changed score's is written
  // as it is.
  std::optional<std::string> encoded_components;
  absl::Time computed_at;
  // The score last announced in a SCORE_CHANGED event.
  double published_score = 0;
};

struct ScoreChange {
  std::string account_id;
  std::string score_name;
  double previous_score = 0;
  Band previous_band = Band::kUnspecified;  // unspecified: the first score
  double score = 0;
  Band band = Band::kUnspecified;
  std::string scorecard_id;
  int scorecard_version = 0;
  absl::Time computed_at;
  Tier tier = Tier::kUnspecified;
};

struct RescoreInput {
  const Account* account = nullptr;
  const CounterWindow* counters = nullptr;
  // The current version of every scorecard.
  const std::vector<Scorecard>* scorecards = nullptr;
  // The account's stored scores by score name.
  std::map<std::string, StoredScore> current;
  std::vector<Alert> open_alerts;
  const AlertSettings* settings = nullptr;
  absl::Time now;
};

struct RescoreOutput {
  // Every score computed now; `changed` says which differ from what is stored.
  std::vector<StoredScore> scores;
  std::vector<bool> changed;
  std::vector<ScoreChange> score_changed;
  std::vector<ScoreChange> band_changed;
  AlertChanges alerts;
};

// What `scorecard` makes of the counters at the end of `day`: every component's
// measure over its lookback window ending that day, then ComputeScore. Shared by
// live rescoring and backtests, so a replay scores exactly as production would.
absl::StatusOr<Score> ScoreAt(const Scorecard& scorecard, const CounterWindow& counters,
                              absl::CivilDay day);

// Scores nothing for an account without any signal (a new account is not RED
// for lack of data); evaluates no alert for a churned account.
RescoreOutput Rescore(const RescoreInput& in);

// The number of days of counters Rescore needs to look back from `now`.
int CounterDaysNeeded(const std::vector<Scorecard>& scorecards, const AlertSettings& settings);

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_SCORING_H_
