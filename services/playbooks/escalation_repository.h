#ifndef CS_SERVICES_PLAYBOOKS_ESCALATION_REPOSITORY_H_
#define CS_SERVICES_PLAYBOOKS_ESCALATION_REPOSITORY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/db/idempotency.h"
#include "services/playbooks/escalation.h"

namespace cs::playbooks {

class EscalationRepository {
 public:
  virtual ~EscalationRepository() = default;
  // Creates or replaces the chain (version + 1), at most once per write key.
  virtual absl::StatusOr<EscalationChain> Upsert(const db::WriteKey& key,
                                                 const db::ResultCodec<EscalationChain>& codec,
                                                 const EscalationChain& chain,
                                                 absl::Time now) = 0;
  // NOT_FOUND when there is no such chain.
  virtual absl::StatusOr<EscalationChain> Get(const std::string& chain_id) = 0;
  // Every chain, ordered by id.
  virtual absl::StatusOr<std::vector<EscalationChain>> List() = 0;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_ESCALATION_REPOSITORY_H_
