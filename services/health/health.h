#ifndef CS_SERVICES_HEALTH_HEALTH_H_
#define CS_SERVICES_HEALTH_HEALTH_H_

// Domain values of signals ingest, scores, alerts, overrides and the portfolio
// views: plain structs, no proto or SQL types.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/health/account.h"
#include "services/health/alerts.h"
#include "services/health/churn_analysis.h"
#include "services/health/churn_model.h"
#include "services/health/scorecard.h"
#include "services/health/scoring.h"
#include "services/health/signal.h"

namespace cs::health {

// Values match cs.health.v1.RecordOutcome.
enum class RecordOutcome { kUnspecified = 0, kAccepted = 1, kDuplicate = 2, kRejected = 3 };

struct RecordAck {
  int index = 0;
  std::string event_id;
  RecordOutcome outcome = RecordOutcome::kUnspecified;
  std::string reason;
};

struct IngestResult {
  std::vector<RecordAck> acks;  // in request order
  int accepted = 0;
  int duplicates = 0;
  int rejected = 0;
};

// Record i of a batch as received (JSON), for the dead-letter list. Called only
// for a rejected record: printing every record cost the ingest more than a third
// of its CPU.
using RecordPrinter = std::function<std::string(int index)>;

// One record of a batch as the repository gets it: either a valid signal, or the
// reason it was refused.
struct IngestRecord {
  int index = 0;
  std::optional<Signal> signal;
  std::string event_id;
  std::string account_id;
  std::string rejection;  // set when !signal
  // TrackEvents: the analytics event name the signal was mapped from.
  std::string event_name;
};

struct IngestBatch {
  std::string source;  // "RecordSignals" or "TrackEvents"
  std::vector<IngestRecord> records;
  RecordPrinter record_json;  // may be empty: rejected records are kept without it
  // One bad record (including an unknown account) refuses the whole batch.
  bool atomic = false;
};

struct EventMapping {
  std::string event_name;
  SignalKind kind = SignalKind::kUnspecified;
  std::string value_property;
  std::string feature_property;
  absl::Time updated_at;
};

// A property of a track event: a number, a string or a boolean.
using PropertyValue = std::variant<double, std::string, bool>;

struct TrackEvent {
  std::string message_id;
  std::string event;
  std::string user_id;
  std::string group_id;
  absl::Time timestamp;
  std::map<std::string, PropertyValue> properties;
};

struct RejectedRecord {
  int64_t id = 0;
  std::string source;
  std::string event_id;
  std::string account_id;
  std::string reason;
  absl::Time received_at;
  std::string record_json;
};

struct RejectedQuery {
  std::string source;
  std::string account_id;
  int64_t before_id = 0;  // 0: from the newest
  int limit = 50;
};

struct RejectedPage {
  std::vector<RejectedRecord> records;
  int64_t next_before_id = 0;  // 0: last page
};

struct Override {
  std::string account_id;
  std::string score_name;
  double score = 0;
  std::string reason;
  std::string set_by;
  absl::Time set_at;
  absl::Time expires_at;
};

// An account's score as GetHealth answers it.
struct HealthView {
  StoredScore computed;
  double score = 0;  // after an active override
  Band band = Band::kUnspecified;
  std::optional<Override> active_override;
  std::optional<double> change_30d, change_60d, change_90d;
  std::vector<Alert> open_alerts;
  std::optional<double> churn_probability;
};

struct HealthPoint {
  absl::CivilDay day;
  double score = 0;
  Band band = Band::kUnspecified;
  int scorecard_version = 0;
};

struct ComponentChange {
  Component component = Component::kUnspecified;
  double contribution_from = 0, contribution_to = 0;
  double raw_from = 0, raw_to = 0;
};

struct ExplainResult {
  HealthView from, to;
  std::vector<ComponentChange> components;  // largest absolute change first
  std::vector<std::pair<SignalKind, int64_t>> signals;
};

struct AtRiskQuery {
  std::string score_name = kDefaultScoreName;
  std::vector<Band> bands;  // empty: RED and YELLOW
  bool by_arr = false;      // else lowest score first
  std::optional<Tier> tier;
  std::string after;        // position from the previous page's token
  int limit = 50;
};

struct AtRiskEntry {
  Account account;
  double score = 0;
  Band band = Band::kUnspecified;
  absl::Time computed_at;
};

struct AtRiskPage {
  std::vector<AtRiskEntry> entries;
  std::string next_after;  // empty: last page
};

struct BandDistribution {
  std::optional<Tier> tier;  // nullopt: the whole portfolio
  int64_t accounts = 0, green = 0, yellow = 0, red = 0;
  double average_score = 0;
};

// DOMAIN §2 (003): 80 % green, 15 % yellow, 5 % red.
inline constexpr double kTargetGreenShare = 0.80;
inline constexpr double kTargetYellowShare = 0.15;
inline constexpr double kTargetRedShare = 0.05;

struct BandMovement {
  Band from = Band::kUnspecified, to = Band::kUnspecified;
  int64_t accounts = 0;
};

struct PortfolioSummary {
  BandDistribution overall;
  std::vector<BandDistribution> by_tier;
  std::vector<BandMovement> movements;
  int period_days = 30;
};

struct AlertQuery {
  std::string account_id;
  std::optional<AlertKind> kind;
  bool open_only = false;
  int64_t before_id = 0;  // 0: from the newest
  int limit = 50;
};

struct AlertPage {
  std::vector<Alert> alerts;
  int64_t next_before_id = 0;
};

// The payload of an EXPANSION_SIGNAL event: an accepted expansion-interest signal
// and the account's standing on its "health" score once the batch that carried it
// was scored (band unspecified when it has no health score yet).
struct ExpansionSignalEvent {
  Signal signal;
  Band band = Band::kUnspecified;
  double score = 0;
  Tier tier = Tier::kUnspecified;
};

struct BacktestQuery {
  // A stored scorecard (version 0: the current one), or a draft.
  std::string scorecard_id;
  int version = 0;
  std::optional<Scorecard> draft;
  std::vector<absl::CivilDay> as_of;  // empty: today - horizon_days
  int horizon_days = 0;               // 0: 90
};

struct BacktestResult {
  std::string scorecard_id;
  int scorecard_version = 0;  // 0 for a draft
  int horizon_days = 0;
  BacktestSummary overall;
  std::vector<BacktestSummary> by_date;  // oldest first
};

struct TrainChurnRequest {
  std::optional<absl::CivilDay> cutoff;  // default today - horizon_days
  int horizon_days = 0;                  // 0: 90
  int lookback_days = 0;                 // 0: 90
  double holdout_fraction = 0;           // 0: 0.25
  uint64_t seed = 0;                     // 0: 1
};

// A trained churn model as stored, with what it was trained on.
struct StoredChurnModel {
  int64_t model_id = 0;
  absl::Time trained_at;
  absl::CivilDay cutoff;
  int horizon_days = 0;
  int lookback_days = 0;
  double holdout_fraction = 0;
  uint64_t seed = 0;
  ChurnModel model;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_HEALTH_H_
