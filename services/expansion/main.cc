// The expansion service: opportunities, the revenue ledger and retention metrics.
#include <cstdio>
#include <memory>

#include "common/server/flags.h"
#include "common/server/service_main.h"
#include "services/expansion/grpc_handler.h"
#include "services/expansion/mysql_revenue_repository.h"
#include "services/expansion/revenue_service.h"

namespace {

struct ExpansionWiring : cs::ServiceWiring {
  explicit ExpansionWiring(cs::db::Pool* pool)
      : repository(pool, &cs::RealClock::Instance()),
        revenue(&repository, &cs::RealClock::Instance()),
        handler(&revenue) {}
  cs::expansion::MySqlRevenueRepository repository;
  cs::expansion::RevenueService revenue;
  cs::expansion::ExpansionHandler handler;
};

}  // namespace

int main(int argc, char** argv) {
  cs::BlockShutdownSignals();
  absl::StatusOr<cs::ServerConfig> config = cs::LoadServerConfig(
      argc, argv, {"expansion", "127.0.0.1:50053", "127.0.0.1:9103", "cs_expansion"});
  if (!config.ok()) {
    std::fprintf(stderr, "expansion: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  return cs::RunServiceMain(
      *config, {{"common", &common_migrations()}, {"expansion", &expansion_migrations()}},
      [](cs::ServiceRuntime& runtime,
         cs::db::Pool& pool) -> absl::StatusOr<std::unique_ptr<cs::ServiceWiring>> {
        auto wiring = std::make_unique<ExpansionWiring>(&pool);
        runtime.AddService(&wiring->handler);
        return std::unique_ptr<cs::ServiceWiring>(std::move(wiring));
      });
}
