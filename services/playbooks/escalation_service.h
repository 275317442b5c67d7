#ifndef CS_SERVICES_PLAYBOOKS_ESCALATION_SERVICE_H_
#define CS_SERVICES_PLAYBOOKS_ESCALATION_SERVICE_H_

#include "common/clock.h"
#include "services/playbooks/escalation_repository.h"

namespace cs::playbooks {

class EscalationService {
 public:
  EscalationService(EscalationRepository* repository, const Clock* clock)
      : repository_(repository), clock_(clock) {}

  absl::StatusOr<EscalationChain> UpsertChain(const db::WriteKey& key,
                                              const db::ResultCodec<EscalationChain>& codec,
                                              const EscalationChain& chain);
  absl::StatusOr<EscalationChain> GetChain(const std::string& chain_id);
  absl::StatusOr<std::vector<EscalationChain>> ListChains() { return repository_->List(); }

 private:
  EscalationRepository* repository_;
  const Clock* clock_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_ESCALATION_SERVICE_H_
