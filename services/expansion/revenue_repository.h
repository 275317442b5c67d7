#ifndef CS_SERVICES_EXPANSION_REVENUE_REPOSITORY_H_
#define CS_SERVICES_EXPANSION_REVENUE_REPOSITORY_H_

#include <vector>

#include "absl/status/statusor.h"
#include "common/db/idempotency.h"
#include "services/expansion/metrics.h"
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
  // Stores the monthly MRR figures and re-derives the imported movements of every
  // account they touch (DeriveMovements over all its stored months), adding,
  // changing and removing only what differs, so a re-import changes nothing.
  virtual absl::StatusOr<ImportResult> Import(const db::WriteKey& key,
                                              const db::ResultCodec<ImportResult>& codec,
                                              const std::vector<SubscriptionMonth>& rows,
                                              absl::Time now) = 0;
  // Per account whose ledger is in `currency` (and, unless kUnspecified, whose
  // profile has `tier`): MRR before `first`, through `last`, and the sums of the
  // movements in between by kind.
  virtual absl::StatusOr<std::vector<AccountPeriod>> LoadPeriods(const std::string& currency,
                                                                 Tier tier, absl::CivilMonth first,
                                                                 absl::CivilMonth last) = 0;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_REVENUE_REPOSITORY_H_
