#ifndef CS_SERVICES_PLAYBOOKS_PROTO_MAPPING_H_
#define CS_SERVICES_PLAYBOOKS_PROTO_MAPPING_H_

#include "absl/status/statusor.h"
#include "cs/playbooks/v1/playbooks.pb.h"
#include "services/playbooks/escalation.h"

namespace cs::playbooks {

absl::StatusOr<EscalationChain> ChainFromProto(const cs::playbooks::v1::EscalationChain& p);
void ChainToProto(const EscalationChain& c, cs::playbooks::v1::EscalationChain* out);

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_PROTO_MAPPING_H_
