#include "services/playbooks/escalation_service.h"

#include "common/status.h"
#include "common/validation.h"

namespace cs::playbooks {

absl::StatusOr<EscalationChain> EscalationService::UpsertChain(
    const db::WriteKey& key, const db::ResultCodec<EscalationChain>& codec,
    const EscalationChain& chain) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateEscalationChain(chain));
  return repository_->Upsert(key, codec, chain, clock_->Now());
}

absl::StatusOr<EscalationChain> EscalationService::GetChain(const std::string& chain_id) {
  RETURN_IF_ERROR(ValidateId("chain_id", chain_id));
  return repository_->Get(chain_id);
}

}  // namespace cs::playbooks
