#include "services/health/scorecard.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/enum_names.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/health/measures.h"

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

std::optional<Component> ComponentFromName(absl::string_view name) {
  return kComponents.Parse(name);
}

std::optional<Band> BandFromName(absl::string_view name) {
  for (Band b : {Band::kGreen, Band::kYellow, Band::kRed}) {
    if (BandName(b) == name) return b;
  }
  return std::nullopt;
}

absl::string_view BandName(Band band) {
  switch (band) {
    case Band::kGreen: return "GREEN";
    case Band::kYellow: return "YELLOW";
    case Band::kRed: return "RED";
    default: return "UNSPECIFIED";
  }
}

absl::Status ValidateScorecard(const Scorecard& s) {
  RETURN_IF_ERROR(ValidateId("scorecard.scorecard_id", s.scorecard_id));
  if (s.scorecard_id.size() > 64) return Invalid("scorecard.scorecard_id", "longer than 64 characters");
  RETURN_IF_ERROR(ValidateId("scorecard.score_name", s.score_name));
  if (s.score_name.size() > 64) return Invalid("scorecard.score_name", "longer than 64 characters");
  if (s.description.size() > 1000) {
    return Invalid("scorecard.description", "longer than 1000 characters");
  }
  for (size_t i = 0; i < s.tiers.size(); ++i) {
    if (s.tiers[i] == Tier::kUnspecified) {
      return Invalid(absl::StrCat("scorecard.tiers[", i, "]"), "must be a tier");
    }
  }
  for (size_t i = 0; i < s.industries.size(); ++i) {
    if (s.industries[i] == Industry::kUnspecified) {
      return Invalid(absl::StrCat("scorecard.industries[", i, "]"), "must be an industry");
    }
  }
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
    if (!IsKnownMeasure(m.measure)) {
      return Invalid(field + ".measure.measure",
                     absl::StrCat("unknown measure '", m.measure, "'; known: ",
                                  absl::StrJoin(MeasureNames(), ", ")));
    }
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
    cs.measure = c.measure.measure;
    cs.weight = c.weight;
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
  s.description = "DOMAIN's default health scorecard (usage 25, adoption 20, support 15, payment 15, engagement 15, expansion interest 10)";
  s.components = {
      {Component::kProductUsage, 25, {"logins_per_week", 30, Direction::kHigherIsBetter, 0, 20}},
      {Component::kFeatureAdoption, 20,
       {"distinct_features_used", 90, Direction::kHigherIsBetter, 0, 10}},
      {Component::kSupport, 15, {"tickets_per_month", 90, Direction::kLowerIsBetter, 10, 0}},
      {Component::kPaymentHistory, 15,
       {"on_time_payment_ratio", 365, Direction::kHigherIsBetter, 0.5, 1}},
      {Component::kEngagement, 15,
       {"engagement_events_per_month", 30, Direction::kHigherIsBetter, 0, 10}},
      {Component::kExpansionInterest, 10,
       {"expansion_signals", 90, Direction::kHigherIsBetter, 0, 3}},
  };
  return s;
}

bool Covers(const Scorecard& s, Tier tier, Industry industry) {
  const bool tier_ok =
      s.tiers.empty() || std::find(s.tiers.begin(), s.tiers.end(), tier) != s.tiers.end();
  const bool industry_ok = s.industries.empty() || std::find(s.industries.begin(),
                                                             s.industries.end(),
                                                             industry) != s.industries.end();
  return tier_ok && industry_ok;
}

int Specificity(const Scorecard& s) {
  return (s.tiers.empty() ? 0 : 2) + (s.industries.empty() ? 0 : 1);
}

const Scorecard* ChooseScorecard(const std::vector<Scorecard>& scorecards,
                                 absl::string_view score_name, Tier tier, Industry industry) {
  const Scorecard* best = nullptr;
  for (const Scorecard& s : scorecards) {
    if (s.score_name != score_name || !Covers(s, tier, industry)) continue;
    // Ties go to the smaller id, so every replica picks the same one.
    if (best == nullptr || Specificity(s) > Specificity(*best) ||
        (Specificity(s) == Specificity(*best) && s.scorecard_id < best->scorecard_id)) {
      best = &s;
    }
  }
  return best;
}

// One "key value..." line per item; doubles in %.17g so they round-trip exactly.
std::string EncodeScorecardDefinition(const Scorecard& s) {
  std::string out;
  absl::StrAppend(&out, "score_name ", s.score_name, "\n");
  absl::StrAppend(&out, "bands ", absl::StrFormat("%.17g %.17g", s.bands.green_above,
                                                  s.bands.red_below), "\n");
  for (Tier t : s.tiers) absl::StrAppend(&out, "tier ", TierName(t), "\n");
  for (Industry i : s.industries) absl::StrAppend(&out, "industry ", IndustryName(i), "\n");
  for (const ComponentSpec& c : s.components) {
    absl::StrAppend(&out, "component ", ComponentName(c.component), " ", c.weight, " ",
                    c.measure.measure, " ", c.measure.lookback_days, " ",
                    c.measure.direction == Direction::kLowerIsBetter ? "LOWER" : "HIGHER", " ",
                    absl::StrFormat("%.17g %.17g", c.measure.zero_at, c.measure.hundred_at),
                    "\n");
  }
  // Last: the description may hold anything but a newline is replaced.
  std::string description = s.description;
  std::replace(description.begin(), description.end(), '\n', ' ');
  absl::StrAppend(&out, "description ", description, "\n");
  return out;
}

absl::Status DecodeScorecardDefinition(absl::string_view text, Scorecard* s) {
  auto corrupt = [](absl::string_view line) {
    return absl::DataLossError(absl::StrCat("stored scorecard line does not parse: ", line));
  };
  s->tiers.clear();
  s->industries.clear();
  s->components.clear();
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, absl::MaxSplits(' ', 1));
    const absl::string_view key = kv.first;
    const absl::string_view rest = kv.second;
    if (key == "description") {
      s->description = std::string(rest);
      continue;
    }
    std::vector<absl::string_view> f = absl::StrSplit(rest, ' ', absl::SkipEmpty());
    if (key == "score_name" && f.size() == 1) {
      s->score_name = std::string(f[0]);
    } else if (key == "bands" && f.size() == 2) {
      if (!absl::SimpleAtod(f[0], &s->bands.green_above) ||
          !absl::SimpleAtod(f[1], &s->bands.red_below)) {
        return corrupt(line);
      }
    } else if (key == "tier" && f.size() == 1) {
      std::optional<Tier> t = TierFromName(f[0]);
      if (!t) return corrupt(line);
      s->tiers.push_back(*t);
    } else if (key == "industry" && f.size() == 1) {
      std::optional<Industry> i = IndustryFromName(f[0]);
      if (!i) return corrupt(line);
      s->industries.push_back(*i);
    } else if (key == "component" && f.size() == 7) {
      ComponentSpec c;
      std::optional<Component> component = ComponentFromName(f[0]);
      if (!component) return corrupt(line);
      c.component = *component;
      c.measure.measure = std::string(f[2]);
      c.measure.direction = f[4] == "LOWER" ? Direction::kLowerIsBetter : Direction::kHigherIsBetter;
      if (!absl::SimpleAtoi(f[1], &c.weight) || !absl::SimpleAtoi(f[3], &c.measure.lookback_days) ||
          !absl::SimpleAtod(f[5], &c.measure.zero_at) ||
          !absl::SimpleAtod(f[6], &c.measure.hundred_at)) {
        return corrupt(line);
      }
      s->components.push_back(std::move(c));
    } else {
      return corrupt(line);
    }
  }
  return absl::OkStatus();
}

}  // namespace cs::health
