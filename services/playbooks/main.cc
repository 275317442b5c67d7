// The playbook service: playbook definitions, runs, tasks, SLAs and escalation.
#include <cstdio>
#include <memory>

#include "common/server/flags.h"
#include "common/server/service_main.h"
#include "services/playbooks/escalation_service.h"
#include "services/playbooks/grpc_handler.h"
#include "services/playbooks/mysql_escalation_repository.h"

namespace {

struct PlaybooksWiring : cs::ServiceWiring {
  explicit PlaybooksWiring(cs::db::Pool* pool)
      : repository(pool, &cs::RealClock::Instance()),
        escalations(&repository, &cs::RealClock::Instance()),
        handler(&escalations) {}
  cs::playbooks::MySqlEscalationRepository repository;
  cs::playbooks::EscalationService escalations;
  cs::playbooks::PlaybookHandler handler;
};

}  // namespace

int main(int argc, char** argv) {
  cs::BlockShutdownSignals();
  absl::StatusOr<cs::ServerConfig> config = cs::LoadServerConfig(
      argc, argv, {"playbooks", "127.0.0.1:50052", "127.0.0.1:9102", "cs_playbooks"});
  if (!config.ok()) {
    std::fprintf(stderr, "playbooks: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  return cs::RunServiceMain(
      *config, {{"common", &common_migrations()}, {"playbooks", &playbooks_migrations()}},
      [](cs::ServiceRuntime& runtime,
         cs::db::Pool& pool) -> absl::StatusOr<std::unique_ptr<cs::ServiceWiring>> {
        auto wiring = std::make_unique<PlaybooksWiring>(&pool);
        runtime.AddService(&wiring->handler);
        return std::unique_ptr<cs::ServiceWiring>(std::move(wiring));
      });
}
