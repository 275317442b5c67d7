#ifndef CS_SERVICES_EXPANSION_REVENUE_SERVICE_H_
#define CS_SERVICES_EXPANSION_REVENUE_SERVICE_H_

#include "common/clock.h"
#include "services/expansion/revenue_repository.h"

namespace cs::expansion {

inline constexpr int kMaxPageSize = 1000;

class RevenueService {
 public:
  RevenueService(RevenueRepository* repository, const Clock* clock)
      : repository_(repository), clock_(clock) {}

  // request_id is required: a ledger entry must never be posted twice.
  absl::StatusOr<RevenueMovement> RecordMovement(const db::WriteKey& key,
                                                 const db::ResultCodec<RevenueMovement>& codec,
                                                 const RevenueMovement& movement);
  // request_id is required; the rows are checked whole before anything is written.
  absl::StatusOr<ImportResult> Import(const db::WriteKey& key,
                                      const db::ResultCodec<ImportResult>& codec,
                                      const std::vector<SubscriptionMonth>& rows);
  absl::StatusOr<MovementPage> ListMovements(const std::string& account_id, int64_t after_id,
                                             int page_size);

 private:
  RevenueRepository* repository_;
  const Clock* clock_;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_REVENUE_SERVICE_H_
