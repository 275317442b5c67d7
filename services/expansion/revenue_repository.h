#ifndef CS_SERVICES_EXPANSION_REVENUE_REPOSITORY_H_
#define CS_SERVICES_EXPANSION_REVENUE_REPOSITORY_H_

#include "absl/status/statusor.h"
#include "common/db/idempotency.h"
#include "services/expansion/revenue.h"

namespace cs::expansion {

class RevenueRepository {
 public:
  virtual ~RevenueRepository() = default;
  // Appends a movement, at most once per write key. FAILED_PRECONDITION when the
  // account's ledger already uses another currency.
  virtual absl::StatusOr<RevenueMovement> Record(const db::WriteKey& key,
                                                 const db::ResultCodec<RevenueMovement>& codec,
                                                 const RevenueMovement& movement,
                                                 absl::Time now) = 0;
  // Movements with id > after_id (optionally of one account), in id order.
  virtual absl::StatusOr<MovementPage> List(const std::string& account_id, int64_t after_id,
                                            int page_size) = 0;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_REVENUE_REPOSITORY_H_
