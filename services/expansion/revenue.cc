#include "services/expansion/revenue.h"

#include <array>
#include <utility>

#include "common/status.h"
#include "common/validation.h"

namespace cs::expansion {
namespace {

constexpr std::array<std::pair<MovementKind, absl::string_view>, 6> kKinds = {{
    {MovementKind::kUnspecified, "UNSPECIFIED"},
    {MovementKind::kNew, "NEW"},
    {MovementKind::kExpansion, "EXPANSION"},
    {MovementKind::kContraction, "CONTRACTION"},
    {MovementKind::kChurn, "CHURN"},
    {MovementKind::kReactivation, "REACTIVATION"},
}};

}  // namespace

absl::string_view MovementKindName(MovementKind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "UNSPECIFIED";
}

std::optional<MovementKind> MovementKindFromName(absl::string_view name) {
  for (const auto& [k, n] : kKinds) {
    if (n == name) return k;
  }
  return std::nullopt;
}

absl::Status ValidateMovement(const RevenueMovement& m) {
  RETURN_IF_ERROR(ValidateId("movement.account_id", m.account_id));
  if (m.kind == MovementKind::kUnspecified) {
    return absl::InvalidArgumentError("movement.kind: must be set");
  }
  if (m.month < absl::CivilMonth(1970, 1) || m.month > absl::CivilMonth(9999, 12)) {
    return absl::InvalidArgumentError("movement.month: must be set");
  }
  RETURN_IF_ERROR(ValidateMoney("movement.mrr_change", m.mrr_change, /*allow_negative=*/true));
  const int64_t amount = m.mrr_change.minor_units;
  if (amount == 0) {
    return absl::InvalidArgumentError("movement.mrr_change.minor_units: must not be zero");
  }
  const bool raises = m.kind == MovementKind::kNew || m.kind == MovementKind::kExpansion ||
                      m.kind == MovementKind::kReactivation;
  if (raises && amount < 0) {
    return absl::InvalidArgumentError(
        "movement.mrr_change.minor_units: must be positive for NEW, EXPANSION and REACTIVATION");
  }
  if (!raises && amount > 0) {
    return absl::InvalidArgumentError(
        "movement.mrr_change.minor_units: must be negative for CONTRACTION and CHURN");
  }
  return absl::OkStatus();
}

}  // namespace cs::expansion
