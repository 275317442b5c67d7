#ifndef CS_SERVICES_HEALTH_MYSQL_ACCOUNT_REPOSITORY_H_
#define CS_SERVICES_HEALTH_MYSQL_ACCOUNT_REPOSITORY_H_

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/db/migrations.h"
#include "common/db/pool.h"
#include "services/health/account_repository.h"
#include "services/health/event.h"

// Generated from services/health/migrations/*.sql.
const std::vector<cs::db::Migration>& health_migrations();

namespace cs::health {

// Inside a caller's connection (and transaction, for for_update): one account.
absl::StatusOr<std::optional<Account>> FindAccount(db::Connection& conn,
                                                   const std::string& account_id,
                                                   bool for_update);

// Inside a caller's connection: up to `limit` accounts after `after_id`, in
// account_id order.
absl::StatusOr<std::vector<Account>> AccountsAfter(db::Connection& conn,
                                                   const std::string& after_id, int limit);

class MySqlAccountRepository final : public AccountRepository {
 public:
  MySqlAccountRepository(db::Pool* pool, const Clock* clock, AccountEncoder encode_event)
      : pool_(pool), clock_(clock), encode_event_(std::move(encode_event)) {}

  absl::StatusOr<UpsertAccountResult> Upsert(const db::WriteKey& key,
                                             const db::ResultCodec<UpsertAccountResult>& codec,
                                             const Account& account, absl::Time now) override;
  absl::StatusOr<Account> MarkChurned(const db::WriteKey& key,
                                      const db::ResultCodec<Account>& codec,
                                      const std::string& account_id, absl::CivilDay churned_on,
                                      const std::string& reason, absl::Time now) override;
  absl::StatusOr<Account> Get(const std::string& account_id) override;
  absl::StatusOr<AccountPage> List(const AccountFilter& filter, const std::string& after_id,
                                   int limit) override;

 private:
  // Appends one event about `a` to the log, inside the caller's transaction.
  void Publish(db::Connection& conn, EventKind kind, const Account& a, absl::Time now);

  db::Pool* pool_;
  const Clock* clock_;
  AccountEncoder encode_event_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_MYSQL_ACCOUNT_REPOSITORY_H_
