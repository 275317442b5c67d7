// The playbook service: playbook definitions, runs, tasks, SLAs and escalation.
#include <cstdio>
#include <memory>

#include "absl/flags/flag.h"
#include "common/server/flags.h"
#include "common/server/service_main.h"
#include "services/playbooks/escalation_service.h"
#include "services/playbooks/grpc_handler.h"
#include "services/playbooks/grpc_peers.h"
#include "services/playbooks/mysql_escalation_repository.h"
#include "services/playbooks/mysql_playbook_repository.h"
#include "services/playbooks/playbook_service.h"
#include "services/playbooks/proto_mapping.h"
#include "services/playbooks/worker.h"

ABSL_FLAG(std::string, health_addr, "127.0.0.1:50051",
          "host:port of the health service (event stream and account context)");
ABSL_FLAG(std::string, expansion_addr, "127.0.0.1:50053",
          "host:port of the expansion service (opportunities from GREEN expansion signals)");
ABSL_FLAG(absl::Duration, peer_timeout, absl::Seconds(5),
          "deadline of one call to health or expansion (retries included)");
ABSL_FLAG(absl::Duration, consume_interval, absl::Milliseconds(500),
          "how often the health event consumer polls once caught up (or after a failure)");
ABSL_FLAG(absl::Duration, sweep_interval, absl::Seconds(10),
          "how often SLA escalation, run exits, cadences and renewals are checked when idle");
ABSL_FLAG(absl::Duration, cadence_horizon, absl::Hours(24 * 14),
          "how far ahead cadence touchpoint tasks are created");
ABSL_FLAG(int64_t, expansion_default_amount, 120000,
          "minor units (USD) an opportunity opened from an expansion signal starts with");

namespace {

struct PlaybooksSettings {
  std::string health_addr;
  std::string expansion_addr;
  absl::Duration peer_timeout;
  absl::Duration consume_interval;
  absl::Duration sweep_interval;
  absl::Duration cadence_horizon;
  int64_t expansion_amount;
  cs::PeerTlsConfig peer_tls;
};

absl::StatusOr<PlaybooksSettings> LoadSettings() {
  PlaybooksSettings s;
  s.health_addr = absl::GetFlag(FLAGS_health_addr);
  if (s.health_addr.empty()) {
    return absl::InvalidArgumentError("--health_addr (CS_HEALTH_ADDR): must be host:port");
  }
  s.expansion_addr = absl::GetFlag(FLAGS_expansion_addr);
  if (s.expansion_addr.empty()) {
    return absl::InvalidArgumentError("--expansion_addr (CS_EXPANSION_ADDR): must be host:port");
  }
  s.peer_timeout = absl::GetFlag(FLAGS_peer_timeout);
  s.consume_interval = absl::GetFlag(FLAGS_consume_interval);
  s.sweep_interval = absl::GetFlag(FLAGS_sweep_interval);
  if (s.peer_timeout <= absl::ZeroDuration() || s.consume_interval <= absl::ZeroDuration() ||
      s.sweep_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--peer_timeout, --consume_interval, --sweep_interval (CS_PEER_TIMEOUT, "
        "CS_CONSUME_INTERVAL, CS_SWEEP_INTERVAL): must be positive");
  }
  s.cadence_horizon = absl::GetFlag(FLAGS_cadence_horizon);
  if (s.cadence_horizon < absl::ZeroDuration() || s.cadence_horizon > absl::Hours(24 * 366)) {
    return absl::InvalidArgumentError(
        "--cadence_horizon (CS_CADENCE_HORIZON): must be between 0 and 366 days");
  }
  s.expansion_amount = absl::GetFlag(FLAGS_expansion_default_amount);
  if (s.expansion_amount <= 0) {
    return absl::InvalidArgumentError(
        "--expansion_default_amount (CS_EXPANSION_DEFAULT_AMOUNT): must be positive");
  }
  return s;
}

cs::playbooks::PlaybookService::Options ServiceOptions(const PlaybooksSettings& s) {
  cs::playbooks::PlaybookService::Options o;
  o.cadence_horizon = s.cadence_horizon;
  return o;
}

cs::playbooks::GrpcHealthFeed::Options HealthOptions(const PlaybooksSettings& s) {
  cs::playbooks::GrpcHealthFeed::Options o;
  o.call_timeout = s.peer_timeout;
  o.channel.tls = s.peer_tls;
  return o;
}

cs::playbooks::GrpcExpansionClient::Options ExpansionOptions(const PlaybooksSettings& s) {
  cs::playbooks::GrpcExpansionClient::Options o;
  o.call_timeout = s.peer_timeout;
  o.default_amount_minor_units = s.expansion_amount;
  o.channel.tls = s.peer_tls;
  return o;
}

struct PlaybooksWiring : cs::ServiceWiring {
  PlaybooksWiring(cs::db::Pool* pool, const PlaybooksSettings& s)
      : clock(&cs::RealClock::Instance()),
        repository(pool, clock),
        escalations(&repository, clock),
        playbook_repository(pool, clock, cs::playbooks::TaskEventCodecForOutbox()),
        health(s.health_addr, clock, HealthOptions(s)),
        expansion(s.expansion_addr, clock, ExpansionOptions(s)),
        playbooks(&playbook_repository, &health, &expansion, clock, ServiceOptions(s)),
        handler(&escalations, &playbooks),
        consumer("health event consumer", [this] { return playbooks.ConsumeHealthEvents(); },
                 s.consume_interval),
        sweeper("playbooks sweeper",
                [this]() -> absl::StatusOr<int> {
                  // Seeds DOMAIN's playbooks once the database answers (it may be
                  // down at start); existing ones are never touched.
                  if (!seeded) {
                    if (absl::Status s = playbooks.EnsureDefaultPlaybooks(); !s.ok()) return s;
                    seeded = true;
                  }
                  return playbooks.Sweep();
                },
                s.sweep_interval) {}
  const cs::Clock* clock;
  cs::playbooks::MySqlEscalationRepository repository;
  cs::playbooks::EscalationService escalations;
  cs::playbooks::MySqlPlaybookRepository playbook_repository;
  cs::playbooks::GrpcHealthFeed health;
  cs::playbooks::GrpcExpansionClient expansion;
  cs::playbooks::PlaybookService playbooks;
  cs::playbooks::PlaybookHandler handler;
  cs::playbooks::Worker consumer;
  cs::playbooks::Worker sweeper;
  bool seeded = false;  // touched only by the sweeper's thread
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
  absl::StatusOr<PlaybooksSettings> settings = LoadSettings();
  if (!settings.ok()) {
    std::fprintf(stderr, "playbooks: %s\n", std::string(settings.status().message()).c_str());
    return 2;
  }
  settings->peer_tls = config->peer;
  return cs::RunServiceMain(
      *config, {{"common", &common_migrations()}, {"playbooks", &playbooks_migrations()}},
      [&settings](cs::ServiceRuntime& runtime,
                  cs::db::Pool& pool) -> absl::StatusOr<std::unique_ptr<cs::ServiceWiring>> {
        auto wiring = std::make_unique<PlaybooksWiring>(&pool, *settings);
        runtime.AddService(&wiring->handler);
        // Task streams end at shutdown so the drain does not wait on them.
        runtime.AddShutdownHook([w = wiring.get()] {
          w->playbooks.Stop();
          w->consumer.Stop();
          w->sweeper.Stop();
        });
        // Both loops retry in the background: health or the database being away
        // never blocks start-up or readiness.
        wiring->consumer.Start();
        wiring->sweeper.Start();
        return std::unique_ptr<cs::ServiceWiring>(std::move(wiring));
      });
}
