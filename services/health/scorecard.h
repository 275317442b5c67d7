#ifndef CS_SERVICES_HEALTH_SCORECARD_H_
#define CS_SERVICES_HEALTH_SCORECARD_H_

// Scorecards and the score arithmetic (DOMAIN §2): components with weights that
// sum to 100, each fed by one raw measure normalised linearly to 0-100, and bands
// from the weighted score. Pure values and functions: no storage, no wire types.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/health/account.h"

namespace cs::health {

// The numbers are cs.health.v1.Component's and are stored (the score components'
// text, packed_rows.h): a component keeps its number for good.
enum class Component {
  kUnspecified = 0,
  kProductUsage = 1,
  kFeatureAdoption = 2,
  kSupport = 3,
  kPaymentHistory = 4,
  kEngagement = 5,
  kExpansionInterest = 6,
  kRelationship = 7,
  kBusinessOutcomes = 8,
};

enum class Direction { kUnspecified = 0, kHigherIsBetter = 1, kLowerIsBetter = 2 };

enum class Band { kUnspecified = 0, kGreen = 1, kYellow = 2, kRed = 3 };

// How one raw measure becomes 0-100: linear between the value that scores 0 and
// the value that scores 100, clamped outside them.
struct MeasureSpec {
  std::string measure;  // e.g. "logins_per_week"
  int lookback_days = 30;
  Direction direction = Direction::kHigherIsBetter;
  double zero_at = 0;
  double hundred_at = 100;
};

struct ComponentSpec {
  Component component = Component::kUnspecified;
  int weight = 0;  // percent; a scorecard's weights sum to 100
  MeasureSpec measure;
};

// DOMAIN §2: above 75 GREEN, 60-75 YELLOW, below 60 RED.
struct BandThresholds {
  double green_above = 75;
  double red_below = 60;
};

inline constexpr char kDefaultScoreName[] = "health";

struct Scorecard {
  std::string scorecard_id;
  // The score it produces; an account carries one score per name.
  std::string score_name = kDefaultScoreName;
  int version = 0;
  std::string description;
  std::vector<ComponentSpec> components;
  BandThresholds bands;
  // Which accounts it covers; empty covers all.
  std::vector<Tier> tiers;
  std::vector<Industry> industries;
  absl::Time updated_at;
};

struct ComponentScore {
  Component component = Component::kUnspecified;
  std::string measure;
  int weight = 0;
  double raw = 0;
  double normalized = 0;
  // Points this component adds to the score (normalized x effective weight / 100).
  double contribution = 0;
  bool missing = false;  // no raw value: its weight went to the others
};

struct Score {
  double value = 0;
  Band band = Band::kUnspecified;
  std::vector<ComponentScore> components;
};

absl::string_view ComponentName(Component component);
std::optional<Component> ComponentFromName(absl::string_view name);
absl::string_view BandName(Band band);
std::optional<Band> BandFromName(absl::string_view name);

// True when `scorecard` covers an account of this tier and industry; its
// specificity ranks scorecards for the same score name (higher wins).
bool Covers(const Scorecard& scorecard, Tier tier, Industry industry);
int Specificity(const Scorecard& scorecard);
// The scorecard for `score_name` that covers the account best, or nullptr.
const Scorecard* ChooseScorecard(const std::vector<Scorecard>& scorecards,
                                 absl::string_view score_name, Tier tier, Industry industry);

// A scorecard's definition as stored text (everything but id, version and time),
// and back. DATA_LOSS when the text does not parse.
std::string EncodeScorecardDefinition(const Scorecard& scorecard);
absl::Status DecodeScorecardDefinition(absl::string_view text, Scorecard* scorecard);

// Errors name the field ("scorecard.components[2].weight").
absl::Status ValidateScorecard(const Scorecard& scorecard);

double Normalize(const MeasureSpec& spec, double raw);
Band BandFor(double score, const BandThresholds& bands);

// Scores raw measures (by measure name). A component without a raw value is
// marked missing and the remaining weights are scaled up to 100, so an account
// that sends no support tickets is not punished for it; with no value at all the
// answer is FAILED_PRECONDITION.
absl::StatusOr<Score> ComputeScore(const Scorecard& scorecard,
                                   const std::map<std::string, double>& raw_measures);

// DOMAIN §2's default: usage 25, adoption 20, support 15, payment 15,
// engagement 15, expansion interest 10.
Scorecard DefaultScorecard();

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_SCORECARD_H_
