#ifndef CS_SERVICES_EXPANSION_PROTO_MAPPING_H_
#define CS_SERVICES_EXPANSION_PROTO_MAPPING_H_

#include "absl/status/statusor.h"
#include "cs/expansion/v1/expansion.pb.h"
#include "services/expansion/revenue.h"

namespace cs::expansion {

absl::StatusOr<RevenueMovement> MovementFromProto(const cs::expansion::v1::RevenueMovement& p);
void MovementToProto(const RevenueMovement& m, cs::expansion::v1::RevenueMovement* out);

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_PROTO_MAPPING_H_
