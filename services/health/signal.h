#ifndef CS_SERVICES_HEALTH_SIGNAL_H_
#define CS_SERVICES_HEALTH_SIGNAL_H_

// Raw signals from the integrations (usage, support, payment, engagement, expansion
// interest, relationship) and the daily counters they add to. Scores and alerts
// are computed from those counters, never from the raw rows, so a rescore reads
// at most one row per counter and day.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace cs::health {

// Values match cs.health.v1.SignalKind.
enum class SignalKind {
  kUnspecified = 0,
  kLogin = 1,
  kSessionMinutes = 2,
  kFeatureUsed = 3,
  kDataVolume = 4,
  kTicketOpened = 10,
  kTicketResolved = 11,
  kPaymentSucceeded = 20,
  kPaymentFailed = 21,
  kPaymentLate = 22,
  kEmailOpen = 30,
  kEmailClick = 31,
  kWebinarAttended = 32,
  kCommunityPost = 33,
  kSurveyResponse = 34,
  kNpsResponse = 35,
  kFeatureRequest = 40,
  kIntegrationRequest = 41,
  kUpsellInterest = 42,
  kReferral = 43,
  kSponsorChange = 50,
  kCsmSentiment = 51,
};

struct Signal {
  std::string event_id;
  std::string account_id;
  SignalKind kind = SignalKind::kUnspecified;
  absl::Time occurred_at;
  double value = 0;
  std::string feature;
  double csat = 0;
};

absl::string_view SignalKindName(SignalKind kind);
std::optional<SignalKind> SignalKindFromName(absl::string_view name);
bool IsKnownSignalKind(int number);
// Feature or integration request, upsell interest, referral: the kinds that publish
// an EXPANSION_SIGNAL event when accepted.
bool IsExpansionSignal(SignalKind kind);

// Checks one signal; errors name the field under `field` ("signals[3].occurred_at").
// occurred_at may be late but not more than a day after `now`.
absl::Status ValidateSignal(absl::string_view field, const Signal& s, absl::Time now);

// Counter names (packed per account and month in signal_counters, packed_rows.h).
// Per-feature use is counted under
// kFeaturePrefix + feature name.
namespace counter {
inline constexpr char kLogins[] = "logins";
inline constexpr char kSessionMinutes[] = "session_minutes";
inline constexpr char kDataVolume[] = "data_volume";
inline constexpr char kFeatureUses[] = "feature_uses";
inline constexpr char kFeaturePrefix[] = "feature:";
inline constexpr char kTicketsOpened[] = "tickets_opened";
inline constexpr char kTicketsResolved[] = "tickets_resolved";
inline constexpr char kResolutionHours[] = "resolution_hours";
inline constexpr char kCsatSum[] = "csat_sum";
inline constexpr char kCsatCount[] = "csat_count";
inline constexpr char kPaymentsSucceeded[] = "payments_succeeded";
inline constexpr char kPaymentsFailed[] = "payments_failed";
inline constexpr char kPaymentsLate[] = "payments_late";
inline constexpr char kEmailOpens[] = "email_opens";
inline constexpr char kEmailClicks[] = "email_clicks";
inline constexpr char kWebinars[] = "webinars";
inline constexpr char kCommunityPosts[] = "community_posts";
inline constexpr char kSurveys[] = "surveys";
inline constexpr char kNpsSum[] = "nps_sum";
inline constexpr char kNpsCount[] = "nps_count";
inline constexpr char kFeatureRequests[] = "feature_requests";
inline constexpr char kIntegrationRequests[] = "integration_requests";
inline constexpr char kUpsellInterest[] = "upsell_interest";
inline constexpr char kReferrals[] = "referrals";
inline constexpr char kSponsorChanges[] = "sponsor_changes";
inline constexpr char kSentimentSum[] = "sentiment_sum";
inline constexpr char kSentimentCount[] = "sentiment_count";
}  // namespace counter

// What one (valid) signal adds to its day's counters: `add` is called once per
// counter (at most four), with a name that lives only for the call.
void ForEachCounterIncrement(const Signal& s,
                             absl::FunctionRef<void(absl::string_view counter, double amount)> add);

// The UTC day a time falls on, and the instant that day starts.
absl::CivilDay DayOf(absl::Time t);
absl::Time StartOfDay(absl::CivilDay day);

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_SIGNAL_H_
