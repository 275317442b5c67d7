#include "common/server/service_main.h"

#include <signal.h>

#include <algorithm>

#include "common/log.h"

namespace cs {
namespace {

// Sleeps up to `d`; returns true when SIGTERM or SIGINT arrived meanwhile.
bool SignalledWithin(absl::Duration d) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  const timespec ts = absl::ToTimespec(d);
  return sigtimedwait(&set, nullptr, &ts) > 0;
}

}  // namespace

int RunServiceMain(const ServerConfig& config, const std::vector<db::MigrationSet>& migrations,
                   const WireFn& wire) {
  log::SetService(config.service_name);
  log::SetMinLevel(config.log_level);
  db::Pool pool(config.db);

  if (config.migrate_on_start || config.migrate_only) {
    // Its own connection, with a statement timeout long enough for a migration that
    // copies a large table (the serving pool's would cut it off and roll it back).
    DbConfig migration_db = config.db;
    migration_db.pool_size = 1;
    migration_db.io_timeout = std::max(config.db.io_timeout, config.migration_io_timeout);
    db::Pool migration_pool(migration_db);
    absl::Duration backoff = absl::Milliseconds(250);
    while (true) {
      absl::Status s = db::ApplyMigrations(migration_pool, migrations);
      if (s.ok()) break;
      if (s.code() != absl::StatusCode::kUnavailable) {
        log::Error("migrations failed", {{"error", std::string(s.message())}});
        return 1;
      }
      log::Warn("database unreachable; retrying migrations",
                {{"error", std::string(s.message())},
                 {"retry_in_ms", absl::ToInt64Milliseconds(backoff)}});
      if (SignalledWithin(backoff)) return 0;
      backoff = std::min(backoff * 2, absl::Seconds(5));
    }
    log::Info("schema up to date", {{"schema", config.db.schema}});
    if (config.migrate_only) return 0;
  }

  ServiceRuntime runtime(config, &pool);
  absl::StatusOr<std::unique_ptr<ServiceWiring>> wiring = wire(runtime, pool);
  if (!wiring.ok()) {
    log::Error("cannot wire the service", {{"error", std::string(wiring.status().message())}});
    return 1;
  }
  const int code = runtime.RunUntilSignal();
  runtime.Shutdown();
  wiring->reset();
  return code;
}

}  // namespace cs
