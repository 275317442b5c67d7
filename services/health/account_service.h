#ifndef CS_SERVICES_HEALTH_ACCOUNT_SERVICE_H_
#define CS_SERVICES_HEALTH_ACCOUNT_SERVICE_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/db/idempotency.h"
#include "services/health/account.h"
#include "services/health/account_repository.h"

namespace cs::health {

// Checks an account before it is written; errors name the field ("account.name").
absl::Status ValidateAccount(const Account& account);

// Account rules: validation and tier derivation; storage through the repository.
class AccountService {
 public:
  AccountService(AccountRepository* repository, const Clock* clock)
      : repository_(repository), clock_(clock) {}

  absl::StatusOr<UpsertAccountResult> UpsertAccount(
      const db::WriteKey& key, const db::ResultCodec<UpsertAccountResult>& codec,
      Account account);
  absl::StatusOr<Account> GetAccount(const std::string& account_id);

 private:
  AccountRepository* repository_;
  const Clock* clock_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_ACCOUNT_SERVICE_H_
