#ifndef CS_SERVICES_PLAYBOOKS_MYSQL_ESCALATION_REPOSITORY_H_
#define CS_SERVICES_PLAYBOOKS_MYSQL_ESCALATION_REPOSITORY_H_

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/db/migrations.h"
#include "common/db/pool.h"
#include "services/playbooks/escalation_repository.h"

// Generated from services/playbooks/migrations/*.sql.
const std::vector<cs::db::Migration>& playbooks_migrations();

namespace cs::playbooks {

// Inside an open connection: the chain, or nullopt when there is none.
absl::StatusOr<std::optional<EscalationChain>> FindEscalationChain(db::Connection& conn,
                                                                   const std::string& chain_id,
                                                                   bool for_update);

class MySqlEscalationRepository final : public EscalationRepository {
 public:
  MySqlEscalationRepository(db::Pool* pool, const Clock* clock) : pool_(pool), clock_(clock) {}
  absl::StatusOr<EscalationChain> Upsert(const db::WriteKey& key,
                                         const db::ResultCodec<EscalationChain>& codec,
                                         const EscalationChain& chain, absl::Time now) override;
  absl::StatusOr<EscalationChain> Get(const std::string& chain_id) override;
  absl::StatusOr<std::vector<EscalationChain>> List() override;

 private:
  db::Pool* pool_;
  const Clock* clock_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_MYSQL_ESCALATION_REPOSITORY_H_
