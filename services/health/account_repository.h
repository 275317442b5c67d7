#ifndef CS_SERVICES_HEALTH_ACCOUNT_REPOSITORY_H_
#define CS_SERVICES_HEALTH_ACCOUNT_REPOSITORY_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/db/idempotency.h"
#include "services/health/account.h"

namespace cs::health {

// Turns an account into the payload of its ACCOUNT_UPSERTED event (the wiring
// supplies the wire format).
using AccountEncoder = std::function<std::string(const Account&)>;

class AccountRepository {
 public:
  virtual ~AccountRepository() = default;

  // Inserts or updates the account by account_id and appends its ACCOUNT_UPSERTED
  // event, in one transaction, at most once per write key. A field left unspecified in `account` (lifecycle) keeps its
  // stored value on update.
  virtual absl::StatusOr<UpsertAccountResult> Upsert(
      const db::WriteKey& key, const db::ResultCodec<UpsertAccountResult>& codec,
      const Account& account, absl::Time now) = 0;

  // Sets lifecycle CHURNED with the date and reason and appends ACCOUNT_CHURNED, at
  // most once per write key. NOT_FOUND for an unknown account, FAILED_PRECONDITION
  // when it is already churned.
  virtual absl::StatusOr<Account> MarkChurned(const db::WriteKey& key,
                                              const db::ResultCodec<Account>& codec,
                                              const std::string& account_id,
                                              absl::CivilDay churned_on,
                                              const std::string& reason, absl::Time now) = 0;

  // NOT_FOUND when there is no such account.
  virtual absl::StatusOr<Account> Get(const std::string& account_id) = 0;

  // Accounts matching `filter` with account_id > after_id, in account_id order.
  virtual absl::StatusOr<AccountPage> List(const AccountFilter& filter,
                                           const std::string& after_id, int limit) = 0;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_ACCOUNT_REPOSITORY_H_
