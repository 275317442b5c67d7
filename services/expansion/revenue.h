#ifndef CS_SERVICES_EXPANSION_REVENUE_H_
#define CS_SERVICES_EXPANSION_REVENUE_H_

// The revenue ledger: movements of monthly recurring revenue (DOMAIN §4).

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

// Largest MRR change one movement may carry (10^15 minor units); with it, sums over
// many thousands of movements stay inside int64 and are still checked.
inline constexpr int64_t kMaxMovementMinor = 1'000'000'000'000'000;

// Values match cs.expansion.v1.MovementKind.
enum class MovementKind {
  kUnspecified = 0,
  kNew = 1,
  kExpansion = 2,
  kContraction = 3,
  kChurn = 4,
  kReactivation = 5,
};

// Values match cs.expansion.v1.MovementSource.
enum class MovementSource {
  kUnspecified = 0,
  kManual = 1,
  kSubscriptionImport = 2,
  kOpportunity = 3
};

struct RevenueMovement {
  int64_t movement_id = 0;
  std::string account_id;
  absl::CivilMonth month;
  MovementKind kind = MovementKind::kUnspecified;
  Money mrr_change;
  absl::Time recorded_at;
  MovementSource source = MovementSource::kManual;
  int64_t opportunity_id = 0;  // for kOpportunity
};

// One account's MRR in one month, as a subscription import gives it.
struct SubscriptionMonth {
  std::string account_id;
  absl::CivilMonth month;
  Money mrr;
  int tier = 0;  // a Tier value; 0 leaves the profile's tier alone
};

struct ImportResult {
  int months_changed = 0;
  int movements_added = 0;
  int movements_changed = 0;
  int movements_removed = 0;
};

inline constexpr int kMaxImportRows = 10000;

// Checks an import: ids, months, currencies, amounts (0 to the amount cap), one row
// per account and month, one currency per account. Errors name the row
// ("subscriptions[3].mrr.currency_code").
absl::Status ValidateImport(const std::vector<SubscriptionMonth>& rows);

struct MovementPage {
  std::vector<RevenueMovement> movements;
  // 0 when there is no further page; otherwise list after this movement id.
  int64_t next_after_id = 0;
};

absl::string_view MovementKindName(MovementKind kind);
absl::string_view MovementSourceName(MovementSource source);
std::optional<MovementSource> MovementSourceFromName(absl::string_view name);
std::optional<MovementKind> MovementKindFromName(absl::string_view name);

// NEW, EXPANSION and REACTIVATION raise MRR; CONTRACTION and CHURN lower it; a
// zero change is no movement. Errors name the field ("movement.mrr_change.minor_units").
absl::Status ValidateMovement(const RevenueMovement& movement);

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_REVENUE_H_
