#ifndef CS_SERVICES_EXPANSION_OPPORTUNITY_H_
#define CS_SERVICES_EXPANSION_OPPORTUNITY_H_

// Expansion opportunities, the stage machine and account facts (DOMAIN §4). Plain
// values: no proto, gRPC or SQL types.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/money.h"

namespace cs::expansion {

// Values match cs.expansion.v1 enums, so mapping is a cast checked by _IsValid.
enum class Tier { kUnspecified = 0, kEnterprise = 1, kMidMarket = 2, kSmb = 3, kSolo = 4 };

enum class OpportunityKind {
  kUnspecified = 0,
  kSeatExpansion = 1,
  kFeatureUpsell = 2,
  kUsageExpansion = 3,
  kVerticalExpansion = 4,
  kIntegrationExpansion = 5,
  kPlanUpgrade = 6,
  kAddOn = 7,
  kCrossSell = 8,
  kCustomSolution = 9,
};

enum class OpportunitySource {
  kUnspecified = 0,
  kManual = 1,
  kPlaybook = 2,
  kSignalRule = 3,
  kCrmImport = 4
};

enum class Stage {
  kUnspecified = 0,
  kIdentified = 1,
  kQualified = 2,
  kProposal = 3,
  kNegotiation = 4,
  kClosedWon = 5,
  kClosedLost = 6,
};

enum class HealthBand { kUnspecified = 0, kGreen = 1, kYellow = 2, kRed = 3, kNoScore = 4 };

absl::string_view TierName(Tier t);
// The stored name for a filter on tier: empty (no filter) for kUnspecified.
std::string TierFilterName(Tier t);
std::optional<Tier> TierFromName(absl::string_view name);
absl::string_view KindName(OpportunityKind k);
std::optional<OpportunityKind> KindFromName(absl::string_view name);
absl::string_view SourceName(OpportunitySource s);
std::optional<OpportunitySource> SourceFromName(absl::string_view name);
absl::string_view StageName(Stage s);
std::optional<Stage> StageFromName(absl::string_view name);
absl::string_view BandName(HealthBand b);
std::optional<HealthBand> BandFromName(absl::string_view name);

bool IsClosed(Stage s);

// The legal moves: IDENTIFIED -> QUALIFIED -> PROPOSAL -> NEGOTIATION -> CLOSED_WON,
// and any open stage -> CLOSED_LOST. FAILED_PRECONDITION names both stages otherwise.
absl::Status CheckStageMove(Stage from, Stage to);

// Moves that go past QUALIFIED: the ones the health guard looks at. A loss is never
// guarded (giving up on a red account is exactly right).
bool NeedsHealthGuard(Stage to);

struct StageChange {
  Stage from = Stage::kUnspecified;
  Stage to = Stage::kUnspecified;
  absl::Time changed_at;
  std::string actor_id;
  std::string loss_reason;
  std::string health_override_reason;
  HealthBand health_band = HealthBand::kUnspecified;
  int probability_percent = 0;
};

struct Opportunity {
  int64_t opportunity_id = 0;
  std::string account_id;
  OpportunityKind kind = OpportunityKind::kUnspecified;
  Stage stage = Stage::kUnspecified;
  std::string owner_id;
  Money amount;  // ARR change if won
  int probability_percent = 0;
  std::optional<absl::CivilDay> expected_close_date;
  OpportunitySource source = OpportunitySource::kUnspecified;
  std::string source_ref;
  std::string title;
  std::string description;
  Tier tier = Tier::kUnspecified;
  std::string loss_reason;
  absl::Time created_at;
  absl::Time updated_at;
  std::optional<absl::Time> closed_at;
  int64_t version = 0;  // the etag is its decimal text
  std::vector<StageChange> history;
  int64_t won_movement_id = 0;
};

std::string EtagOf(const Opportunity& o);

// Largest amount one opportunity or movement may carry (10^15 minor units): far
// above any real contract, and small enough that thousands of them still sum
// inside int64, so totals cannot overflow silently.
inline constexpr int64_t kMaxAmountMinor = 1'000'000'000'000'000;

// Checks a new opportunity's client fields. `today` is the creation day: the expected
// close date may not be before it.
absl::Status ValidateNewOpportunity(const Opportunity& o, absl::CivilDay today);
// Checks the fields a client may change (after an update was applied); the close
// date may not be before the day the opportunity was created.
absl::Status ValidateOpportunityFields(const Opportunity& o);

// The fields UpdateOpportunity may change.
enum class OpportunityField {
  kOwnerId,
  kAmount,
  kProbabilityPercent,
  kExpectedCloseDate,
  kTitle,
  kDescription,
  kKind,
  kTier,
  kSourceRef,
};
std::optional<OpportunityField> OpportunityFieldFromPath(absl::string_view path);
void ApplyField(OpportunityField field, const Opportunity& from, Opportunity& to);

// Default win probability (percent) per stage, indexed by Stage's value.
struct StageProbabilities {
  std::array<int, 7> percent = {0, 10, 25, 50, 75, 100, 0};
  int Of(Stage s) const { return percent[static_cast<int>(s)]; }
};
absl::Status ValidateStageProbabilities(const StageProbabilities& p);

// Calendar quarter of a day.
struct Quarter {
  int year = 0;
  int quarter = 0;  // 1-4
  auto operator<=>(const Quarter&) const = default;
};
Quarter QuarterOf(absl::CivilDay day);
absl::CivilDay FirstDayOf(Quarter q);
absl::CivilDay LastDayOf(Quarter q);

struct OpportunityFilter {
  std::string account_id;
  OpportunityKind kind = OpportunityKind::kUnspecified;
  Stage stage = Stage::kUnspecified;
  std::string owner_id;
  Tier tier = Tier::kUnspecified;
  std::optional<Quarter> close_quarter;
};

struct OpportunityPage {
  std::vector<Opportunity> opportunities;
  int64_t next_after_id = 0;
};

// What expansion records about an account for suggestions and tier metrics.
struct AccountProfile {
  std::string account_id;
  Tier tier = Tier::kUnspecified;
  int64_t seats_licensed = 0;
  int64_t seats_used = 0;
  int64_t usage_units = 0;
  int64_t usage_limit = 0;
  std::string plan;
  std::vector<std::string> feature_requests;
  std::vector<std::string> integration_requests;
  absl::Time updated_at;
};
absl::Status ValidateProfile(const AccountProfile& p);

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_OPPORTUNITY_H_
