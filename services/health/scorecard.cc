#include "services/health/scorecard.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/enum_names.h"

namespace cs::health {
namespace {

constexpr EnumNames<Component, 9> kComponents({{
    {Component::kUnspecified, "UNSPECIFIED"},
    {Component::kProductUsage, "PRODUCT_USAGE"},
    {Component::kFeatureAdoption, "FEATURE_ADOPTION"},
    {Component::kSupport, "SUPPORT"},
    {Component::kPaymentHistory, "PAYMENT_HISTORY"},
    {Component::kEngagement, "ENGAGEMENT"},
    {Component::kExpansionInterest, "EXPANSION_INTEREST"},
    {Component::kRelationship, "RELATIONSHIP"},
    {Component::kBusinessOutcomes, "BUSINESS_OUTCOMES"},
}});

absl::Status Invalid(const std::string& field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

}  // namespace

absl::string_view ComponentName(Component component) { return kComponents.Name(component); }

absl::string_view BandName(Band band) {
  switch (band) {
    case Band::kGreen: return "GREEN";
    case Band::kYellow: return "YELLOW";
    case Band::kRed: return "RED";
    default: return "UNSPECIFIED";
  }
}

absl::Status ValidateScorecard(const Scorecard& s) {
  if (s.components.empty()) return Invalid("scorecard.components", "at least one is required");
  int total = 0;
  std::set<Component> seen;
  for (size_t i = 0; i < s.components.size(); ++i) {
    const ComponentSpec& c = s.components[i];
    const std::string field = absl::StrCat("scorecard.components[", i, "]");
    if (c.component == Component::kUnspecified) return Invalid(field + ".component", "must be set");
    if (!seen.insert(c.component).second) {
      return Invalid(field + ".component", absl::StrCat(ComponentName(c.component), " appears twice"));
    }
    if (c.weight < 1 || c.weight > 100) return Invalid(field + ".weight", "must be in 1-100");
    total += c.weight;
    const MeasureSpec& m = c.measure;
    if (m.measure.empty()) return Invalid(field + ".measure.measure", "must not be empty");
    if (m.lookback_days < 1 || m.lookback_days > 730) {
      return Invalid(field + ".measure.lookback_days", "must be in 1-730");
    }
    if (!std::isfinite(m.zero_at) || !std::isfinite(m.hundred_at)) {
      return Invalid(field + ".measure", "zero_at and hundred_at must be finite");
    }
    switch (m.direction) {
      case Direction::kHigherIsBetter:
        if (!(m.hundred_at > m.zero_at)) {
          return Invalid(field + ".measure.hundred_at",
                         "must be above zero_at when higher is better");
        }
        break;
      case Direction::kLowerIsBetter:
        if (!(m.hundred_at < m.zero_at)) {
          return Invalid(field + ".measure.hundred_at",
                         "must be below zero_at when lower is better");
        }
        break;
      default:
        return Invalid(field + ".measure.direction", "must be set");
    }
  }
  if (total != 100) {
    return Invalid("scorecard.components", absl::StrCat("weights sum to ", total, ", not 100"));
  }
  const BandThresholds& b = s.bands;
  if (!(b.red_below >= 0 && b.red_below <= b.green_above && b.green_above <= 100)) {
    return Invalid("scorecard.bands", "need 0 <= red_below <= green_above <= 100");
  }
  return absl::OkStatus();
}

double Normalize(const MeasureSpec& spec, double raw) {
  const double t = (raw - spec.zero_at) / (spec.hundred_at - spec.zero_at);
  return std::clamp(t, 0.0, 1.0) * 100.0;
}

Band BandFor(double score, const BandThresholds& bands) {
  if (score > bands.green_above) return Band::kGreen;
  if (score >= bands.red_below) return Band::kYellow;
  return Band::kRed;
}

absl::StatusOr<Score> ComputeScore(const Scorecard& scorecard,
                                   const std::map<std::string, double>& raw_measures) {
  Score out;
  int present_weight = 0;
  for (const ComponentSpec& c : scorecard.components) {
    ComponentScore cs;
    cs.component = c.component;
    auto it = raw_measures.find(c.measure.measure);
    if (it == raw_measures.end() || !std::isfinite(it->second)) {
      cs.missing = true;
    } else {
      cs.raw = it->second;
      cs.normalized = Normalize(c.measure, cs.raw);
      present_weight += c.weight;
    }
    out.components.push_back(cs);
  }
  if (present_weight == 0) {
    return absl::FailedPreconditionError("no raw value for any component of the scorecard");
  }
  for (size_t i = 0; i < out.components.size(); ++i) {
    ComponentScore& cs = out.components[i];
    if (cs.missing) continue;
    cs.contribution = cs.normalized * scorecard.components[i].weight / present_weight;
    out.value += cs.contribution;
  }
  out.band = BandFor(out.value, scorecard.bands);
  return out;
}

Scorecard DefaultScorecard() {
  Scorecard s;
  s.scorecard_id = "default";
  s.components = {
      {Component::kProductUsage, 25, {"logins_per_week", 30, Direction::kHigherIsBetter, 0, 20}},
      {Component::kFeatureAdoption, 20,
       {"core_features_adopted_ratio", 90, Direction::kHigherIsBetter, 0, 1}},
      {Component::kSupport, 15, {"tickets_per_month", 90, Direction::kLowerIsBetter, 10, 0}},
      {Component::kPaymentHistory, 15,
       {"on_time_payment_ratio", 365, Direction::kHigherIsBetter, 0.5, 1}},
      {Component::kEngagement, 15,
       {"engagement_events_per_month", 30, Direction::kHigherIsBetter, 0, 10}},
      {Component::kExpansionInterest, 10,
       {"expansion_signals_per_quarter", 90, Direction::kHigherIsBetter, 0, 3}},
  };
  return s;
}

}  // namespace cs::health
