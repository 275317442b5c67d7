#ifndef CS_SERVICES_HEALTH_FIRST_VALUE_MAPPING_H_
#define CS_SERVICES_HEALTH_FIRST_VALUE_MAPPING_H_

// Proto <-> domain for time to first value, and the wire form of its events.

#include "absl/status/statusor.h"
#include "cs/health/v1/health.pb.h"
#include "services/health/first_value_store.h"

namespace cs::health {

void FirstValueDefinitionToProto(const FirstValueDefinition& d, cs::health::v1::FirstValueDefinition* out);
absl::StatusOr<FirstValueDefinition> FirstValueDefinitionFromProto(
    const cs::health::v1::FirstValueDefinition& p);
FirstValueEncoders FirstValueEventEncoders();

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_FIRST_VALUE_MAPPING_H_
