// The health service: accounts, signals, scores, alerts and the event stream.
#include <cstdio>
#include <memory>

#include "absl/flags/flag.h"
#include "common/server/flags.h"
#include "common/server/metrics.h"
#include "common/server/service_main.h"
#include "services/health/account_service.h"
#include "services/health/event_service.h"
#include "services/health/first_value_store.h"
#include "services/health/grpc_handler.h"
#include "services/health/health_mapping.h"
#include "services/health/health_service.h"
#include "services/health/mysql_account_repository.h"
#include "services/health/mysql_event_repository.h"
#include "services/health/mysql_health_repository.h"
#include "services/health/proto_mapping.h"
#include "services/health/rescore_worker.h"

ABSL_FLAG(bool, health_portfolio_index, true,
          "Answer GetPortfolioSummary from in-memory indexes kept current by the event log and"
          " score history tails (false: aggregate in the database on every call)");
ABSL_FLAG(int, health_view_cache_accounts, 200000,
          "accounts whose current GetHealth view this replica keeps in memory (0: no cache)");
ABSL_FLAG(absl::Duration, health_view_cache_tail, absl::Milliseconds(150),
          "how often the view cache reads the shared event log for other replicas' writes");
ABSL_FLAG(int, health_ingest_group_signals, 20000,
          "concurrent RecordSignals/TrackEvents calls are committed together in groups of up to "
          "this many signals (0: one transaction per call)");
ABSL_FLAG(int, health_ingest_groups, 2,
          "ingest groups that may run at once, each a transaction on its own connection "
          "(1: one at a time)");
ABSL_FLAG(int, health_signal_key_cache_mib, 256,
          "memory (estimated, MiB) for the stored signal keys this replica keeps per account "
          "and month to tell duplicates without reading the signal log (0: none kept)");
ABSL_FLAG(int, rescore_threads, 2,
          "background rescoring threads; every thread of every replica works slices of the "
          "same job, so a scorecard change uses several database connections at once");
ABSL_FLAG(absl::Duration, business_metrics_interval, absl::Seconds(30),
          "how often the business gauges of /metrics (accounts per band) are recomputed");

namespace {

struct HealthWiring : cs::ServiceWiring {
  HealthWiring(cs::db::Pool* pool, int rescore_threads)
      : repository(pool, &cs::RealClock::Instance(), cs::health::EncodeAccountEvent),
        accounts(&repository, &cs::RealClock::Instance()),
        event_repository(pool),
        events(&event_repository),
        health_repository(pool, &cs::RealClock::Instance(), cs::health::HealthEncoders()),
        health(&health_repository, &cs::RealClock::Instance()),
        rescore(&health, absl::Seconds(1), 1024, rescore_threads),
        first_value_repository(pool, &cs::RealClock::Instance()),
        first_value(&first_value_repository, &cs::RealClock::Instance()),
        handler(&accounts, &events, &health) {
    handler.AttachFirstValue(&first_value);
  }
  cs::health::MySqlAccountRepository repository;
  cs::health::AccountService accounts;
  cs::health::MySqlEventRepository event_repository;
  cs::health::EventService events;
  cs::health::MySqlHealthRepository health_repository;
  cs::health::HealthService health;
  cs::health::RescoreWorker rescore;
  cs::health::MySqlFirstValueRepository first_value_repository;
  cs::health::FirstValueService first_value;
  cs::health::AccountHealthHandler handler;
  std::unique_ptr<cs::QueryGauge> bands;
  std::unique_ptr<cs::PeriodicRefresher> business_metrics;
  std::unique_ptr<cs::PeriodicRefresher> cache_tail;
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
  const int ingest_groups = absl::GetFlag(FLAGS_health_ingest_groups);
  if (ingest_groups < 1 || ingest_groups > 16) {
    std::fprintf(stderr, "health: --health_ingest_groups (CS_HEALTH_INGEST_GROUPS): must be 1 to 16\n");
    return 2;
  }
  const int key_cache_mib = absl::GetFlag(FLAGS_health_signal_key_cache_mib);
  if (key_cache_mib < 0 || key_cache_mib > 1 << 20) {
    std::fprintf(stderr,
                 "health: --health_signal_key_cache_mib (CS_HEALTH_SIGNAL_KEY_CACHE_MIB): must be"
                 " 0 to 1048576\n");
    return 2;
  }
  const int rescore_threads = absl::GetFlag(FLAGS_rescore_threads);
  if (rescore_threads < 1 || rescore_threads > 64) {
    std::fprintf(stderr, "health: --rescore_threads (CS_RESCORE_THREADS): must be 1 to 64\n");
    return 2;
  }
  if (business_interval <= absl::ZeroDuration()) {
    std::fprintf(stderr,
                 "health: --business_metrics_interval (CS_BUSINESS_METRICS_INTERVAL): must be positive\n");
    return 2;
  }
  return cs::RunServiceMain(
      *config, {{"common", &common_migrations()}, {"health", &health_migrations()}},
      [business_interval, rescore_threads, key_cache_mib, ingest_groups](cs::ServiceRuntime& runtime,
         cs::db::Pool& pool) -> absl::StatusOr<std::unique_ptr<cs::ServiceWiring>> {
        auto wiring = std::make_unique<HealthWiring>(&pool, rescore_threads);
        // Not fatal: the server must start (NOT_SERVING) while the database is down;
        // the rescore worker seeds the default scorecard once it answers.
        (void)wiring->health_repository.EnsureDefaultScorecard(cs::RealClock::Instance().Now());
        runtime.AddService(&wiring->handler);
        wiring->handler.AttachAuditLog(runtime.audit_log());
        // Reads are audited for accounts whose industry (kept in this schema) is regulated.
        runtime.SetRegulatedAccounts([h = &wiring->health](const std::vector<std::string>& ids) {
          return h->RegulatedAccounts(ids);
        });
        // Open event streams end at shutdown so the drain does not wait on them.
        runtime.AddShutdownHook([events = &wiring->events] { events->Stop(); });
        wiring->health_repository.SetIngestGroupCommit(
            absl::GetFlag(FLAGS_health_ingest_group_signals), absl::ZeroDuration(), ingest_groups);
        wiring->health_repository.SetSignalKeyCacheBytes(static_cast<size_t>(key_cache_mib)
                                                          << 20);
        const int cache_accounts = absl::GetFlag(FLAGS_health_view_cache_accounts);
        if (cache_accounts > 0) {
          wiring->health.EnableViewCache(static_cast<size_t>(cache_accounts));
          // Kept by the same tail: audited reads ask no query per account.
          wiring->health.EnableRegulatedIndex();
          wiring->cache_tail = std::make_unique<cs::PeriodicRefresher>(
              "health view cache tail", absl::GetFlag(FLAGS_health_view_cache_tail),
              [health = &wiring->health] { return health->PollCacheInvalidations(); });
          wiring->cache_tail->Start();
          runtime.AddShutdownHook([w = wiring.get()] { w->cache_tail->Stop(); });
        }
        if (absl::GetFlag(FLAGS_health_portfolio_index)) {
          wiring->health.EnablePortfolioIndex();
          // The default score's index is built now, not by the first summary (about
          // 20 s at 1M accounts). Shutdown stops a build in progress; a failed one
          // (the database down) is left to the first summary.
          wiring->health.portfolio_tracker()->StartWarm(cs::health::kDefaultScoreName);
          runtime.AddShutdownHook(
              [tracker = wiring->health.portfolio_tracker()] { tracker->Stop(); });
        }
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
