#ifndef CS_SERVICES_EXPANSION_MYSQL_REVENUE_REPOSITORY_H_
#define CS_SERVICES_EXPANSION_MYSQL_REVENUE_REPOSITORY_H_

#include <vector>

#include "common/clock.h"
#include "common/db/migrations.h"
#include "common/db/pool.h"
#include "services/expansion/revenue_repository.h"

// Generated from services/expansion/migrations/*.sql.
const std::vector<cs::db::Migration>& expansion_migrations();

namespace cs::expansion {

class MySqlRevenueRepository final : public RevenueRepository {
 public:
  MySqlRevenueRepository(db::Pool* pool, const Clock* clock) : pool_(pool), clock_(clock) {}
  absl::StatusOr<RevenueMovement> Record(const db::WriteKey& key,
                                         const db::ResultCodec<RevenueMovement>& codec,
                                         const RevenueMovement& movement, absl::Time now) override;
  absl::StatusOr<MovementPage> List(const std::string& account_id, int64_t after_id,
                                    int page_size) override;

 private:
  db::Pool* pool_;
  const Clock* clock_;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_MYSQL_REVENUE_REPOSITORY_H_
