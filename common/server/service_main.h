#ifndef CS_COMMON_SERVER_SERVICE_MAIN_H_
#define CS_COMMON_SERVER_SERVICE_MAIN_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/db/migrations.h"
#include "common/db/pool.h"
#include "common/server/runtime.h"

namespace cs {

// Whatever a service builds at start (repositories, domain services, handlers);
// kept alive until the server has drained.
class ServiceWiring {
 public:
  virtual ~ServiceWiring() = default;
};

using WireFn =
    std::function<absl::StatusOr<std::unique_ptr<ServiceWiring>>(ServiceRuntime&, db::Pool&)>;

// The body of every service's main(): logging set-up, migrations (retried with
// backoff while the database is unreachable; --migrate_only exits after them),
// wiring, then serving until SIGTERM/SIGINT. Returns the exit code.
int RunServiceMain(const ServerConfig& config, const std::vector<db::MigrationSet>& migrations,
                   const WireFn& wire);

}  // namespace cs

#endif  // CS_COMMON_SERVER_SERVICE_MAIN_H_
