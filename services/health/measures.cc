#include "services/health/measures.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "services/health/signal.h"

namespace cs::health {
namespace {

std::optional<double> Ratio(double numerator, double denominator) {
  if (denominator <= 0) return std::nullopt;
  return numerator / denominator;
}

}  // namespace

namespace {

bool DayBefore(const std::pair<absl::CivilDay, double>& a,
               const std::pair<absl::CivilDay, double>& b) {
  return a.first < b.first;
}

}  // namespace

CounterWindow::CounterWindow(const std::vector<CounterRow>& rows) {
  for (const CounterRow& r : rows) Add(r.day, r.counter, r.value);
  Seal();
}

void CounterWindow::Add(absl::CivilDay day, absl::string_view counter, double value) {
  ByCounter::iterator it = by_counter_.end();
  if (has_hint_) {
    if (hint_->first == counter) {
      it = hint_;
    } else {
      // The entry after the hint, wrapping to the first (map iterators outlive inserts).
      auto next = std::next(hint_);
      if (next == by_counter_.end()) next = by_counter_.begin();
      if (next->first == counter) it = next;
    }
  }
  if (it == by_counter_.end()) it = by_counter_.find(counter);
  if (it == by_counter_.end()) {
    it = by_counter_.emplace(std::string(counter), Days()).first;
    // A 90-day window holds up to 90 days of a counter; most accounts fewer.
    it->second.reserve(32);
  }
  it->second.emplace_back(day, value);
  hint_ = it;
  has_hint_ = true;
}

void CounterWindow::Seal() {
  // Rows arrive mostly in day order (packed months are); a day listed twice adds up.
  for (auto& entry : by_counter_) {
    Days& days = entry.second;
    if (!std::is_sorted(days.begin(), days.end(), DayBefore)) {
      std::stable_sort(days.begin(), days.end(), DayBefore);
    }
    size_t kept = 0;
    for (size_t i = 0; i < days.size(); ++i) {
      if (kept > 0 && days[kept - 1].first == days[i].first) {
        days[kept - 1].second += days[i].second;
      } else {
        days[kept++] = days[i];
      }
    }
    days.resize(kept);
  }
}

double CounterWindow::Sum(absl::string_view counter, absl::CivilDay from,
                          absl::CivilDay to) const {
  auto it = by_counter_.find(counter);
  if (it == by_counter_.end()) return 0;
  const Days& days = it->second;
  double sum = 0;
  for (auto d = std::lower_bound(days.begin(), days.end(), std::make_pair(from, 0.0), DayBefore);
       d != days.end() && d->first <= to; ++d) {
    sum += d->second;
  }
  return sum;
}

std::set<std::string> CounterWindow::FeaturesUsed(absl::CivilDay from, absl::CivilDay to) const {
  std::set<std::string> out;
  for (auto it = by_counter_.lower_bound(absl::string_view(counter::kFeaturePrefix));
       it != by_counter_.end() && absl::StartsWith(it->first, counter::kFeaturePrefix); ++it) {
    if (Sum(it->first, from, to) > 0) {
      out.insert(it->first.substr(sizeof(counter::kFeaturePrefix) - 1));
    }
  }
  return out;
}

std::optional<absl::CivilDay> CounterWindow::LastDayWith(absl::string_view counter,
                                                         absl::CivilDay to) const {
  auto it = by_counter_.find(counter);
  if (it == by_counter_.end()) return std::nullopt;
  const Days& days = it->second;
  for (auto d = std::upper_bound(days.begin(), days.end(), std::make_pair(to, 0.0), DayBefore);
       d != days.begin();) {
    --d;
    if (d->second != 0) return d->first;
  }
  return std::nullopt;
}

const std::vector<std::string>& MeasureNames() {
  static const auto* names = new std::vector<std::string>{
      "logins_per_week",        "session_minutes_per_week", "data_volume_per_week",
      "distinct_features_used", "tickets_per_month",        "avg_resolution_hours",
      "avg_csat",               "on_time_payment_ratio",    "payment_failures",
      "engagement_events_per_month", "avg_nps",             "expansion_signals",
      "sponsor_changes",        "avg_csm_sentiment",
  };
  return *names;
}

bool IsKnownMeasure(absl::string_view measure) {
  const auto& names = MeasureNames();
  return std::find(names.begin(), names.end(), measure) != names.end();
}

std::optional<double> ComputeMeasure(absl::string_view measure, const CounterWindow& c,
                                     absl::CivilDay today, int lookback_days) {
  using namespace counter;  // NOLINT(build/namespaces): the names read as a table here
  const absl::CivilDay from = today - (lookback_days - 1);
  const double weeks = lookback_days / 7.0;
  const double months = lookback_days / 30.0;
  auto sum = [&](absl::string_view name) { return c.Sum(name, from, today); };
  if (measure == "logins_per_week") return sum(kLogins) / weeks;
  if (measure == "session_minutes_per_week") return sum(kSessionMinutes) / weeks;
  if (measure == "data_volume_per_week") return sum(kDataVolume) / weeks;
  if (measure == "distinct_features_used") {
    return static_cast<double>(c.FeaturesUsed(from, today).size());
  }
  if (measure == "tickets_per_month") return sum(kTicketsOpened) / months;
  if (measure == "avg_resolution_hours") return Ratio(sum(kResolutionHours), sum(kTicketsResolved));
  if (measure == "avg_csat") return Ratio(sum(kCsatSum), sum(kCsatCount));
  if (measure == "on_time_payment_ratio") {
    const double ok = sum(kPaymentsSucceeded);
    return Ratio(ok, ok + sum(kPaymentsFailed) + sum(kPaymentsLate));
  }
  if (measure == "payment_failures") return sum(kPaymentsFailed);
  if (measure == "engagement_events_per_month") {
    return (sum(kEmailOpens) + sum(kEmailClicks) + sum(kWebinars) + sum(kCommunityPosts) +
            sum(kSurveys) + sum(kNpsCount)) /
           months;
  }
  if (measure == "avg_nps") return Ratio(sum(kNpsSum), sum(kNpsCount));
  if (measure == "expansion_signals") {
    return sum(kFeatureRequests) + sum(kIntegrationRequests) + sum(kUpsellInterest) +
           sum(kReferrals);
  }
  if (measure == "sponsor_changes") return sum(kSponsorChanges);
  if (measure == "avg_csm_sentiment") return Ratio(sum(kSentimentSum), sum(kSentimentCount));
  return std::nullopt;
}

}  // namespace cs::health
