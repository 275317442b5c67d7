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

// Values match cs.expansion.v1.MovementKind.
enum class MovementKind {
  kUnspecified = 0,
  kNew = 1,
  kExpansion = 2,
  kContraction = 3,
  kChurn = 4,
  kReactivation = 5,
};

struct RevenueMovement {
  int64_t movement_id = 0;
  std::string account_id;
  absl::CivilMonth month;
  MovementKind kind = MovementKind::kUnspecified;
  Money mrr_change;
  absl::Time recorded_at;
};

struct MovementPage {
  std::vector<RevenueMovement> movements;
  // 0 when there is no further page; otherwise list after this movement id.
  int64_t next_after_id = 0;
};

absl::string_view MovementKindName(MovementKind kind);
std::optional<MovementKind> MovementKindFromName(absl::string_view name);

// NEW, EXPANSION and REACTIVATION raise MRR; CONTRACTION and CHURN lower it; a
// zero change is no movement. Errors name the field ("movement.mrr_change.minor_units").
absl::Status ValidateMovement(const RevenueMovement& movement);

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_REVENUE_H_
