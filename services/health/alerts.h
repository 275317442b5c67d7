#ifndef CS_SERVICES_HEALTH_ALERTS_H_
#define CS_SERVICES_HEALTH_ALERTS_H_

// Early warnings (DOMAIN §2): the rules, their thresholds, and how the open alerts
// of an account follow what the rules find. One open alert per account and kind;
// an alert resolves itself when its condition no longer holds.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/health/measures.h"
#include "services/health/scorecard.h"

namespace cs::health {

// Values match cs.health.v1.AlertKind.
enum class AlertKind {
  kUnspecified = 0,
  kUsageDecline = 1,
  kEngagementDrop = 2,
  kTicketSurge = 3,
  kPaymentFailure = 4,
  kFeatureAbandonment = 5,
  kCommunicationBreakdown = 6,
  kBandWorsened = 7,
  kScoreBelowThreshold = 8,
};

// Values match cs.health.v1.Severity.
enum class Severity { kUnspecified = 0, kLow = 1, kMedium = 2, kHigh = 3, kCritical = 4 };

absl::string_view AlertKindName(AlertKind kind);
std::optional<AlertKind> AlertKindFromName(absl::string_view name);
absl::string_view SeverityName(Severity severity);
std::optional<Severity> SeverityFromName(absl::string_view name);

// Declines and increases compare the last period_days days with the period_days before.
struct AlertSettings {
  int period_days = 30;
  double usage_decline_pct = 20;       // DOMAIN §2 (002)
  double engagement_drop_pct = 30;     // DOMAIN §2 (002)
  double ticket_increase_pct = 50;     // DOMAIN §2 (002)
  double communication_drop_pct = 50;
  double score_threshold = 50;
  // A decline needs at least this much in the previous period (an account that
  // logged in twice and then once has not "declined by 50 %"); an increase needs
  // at least this much now.
  double min_baseline = 5;
  absl::Time updated_at;
};

// Errors name the field ("settings.usage_decline_pct").
absl::Status ValidateAlertSettings(const AlertSettings& settings);

struct Alert {
  int64_t id = 0;
  std::string account_id;
  AlertKind kind = AlertKind::kUnspecified;
  Severity severity = Severity::kUnspecified;
  std::string summary;
  std::map<std::string, double> evidence;
  absl::Time opened_at;
  std::optional<absl::Time> resolved_at;
};

// A condition that holds now.
struct AlertFinding {
  AlertKind kind = AlertKind::kUnspecified;
  Severity severity = Severity::kUnspecified;
  std::string summary;
  std::map<std::string, double> evidence;
};

// Rules over the signals: usage decline, engagement drop, ticket surge, payment
// failure, feature abandonment, communication breakdown.
std::vector<AlertFinding> EvaluateSignalRules(const CounterWindow& counters, absl::CivilDay today,
                                              const AlertSettings& settings);

// Rules over the score: band worsened (holds until the band is back where it was
// before the worsening) and score below the threshold. `open_band_alert` is the
// account's open BAND_WORSENED alert, if any.
std::vector<AlertFinding> EvaluateScoreRules(std::optional<Band> previous_band, Band band,
                                             double score, const Alert* open_band_alert,
                                             const AlertSettings& settings);

struct AlertChanges {
  std::vector<Alert> opened;    // id 0: not yet stored
  std::vector<Alert> resolved;  // with resolved_at set
};

// Opens an alert for each finding of a kind not open yet and resolves each open
// alert whose kind no longer holds. Only kinds in `evaluated` are resolved, so a
// partial evaluation never closes what it did not look at.
AlertChanges ReconcileAlerts(const std::string& account_id, const std::vector<Alert>& open,
                             const std::vector<AlertFinding>& findings,
                             const std::vector<AlertKind>& evaluated, absl::Time now);

// The kinds each evaluator looks at.
const std::vector<AlertKind>& SignalRuleKinds();
const std::vector<AlertKind>& ScoreRuleKinds();

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_ALERTS_H_
