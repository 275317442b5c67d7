#include "services/expansion/revenue.h"

#include "common/enum_names.h"
#include "common/status.h"
#include "common/validation.h"

namespace cs::expansion {
namespace {

constexpr EnumNames<MovementKind, 6> kKinds({{
    {MovementKind::kUnspecified, "UNSPECIFIED"},
    {MovementKind::kNew, "NEW"},
    {MovementKind::kExpansion, "EXPANSION"},
    {MovementKind::kContraction, "CONTRACTION"},
    {MovementKind::kChurn, "CHURN"},
    {MovementKind::kReactivation, "REACTIVATION"},
}});

}  // namespace

absl::string_view MovementKindName(MovementKind kind) { return kKinds.Name(kind); }

std::optional<MovementKind> MovementKindFromName(absl::string_view name) {
  return kKinds.Parse(name);
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
