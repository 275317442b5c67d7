#include "services/health/signal.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/enum_names.h"
#include "common/status.h"
#include "common/validation.h"

namespace cs::health {
namespace {

constexpr EnumNames<SignalKind, 22> kSignalKinds({{
    {SignalKind::kUnspecified, "UNSPECIFIED"},
    {SignalKind::kLogin, "LOGIN"},
    {SignalKind::kSessionMinutes, "SESSION_MINUTES"},
    {SignalKind::kFeatureUsed, "FEATURE_USED"},
    {SignalKind::kDataVolume, "DATA_VOLUME"},
    {SignalKind::kTicketOpened, "TICKET_OPENED"},
    {SignalKind::kTicketResolved, "TICKET_RESOLVED"},
    {SignalKind::kPaymentSucceeded, "PAYMENT_SUCCEEDED"},
    {SignalKind::kPaymentFailed, "PAYMENT_FAILED"},
    {SignalKind::kPaymentLate, "PAYMENT_LATE"},
    {SignalKind::kEmailOpen, "EMAIL_OPEN"},
    {SignalKind::kEmailClick, "EMAIL_CLICK"},
    {SignalKind::kWebinarAttended, "WEBINAR_ATTENDED"},
    {SignalKind::kCommunityPost, "COMMUNITY_POST"},
    {SignalKind::kSurveyResponse, "SURVEY_RESPONSE"},
    {SignalKind::kNpsResponse, "NPS_RESPONSE"},
    {SignalKind::kFeatureRequest, "FEATURE_REQUEST"},
    {SignalKind::kIntegrationRequest, "INTEGRATION_REQUEST"},
    {SignalKind::kUpsellInterest, "UPSELL_INTEREST"},
    {SignalKind::kReferral, "REFERRAL"},
    {SignalKind::kSponsorChange, "SPONSOR_CHANGE"},
    {SignalKind::kCsmSentiment, "CSM_SENTIMENT"},
}});

// Kinds whose value is an amount (not a count of one).
bool CarriesAmount(SignalKind kind) {
  switch (kind) {
    case SignalKind::kSessionMinutes:
    case SignalKind::kDataVolume:
    case SignalKind::kTicketResolved:
    case SignalKind::kNpsResponse:
    case SignalKind::kCsmSentiment:
      return true;
    default:
      return false;
  }
}

// An error of a field inside `field`, with its path.
absl::Status Within(absl::string_view field, const absl::Status& inner) {
  return absl::InvalidArgumentError(absl::StrCat(field, ".", inner.message()));
}

absl::Status Invalid(absl::string_view field, absl::string_view sub, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ".", sub, ": ", why));
}

}  // namespace

absl::string_view SignalKindName(SignalKind kind) { return kSignalKinds.Name(kind); }
std::optional<SignalKind> SignalKindFromName(absl::string_view name) {
  return kSignalKinds.Parse(name);
}
bool IsKnownSignalKind(int number) {
  const auto kind = static_cast<SignalKind>(number);
  return kind != SignalKind::kUnspecified && kSignalKinds.Name(kind, "") != "";
}

absl::CivilDay DayOf(absl::Time t) { return absl::ToCivilDay(t, absl::UTCTimeZone()); }

absl::Time StartOfDay(absl::CivilDay day) { return absl::FromCivil(day, absl::UTCTimeZone()); }

absl::Status ValidateSignal(absl::string_view field, const Signal& s, absl::Time now) {
  // The ids are checked under their own names and the signal's path is added only
  // to an error: a valid batch builds no field names.
  if (absl::Status v = ValidateId("event_id", s.event_id); !v.ok()) return Within(field, v);
  if (absl::Status v = ValidateId("account_id", s.account_id); !v.ok()) return Within(field, v);
  if (!IsKnownSignalKind(static_cast<int>(s.kind))) {
    return Invalid(field, "kind", "must be a known signal kind");
  }
  if (s.occurred_at == absl::Time() || s.occurred_at == absl::UnixEpoch()) {
    return Invalid(field, "occurred_at", "must be set");
  }
  if (s.occurred_at > now + absl::Hours(24)) {
    return Invalid(field, "occurred_at", "more than a day in the future");
  }
  if (s.occurred_at < absl::FromCivil(absl::CivilDay(2000, 1, 1), absl::UTCTimeZone())) {
    return Invalid(field, "occurred_at", "before 2000-01-01");
  }
  if (!std::isfinite(s.value) || s.value < 0) {
    return Invalid(field, "value", "must be a finite number, not negative");
  }
  if (!CarriesAmount(s.kind) && s.value != 0 && s.value != 1) {
    return Invalid(field, "value", absl::StrCat("must be 0 or 1 for ", SignalKindName(s.kind)));
  }
  switch (s.kind) {
    case SignalKind::kNpsResponse:
      if (s.value > 10) return Invalid(field, "value", "an NPS answer is 0-10");
      break;
    case SignalKind::kCsmSentiment:
      if (s.value < 1 || s.value > 5) return Invalid(field, "value", "a CSM sentiment is 1-5");
      break;
    case SignalKind::kSessionMinutes:
      if (s.value > 24 * 60) return Invalid(field, "value", "more than a day of minutes");
      break;
    default:
      break;
  }
  if (s.kind == SignalKind::kFeatureUsed && s.feature.empty()) {
    return Invalid(field, "feature", "must name the feature for FEATURE_USED");
  }
  if (s.feature.size() > 64) return Invalid(field, "feature", "longer than 64 characters");
  if (!std::isfinite(s.csat) || (s.csat != 0 && (s.csat < 1 || s.csat > 5))) {
    return Invalid(field, "csat", "must be 1-5, or 0 when not rated");
  }
  if (s.csat != 0 && s.kind != SignalKind::kTicketResolved) {
    return Invalid(field, "csat", "only a TICKET_RESOLVED signal carries one");
  }
  return absl::OkStatus();
}

void ForEachCounterIncrement(const Signal& s,
                             absl::FunctionRef<void(absl::string_view counter, double amount)> add) {
  using namespace counter;  // NOLINT(build/namespaces): the names read as a table here
  switch (s.kind) {
    case SignalKind::kLogin: return add(kLogins, 1);
    case SignalKind::kSessionMinutes: return add(kSessionMinutes, s.value);
    case SignalKind::kDataVolume: return add(kDataVolume, s.value);
    case SignalKind::kFeatureUsed: {
      add(kFeatureUses, 1);
      // A valid feature name is at most 64 characters: the counter's name fits here.
      char name[sizeof(kFeaturePrefix) + 64];
      const size_t prefix = sizeof(kFeaturePrefix) - 1;
      const size_t length = std::min(s.feature.size(), sizeof(name) - prefix);
      std::memcpy(name, kFeaturePrefix, prefix);
      std::memcpy(name + prefix, s.feature.data(), length);
      return add(absl::string_view(name, prefix + length), 1);
    }
    case SignalKind::kTicketOpened: return add(kTicketsOpened, 1);
    case SignalKind::kTicketResolved:
      add(kTicketsResolved, 1);
      add(kResolutionHours, s.value);
      if (s.csat != 0) {
        add(kCsatSum, s.csat);
        add(kCsatCount, 1);
      }
      return;
    case SignalKind::kPaymentSucceeded: return add(kPaymentsSucceeded, 1);
    case SignalKind::kPaymentFailed: return add(kPaymentsFailed, 1);
    case SignalKind::kPaymentLate: return add(kPaymentsLate, 1);
    case SignalKind::kEmailOpen: return add(kEmailOpens, 1);
    case SignalKind::kEmailClick: return add(kEmailClicks, 1);
    case SignalKind::kWebinarAttended: return add(kWebinars, 1);
    case SignalKind::kCommunityPost: return add(kCommunityPosts, 1);
    case SignalKind::kSurveyResponse: return add(kSurveys, 1);
    case SignalKind::kNpsResponse:
      add(kNpsSum, s.value);
      return add(kNpsCount, 1);
    case SignalKind::kFeatureRequest: return add(kFeatureRequests, 1);
    case SignalKind::kIntegrationRequest: return add(kIntegrationRequests, 1);
    case SignalKind::kUpsellInterest: return add(kUpsellInterest, 1);
    case SignalKind::kReferral: return add(kReferrals, 1);
    case SignalKind::kSponsorChange: return add(kSponsorChanges, 1);
    case SignalKind::kCsmSentiment:
      add(kSentimentSum, s.value);
      return add(kSentimentCount, 1);
    default: return;
  }
}

bool IsExpansionSignal(SignalKind kind) {
  return kind == SignalKind::kFeatureRequest || kind == SignalKind::kIntegrationRequest ||
         kind == SignalKind::kUpsellInterest || kind == SignalKind::kReferral;
}

}  // namespace cs::health
