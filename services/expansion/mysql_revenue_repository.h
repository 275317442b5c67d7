#ifndef CS_SERVICES_EXPANSION_MYSQL_REVENUE_REPOSITORY_H_
#define CS_SERVICES_EXPANSION_MYSQL_REVENUE_REPOSITORY_H_

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/db/migrations.h"
#include "common/db/pool.h"
#include "services/expansion/revenue_repository.h"

// Generated from services/expansion/migrations/*.sql.
const std::vector<cs::db::Migration>& expansion_migrations();

namespace cs::expansion {

// Inside an open transaction: makes `currency` the account's ledger currency if it
// has none, locks the account's ledger row, and refuses (FAILED_PRECONDITION naming
// `field`) a different currency. Every ledger write goes through it, so two first
// writes of one account cannot pick different currencies.
absl::Status ClaimLedgerCurrency(db::Connection& conn, const std::string& account_id,
                                 const std::string& currency, absl::string_view field);

// Inside an open transaction, after ClaimLedgerCurrency: INVALID_ARGUMENT naming
// `field` when the account's MRR after `change` would leave the amount cap, so no
// account's balance (nor a sum of many) can overflow.
absl::Status CheckBalance(db::Connection& conn, const std::string& account_id, int64_t change,
                          absl::string_view field);

// Inside an open transaction, after ClaimLedgerCurrency: appends a movement (with
// `import_month` for movements derived from an import) and returns it with its id.
absl::StatusOr<RevenueMovement> InsertMovement(db::Connection& conn,
                                               const RevenueMovement& movement, absl::Time now,
                                               std::optional<absl::CivilMonth> import_month = {});

// Inside the transaction that changes a movement after its insert (`new_kind`
// nullopt: removes it): appends the old and new values to ledger_changes, which the
// replicas' ledger indexes tail (ledger_index.h).
void LogMovementChange(db::Connection& conn, const std::string& account_id, int64_t movement_id,
                       const std::optional<absl::CivilDay>& month, const std::string& old_kind,
                       int64_t old_amount, const std::optional<std::string>& new_kind,
                       int64_t new_amount, absl::Time now);
// Inside the transaction that writes an account profile: tells the ledger indexes
// to read the account's tier again.
void LogProfileChange(db::Connection& conn, const std::string& account_id, absl::Time now);

class MySqlRevenueRepository final : public RevenueRepository {
 public:
  MySqlRevenueRepository(db::Pool* pool, const Clock* clock) : pool_(pool), clock_(clock) {}
  absl::StatusOr<RevenueMovement> Record(const db::WriteKey& key,
                                         const db::ResultCodec<RevenueMovement>& codec,
                                         const RevenueMovement& movement, absl::Time now) override;
  absl::StatusOr<MovementPage> List(const std::string& account_id, int64_t after_id,
                                    int page_size) override;
  absl::StatusOr<ImportResult> Import(const db::WriteKey& key,
                                      const db::ResultCodec<ImportResult>& codec,
                                      const std::vector<SubscriptionMonth>& rows,
                                      absl::Time now) override;
  absl::StatusOr<std::vector<AccountPeriod>> LoadPeriods(const std::string& currency, Tier tier,
                                                         absl::CivilMonth first,
                                                         absl::CivilMonth last) override;

 private:
  db::Pool* pool_;
  const Clock* clock_;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_MYSQL_REVENUE_REPOSITORY_H_
