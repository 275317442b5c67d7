// The health service: accounts, signals, scores, alerts and the event stream.
#include <cstdio>
#include <memory>

#include "absl/flags/flag.h"
#include "common/server/flags.h"
#include "common/server/metrics.h"
#include "common/server/service_main.h"
#include "services/health/account_service.h"
#include "services/health/event_service.h"
#include "services/health/grpc_handler.h"
#include "services/health/health_mapping.h"
#include "services/health/health_service.h"
#include "services/health/mysql_account_repository.h"
#include "services/health/mysql_event_repository.h"
#include "services/health/mysql_health_repository.h"
#include "services/health/proto_mapping.h"
#include "services/health/rescore_worker.h"

ABSL_FLAG(absl::Duration, business_metrics_interval, absl::Seconds(30),
          "how often the business gauges of /metrics (accounts per band) are recomputed");

namespace {

struct HealthWiring : cs::ServiceWiring {
  explicit HealthWiring(cs::db::Pool* pool)
      : repository(pool, &cs::RealClock::Instance(), cs::health::EncodeAccountEvent),
        accounts(&repository, &cs::RealClock::Instance()),
        event_repository(pool),
        events(&event_repository),
        health_repository(pool, &cs::RealClock::Instance(), cs::health::HealthEncoders()),
        health(&health_repository, &cs::RealClock::Instance()),
        rescore(&health),
        handler(&accounts, &events, &health) {}
  cs::health::MySqlAccountRepository repository;
  cs::health::AccountService accounts;
  cs::health::MySqlEventRepository event_repository;
  cs::health::EventService events;
  cs::health::MySqlHealthRepository health_repository;
  cs::health::HealthService health;
  cs::health::RescoreWorker rescore;
  cs::health::AccountHealthHandler handler;
  std::unique_ptr<cs::QueryGauge> bands;
  std::unique_ptr<cs::PeriodicRefresher> business_metrics;
};

// Accounts per band of the default score, churned accounts left out: an index range
// of account_scores joined by primary key, a few milliseconds for 100k accounts.
cs::QueryGauge::Spec BandSpec() {
  return {"cs_health_accounts",
          "Accounts that are not churned, by band of the default health score",
          {"band"},
          "SELECT s.band, COUNT(*) FROM account_scores s"
          " JOIN accounts a ON a.account_id = s.account_id"
          " WHERE s.score_name = 'health' AND a.lifecycle <> 'CHURNED' GROUP BY s.band",
          {{"GREEN"}, {"YELLOW"}, {"RED"}}};
}

}  // namespace

int main(int argc, char** argv) {
  cs::BlockShutdownSignals();
  absl::StatusOr<cs::ServerConfig> config = cs::LoadServerConfig(
      argc, argv, {"health", "127.0.0.1:50051", "127.0.0.1:9101", "cs_health"});
  if (!config.ok()) {
    std::fprintf(stderr, "health: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  const absl::Duration business_interval = absl::GetFlag(FLAGS_business_metrics_interval);
  if (business_interval <= absl::ZeroDuration()) {
    std::fprintf(stderr,
                 "health: --business_metrics_interval (CS_BUSINESS_METRICS_INTERVAL): must be positive\n");
    return 2;
  }
  return cs::RunServiceMain(
      *config, {{"common", &common_migrations()}, {"health", &health_migrations()}},
      [business_interval](cs::ServiceRuntime& runtime,
         cs::db::Pool& pool) -> absl::StatusOr<std::unique_ptr<cs::ServiceWiring>> {
        auto wiring = std::make_unique<HealthWiring>(&pool);
        // Not fatal: the server must start (NOT_SERVING) while the database is down;
        // the rescore worker seeds the default scorecard once it answers.
        (void)wiring->health_repository.EnsureDefaultScorecard(cs::RealClock::Instance().Now());
        runtime.AddService(&wiring->handler);
        // Open event streams end at shutdown so the drain does not wait on them.
        runtime.AddShutdownHook([events = &wiring->events] { events->Stop(); });
        wiring->rescore.Start();
        runtime.AddShutdownHook([rescore = &wiring->rescore] { rescore->Stop(); });
        wiring->bands = std::make_unique<cs::QueryGauge>(runtime.registry(), &pool, BandSpec());
        wiring->business_metrics = std::make_unique<cs::PeriodicRefresher>(
            "business metrics", business_interval,
            [bands = wiring->bands.get()] { return bands->Refresh(); });
        wiring->business_metrics->Start();
        runtime.AddShutdownHook([w = wiring.get()] { w->business_metrics->Stop(); });
        return std::unique_ptr<cs::ServiceWiring>(std::move(wiring));
      });
}
