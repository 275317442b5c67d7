#ifndef CS_SERVICES_HEALTH_MEASURES_H_
#define CS_SERVICES_HEALTH_MEASURES_H_

// The raw measures a scorecard can name, derived from an account's daily counters
// over a lookback window that ends on the scoring day.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace cs::health {

struct CounterRow {
  absl::CivilDay day;
  std::string counter;
  double value = 0;
};

// One account's daily counters.
class CounterWindow {
 public:
  CounterWindow() = default;
  explicit CounterWindow(const std::vector<CounterRow>& rows);
  // The lookup hint points into this window's own map: a copy starts without one.
  CounterWindow(const CounterWindow& other) : by_counter_(other.by_counter_) {}
  CounterWindow& operator=(const CounterWindow& other) {
    by_counter_ = other.by_counter_;
    has_hint_ = false;
    return *this;
  }
  CounterWindow(CounterWindow&& other) noexcept : by_counter_(std::move(other.by_counter_)) {
    other.has_hint_ = false;
  }
  CounterWindow& operator=(CounterWindow&& other) noexcept {
    by_counter_ = std::move(other.by_counter_);
    has_hint_ = false;
    other.has_hint_ = false;
    return *this;
  }

  // Built value by value: Add each day's value of a counter (in any order), then
  // Seal once before the first read.
  void Add(absl::CivilDay day, absl::string_view counter, double value);
  // Orders each counter's days and adds up a day listed twice.
  void Seal();

  // Sum of `counter` over the days from..to (inclusive).
  double Sum(absl::string_view counter, absl::CivilDay from, absl::CivilDay to) const;
  // Features (names without the prefix) used on some day from..to.
  std::set<std::string> FeaturesUsed(absl::CivilDay from, absl::CivilDay to) const;
  // The last day on or before `to` with a non-zero `counter`.
  std::optional<absl::CivilDay> LastDayWith(absl::string_view counter, absl::CivilDay to) const;
  bool empty() const { return by_counter_.empty(); }

 private:
  // Each counter's days in order, one entry per day.
  using Days = std::vector<std::pair<absl::CivilDay, double>>;
  using ByCounter = std::map<std::string, Days, std::less<>>;
  ByCounter by_counter_;
  // The entry the last Add wrote. Packed rows list a counter's days together (the
  // grouped format) or a day's counters in name order, every day the same ones (the
  // first), so the next Add's counter is most often this entry or the one after it
  // (or the first, on the next day): a name compare or two instead of a search.
  ByCounter::iterator hint_;
  bool has_hint_ = false;
};

// Every measure name the service knows, in a fixed order.
const std::vector<std::string>& MeasureNames();
bool IsKnownMeasure(absl::string_view measure);

// The measure over the `lookback_days` days ending on `today`; nullopt when there
// is nothing to measure (an average or ratio with no observations).
std::optional<double> ComputeMeasure(absl::string_view measure, const CounterWindow& counters,
                                     absl::CivilDay today, int lookback_days);

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_MEASURES_H_
