#ifndef CS_COMMON_DB_MIGRATIONS_H_
#define CS_COMMON_DB_MIGRATIONS_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/db/pool.h"

namespace cs::db {

// One schema change, compiled into the binary from migrations/NNN_name.sql.
struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// A named set of migrations: "common" (tables every service has) or the service's own.
struct MigrationSet {
  std::string component;
  const std::vector<Migration>* migrations;
};

// Applies every migration not yet recorded in `schema_migrations`, in version order,
// under a database lock (GET_LOCK) so replicas starting together apply each once.
// An applied migration whose text has changed since is refused (FAILED_PRECONDITION).
absl::Status ApplyMigrations(Pool& pool, const std::vector<MigrationSet>& sets,
                             absl::Duration lock_wait = absl::Seconds(60));

// Splits a script into statements on ';' outside quotes and comments.
std::vector<std::string> SplitSqlStatements(absl::string_view script);

}  // namespace cs::db

// The migrations every service schema carries (idempotency keys, ...); generated
// from common/migrations/*.sql.
const std::vector<cs::db::Migration>& common_migrations();

#endif  // CS_COMMON_DB_MIGRATIONS_H_
