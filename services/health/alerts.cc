#include "services/health/alerts.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/enum_names.h"
#include "services/health/signal.h"

namespace cs::health {
namespace {

constexpr EnumNames<AlertKind, 9> kAlertKinds({{
    {AlertKind::kUnspecified, "UNSPECIFIED"},
    {AlertKind::kUsageDecline, "USAGE_DECLINE"},
    {AlertKind::kEngagementDrop, "ENGAGEMENT_DROP"},
    {AlertKind::kTicketSurge, "TICKET_SURGE"},
    {AlertKind::kPaymentFailure, "PAYMENT_FAILURE"},
    {AlertKind::kFeatureAbandonment, "FEATURE_ABANDONMENT"},
    {AlertKind::kCommunicationBreakdown, "COMMUNICATION_BREAKDOWN"},
    {AlertKind::kBandWorsened, "BAND_WORSENED"},
    {AlertKind::kScoreBelowThreshold, "SCORE_BELOW_THRESHOLD"},
}});

constexpr EnumNames<Severity, 5> kSeverities({{
    {Severity::kUnspecified, "UNSPECIFIED"},
    {Severity::kLow, "LOW"},
    {Severity::kMedium, "MEDIUM"},
    {Severity::kHigh, "HIGH"},
    {Severity::kCritical, "CRITICAL"},
}});

struct Periods {
  absl::CivilDay current_from, current_to, previous_from, previous_to;
};

Periods PeriodsEndingOn(absl::CivilDay today, int days) {
  return {today - (days - 1), today, today - (2 * days - 1), today - days};
}

// Sum of several counters over one period.
double Total(const CounterWindow& c, std::initializer_list<const char*> counters,
             absl::CivilDay from, absl::CivilDay to) {
  double total = 0;
  for (const char* name : counters) total += c.Sum(name, from, to);
  return total;
}

// A decline of at least `pct` percent from a previous period that had at least
// `min_baseline`.
std::optional<AlertFinding> Decline(AlertKind kind, absl::string_view what, double previous,
                                    double current, double pct, const AlertSettings& settings) {
  if (previous < settings.min_baseline || previous <= 0) return std::nullopt;
  const double change_pct = (current - previous) / previous * 100.0;
  if (change_pct > -pct) return std::nullopt;
  AlertFinding f;
  f.kind = kind;
  // Twice the threshold (or everything gone) is worse than just crossing it.
  f.severity = change_pct <= -2 * pct || current == 0 ? Severity::kHigh : Severity::kMedium;
  f.summary = absl::StrFormat("%s: %g in the last %d days vs %g in the %d before (%.0f%%)",
                              what, current, settings.period_days, previous,
                              settings.period_days, change_pct);
  f.evidence = {{"current", current}, {"previous", previous}, {"change_pct", change_pct},
                {"threshold_pct", pct}, {"period_days", settings.period_days}};
  return f;
}

}  // namespace

absl::string_view AlertKindName(AlertKind kind) { return kAlertKinds.Name(kind); }
std::optional<AlertKind> AlertKindFromName(absl::string_view name) {
  return kAlertKinds.Parse(name);
}
absl::string_view SeverityName(Severity severity) { return kSeverities.Name(severity); }
std::optional<Severity> SeverityFromName(absl::string_view name) {
  return kSeverities.Parse(name);
}

absl::Status ValidateAlertSettings(const AlertSettings& s) {
  auto invalid = [](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("settings.", field, ": ", why));
  };
  if (s.period_days < 1 || s.period_days > 365) return invalid("period_days", "must be in 1-365");
  const std::pair<const char*, double> pcts[] = {
      {"usage_decline_pct", s.usage_decline_pct},
      {"engagement_drop_pct", s.engagement_drop_pct},
      {"communication_drop_pct", s.communication_drop_pct}};
  for (const auto& [field, value] : pcts) {
    if (!std::isfinite(value) || value <= 0 || value > 100) return invalid(field, "must be in (0, 100]");
  }
  if (!std::isfinite(s.ticket_increase_pct) || s.ticket_increase_pct <= 0 ||
      s.ticket_increase_pct > 10000) {
    return invalid("ticket_increase_pct", "must be in (0, 10000]");
  }
  if (!std::isfinite(s.score_threshold) || s.score_threshold < 0 || s.score_threshold > 100) {
    return invalid("score_threshold", "must be in 0-100");
  }
  if (!std::isfinite(s.min_baseline) || s.min_baseline < 0) {
    return invalid("min_baseline", "must not be negative");
  }
  return absl::OkStatus();
}

const std::vector<AlertKind>& SignalRuleKinds() {
  static const auto* kinds = new std::vector<AlertKind>{
      AlertKind::kUsageDecline,      AlertKind::kEngagementDrop,
      AlertKind::kTicketSurge,       AlertKind::kPaymentFailure,
      AlertKind::kFeatureAbandonment, AlertKind::kCommunicationBreakdown};
  return *kinds;
}

const std::vector<AlertKind>& ScoreRuleKinds() {
  static const auto* kinds =
      new std::vector<AlertKind>{AlertKind::kBandWorsened, AlertKind::kScoreBelowThreshold};
  return *kinds;
}

std::vector<AlertFinding> EvaluateSignalRules(const CounterWindow& c, absl::CivilDay today,
                                              const AlertSettings& settings) {
  using namespace counter;  // NOLINT(build/namespaces)
  std::vector<AlertFinding> out;
  const Periods p = PeriodsEndingOn(today, settings.period_days);
  auto both = [&](std::initializer_list<const char*> counters) {
    return std::make_pair(Total(c, counters, p.previous_from, p.previous_to),
                          Total(c, counters, p.current_from, p.current_to));
  };

  // Usage: logins and feature uses, both counts of sessions of work.
  auto [usage_before, usage_now] = both({kLogins, kFeatureUses});
  if (auto f = Decline(AlertKind::kUsageDecline, "logins and feature uses", usage_before,
                       usage_now, settings.usage_decline_pct, settings)) {
    out.push_back(*std::move(f));
  }
  auto [eng_before, eng_now] =
      both({kEmailOpens, kEmailClicks, kWebinars, kCommunityPosts, kSurveys, kNpsCount});
  if (auto f = Decline(AlertKind::kEngagementDrop, "engagement events", eng_before, eng_now,
                       settings.engagement_drop_pct, settings)) {
    out.push_back(*std::move(f));
  }
  auto [resp_before, resp_now] = both({kEmailOpens, kEmailClicks, kSurveys, kNpsCount});
  if (auto f = Decline(AlertKind::kCommunicationBreakdown,
                       "responses (email opens and clicks, surveys, NPS)", resp_before, resp_now,
                       settings.communication_drop_pct, settings)) {
    out.push_back(*std::move(f));
  }

  auto [tickets_before, tickets_now] = both({kTicketsOpened});
  if (tickets_now >= settings.min_baseline && tickets_now > 0 &&
      tickets_now >= tickets_before * (1 + settings.ticket_increase_pct / 100.0)) {
    AlertFinding f;
    f.kind = AlertKind::kTicketSurge;
    f.severity = tickets_now >= tickets_before * (1 + 2 * settings.ticket_increase_pct / 100.0)
                     ? Severity::kHigh
                     : Severity::kMedium;
    const double change_pct =
        tickets_before > 0 ? (tickets_now - tickets_before) / tickets_before * 100.0 : 100.0;
    f.summary = absl::StrFormat("tickets opened: %g in the last %d days vs %g in the %d before",
                                tickets_now, settings.period_days, tickets_before,
                                settings.period_days);
    f.evidence = {{"current", tickets_now}, {"previous", tickets_before},
                  {"change_pct", change_pct}, {"threshold_pct", settings.ticket_increase_pct},
                  {"period_days", settings.period_days}};
    out.push_back(std::move(f));
  }

  // A payment failure in the period with no successful payment since.
  const std::optional<absl::CivilDay> failed = c.LastDayWith(kPaymentsFailed, today);
  const std::optional<absl::CivilDay> paid = c.LastDayWith(kPaymentsSucceeded, today);
  if (failed && *failed >= p.current_from && (!paid || *paid < *failed)) {
    AlertFinding f;
    f.kind = AlertKind::kPaymentFailure;
    f.severity = Severity::kHigh;
    const double failures = c.Sum(kPaymentsFailed, p.current_from, p.current_to);
    f.summary = absl::StrFormat("%g failed payment(s) in the last %d days, none paid since %s",
                                failures, settings.period_days, absl::FormatCivilTime(*failed));
    f.evidence = {{"failures", failures},
                  {"days_since_failure", static_cast<double>(today - *failed)}};
    out.push_back(std::move(f));
  }

  // Features used in the previous period and not at all in this one.
  const std::set<std::string> before = c.FeaturesUsed(p.previous_from, p.previous_to);
  const std::set<std::string> now = c.FeaturesUsed(p.current_from, p.current_to);
  std::vector<std::string> abandoned;
  std::set_difference(before.begin(), before.end(), now.begin(), now.end(),
                      std::back_inserter(abandoned));
  if (!abandoned.empty()) {
    AlertFinding f;
    f.kind = AlertKind::kFeatureAbandonment;
    f.severity = abandoned.size() * 2 >= before.size() ? Severity::kHigh : Severity::kLow;
    f.summary = absl::StrCat("no longer used in the last ", settings.period_days,
                             " days: ", absl::StrJoin(abandoned, ", "));
    f.evidence = {{"abandoned_features", static_cast<double>(abandoned.size())},
                  {"features_before", static_cast<double>(before.size())},
                  {"features_now", static_cast<double>(now.size())}};
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<AlertFinding> EvaluateScoreRules(std::optional<Band> previous_band, Band band,
                                             double score, const Alert* open_band_alert,
                                             const AlertSettings& settings) {
  std::vector<AlertFinding> out;
  // Bands are ordered GREEN < YELLOW < RED: a larger number is worse.
  std::optional<Band> from;
  if (open_band_alert != nullptr) {
    auto it = open_band_alert->evidence.find("from_band");
    if (it != open_band_alert->evidence.end()) from = static_cast<Band>(std::lround(it->second));
  } else if (previous_band.has_value() && *previous_band != Band::kUnspecified) {
    from = previous_band;
  }
  if (from.has_value() && static_cast<int>(band) > static_cast<int>(*from)) {
    AlertFinding f;
    f.kind = AlertKind::kBandWorsened;
    f.severity = band == Band::kRed ? Severity::kCritical : Severity::kMedium;
    f.summary = absl::StrCat("band worsened from ", BandName(*from), " to ", BandName(band));
    f.evidence = {{"from_band", static_cast<double>(*from)},
                  {"to_band", static_cast<double>(band)},
                  {"score", score}};
    out.push_back(std::move(f));
  }
  if (score < settings.score_threshold) {
    AlertFinding f;
    f.kind = AlertKind::kScoreBelowThreshold;
    f.severity = Severity::kHigh;
    f.summary = absl::StrFormat("score %.1f is below %g", score, settings.score_threshold);
    f.evidence = {{"score", score}, {"threshold", settings.score_threshold}};
    out.push_back(std::move(f));
  }
  return out;
}

AlertChanges ReconcileAlerts(const std::string& account_id, const std::vector<Alert>& open,
                             const std::vector<AlertFinding>& findings,
                             const std::vector<AlertKind>& evaluated, absl::Time now) {
  AlertChanges changes;
  auto is_open = [&](AlertKind kind) {
    return std::any_of(open.begin(), open.end(), [&](const Alert& a) { return a.kind == kind; });
  };
  for (const AlertFinding& f : findings) {
    if (is_open(f.kind)) continue;
    Alert a;
    a.account_id = account_id;
    a.kind = f.kind;
    a.severity = f.severity;
    a.summary = f.summary;
    a.evidence = f.evidence;
    a.opened_at = now;
    changes.opened.push_back(std::move(a));
  }
  for (const Alert& a : open) {
    if (std::find(evaluated.begin(), evaluated.end(), a.kind) == evaluated.end()) continue;
    const bool holds = std::any_of(findings.begin(), findings.end(),
                                   [&](const AlertFinding& f) { return f.kind == a.kind; });
    if (holds) continue;
    Alert resolved = a;
    resolved.resolved_at = now;
    changes.resolved.push_back(std::move(resolved));
  }
  return changes;
}

}  // namespace cs::health
