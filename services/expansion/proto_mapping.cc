#include "services/expansion/proto_mapping.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/server/common_mapping.h"
#include "common/server/proto_util.h"
#include "common/status.h"

namespace cs::expansion {

namespace v1 = ::cs::expansion::v1;

absl::StatusOr<RevenueMovement> MovementFromProto(const v1::RevenueMovement& p) {
  RevenueMovement m;
  if (!p.movement_id().empty() && !absl::SimpleAtoi(p.movement_id(), &m.movement_id)) {
    return absl::InvalidArgumentError("movement.movement_id: assigned by the service");
  }
  m.account_id = p.account_id();
  cs::common::v1::Date month = p.month();
  if (month.year() != 0 || month.month() != 0) month.set_day(1);
  ASSIGN_OR_RETURN(std::optional<absl::CivilDay> day, DateFromProto("movement.month", month));
  if (!day.has_value()) return absl::InvalidArgumentError("movement.month: must be set");
  m.month = absl::CivilMonth(*day);
  if (!v1::MovementKind_IsValid(p.kind())) {
    return absl::InvalidArgumentError(absl::StrCat("movement.kind: unknown value ", p.kind()));
  }
  m.kind = static_cast<MovementKind>(p.kind());
  m.mrr_change = FromProto(p.mrr_change());
  if (p.has_recorded_at()) m.recorded_at = FromTimestamp(p.recorded_at());
  return m;
}

void MovementToProto(const RevenueMovement& m, v1::RevenueMovement* out) {
  if (m.movement_id != 0) out->set_movement_id(absl::StrCat(m.movement_id));
  out->set_account_id(m.account_id);
  DateToProto(absl::CivilDay(m.month), out->mutable_month());
  out->set_kind(static_cast<v1::MovementKind>(m.kind));
  ToProto(m.mrr_change, out->mutable_mrr_change());
  ToTimestamp(m.recorded_at, out->mutable_recorded_at());
}

}  // namespace cs::expansion
