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
  // churned_on at most a day after today (UTC); reason 1-500 characters.
  absl::StatusOr<Account> MarkChurned(const db::WriteKey& key,
                                      const db::ResultCodec<Account>& codec,
                                      const std::string& account_id,
                                      std::optional<absl::CivilDay> churned_on,
                                      const std::string& reason);
  absl::StatusOr<Account> GetAccount(const std::string& account_id);
  // page_size 1-1000 (the handler turns 0 into the default).
  absl::StatusOr<AccountPage> ListAccounts(const AccountFilter& filter,
                                           const std::string& after_id, int page_size);

 private:
  AccountRepository* repository_;
  const Clock* clock_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_ACCOUNT_SERVICE_H_
