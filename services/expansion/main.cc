// The expansion service: opportunities, the revenue ledger and retention metrics.
#include <cstdio>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "common/money.h"
#include "common/server/flags.h"
#include "common/server/metrics.h"
#include "common/server/service_main.h"
#include "services/expansion/grpc_handler.h"
#include "services/expansion/grpc_health_client.h"
#include "services/expansion/ledger_index.h"
#include "services/expansion/metrics_service.h"
#include "services/expansion/mysql_opportunity_repository.h"
#include "services/expansion/mysql_revenue_repository.h"
#include "services/expansion/opportunity_service.h"
#include "services/expansion/revenue_service.h"

ABSL_FLAG(std::string, health_addr, "127.0.0.1:50051",
          "host:port of the health service, asked before an opportunity moves past QUALIFIED");
ABSL_FLAG(absl::Duration, health_timeout, absl::Seconds(2),
          "deadline of one call to the health service (retries included)");
ABSL_FLAG(double, gross_margin_percent, 80,
          "gross margin for CLV when a request gives none, in percent (0-100]");
ABSL_FLAG(int32_t, seat_utilization_percent, 90,
          "seat use (of licensed seats) at or above which a seat expansion is suggested");
ABSL_FLAG(int32_t, usage_near_limit_percent, 80,
          "usage (of the plan limit) at or above which a usage expansion is suggested");
ABSL_FLAG(absl::Duration, forecast_snapshot_interval, absl::Hours(1),
          "how often each replica checks for the day's scheduled forecast snapshot (0: never)");
ABSL_FLAG(std::string, forecast_snapshot_currencies, "USD",
          "comma-separated currencies of the scheduled forecast snapshot");
ABSL_FLAG(bool, ledger_index, true,
          "keep the revenue ledger summed per account in memory for retention and expansion "
          "metrics (false: sum it in the database on every call)");
ABSL_FLAG(absl::Duration, ledger_index_refresh, absl::Seconds(1),
          "how often the ledger index reads new ledger rows in the background (every answer "
          "also reads them first); the first refresh loads the index");
ABSL_FLAG(absl::Duration, business_metrics_interval, absl::Seconds(30),
          "how often the business gauges of /metrics (open pipeline by stage) are recomputed");

namespace {

struct ExpansionSettings {
  std::string health_addr;
  absl::Duration health_timeout;
  cs::expansion::MetricsSettings metrics;
  cs::expansion::SuggestionSettings suggestions;
  absl::Duration snapshot_interval;
  cs::PeerChannelOptions health_channel;
  bool ledger_index = true;
  absl::Duration ledger_index_refresh;
};

absl::StatusOr<ExpansionSettings> LoadSettings() {
  ExpansionSettings s;
  s.health_addr = absl::GetFlag(FLAGS_health_addr);
  if (s.health_addr.empty()) {
    return absl::InvalidArgumentError("--health_addr (CS_HEALTH_ADDR): must be host:port");
  }
  s.health_timeout = absl::GetFlag(FLAGS_health_timeout);
  if (s.health_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--health_timeout (CS_HEALTH_TIMEOUT): must be positive");
  }
  const double margin = absl::GetFlag(FLAGS_gross_margin_percent);
  if (!(margin > 0 && margin <= 100)) {
    return absl::InvalidArgumentError(
        "--gross_margin_percent (CS_GROSS_MARGIN_PERCENT): must be in (0, 100]");
  }
  s.metrics.gross_margin = margin / 100.0;
  s.suggestions.seat_utilization_percent = absl::GetFlag(FLAGS_seat_utilization_percent);
  s.suggestions.usage_near_limit_percent = absl::GetFlag(FLAGS_usage_near_limit_percent);
  if (s.suggestions.seat_utilization_percent < 1 || s.suggestions.seat_utilization_percent > 1000 ||
      s.suggestions.usage_near_limit_percent < 1 || s.suggestions.usage_near_limit_percent > 1000) {
    return absl::InvalidArgumentError(
        "--seat_utilization_percent / --usage_near_limit_percent: must be in 1-1000");
  }
  s.snapshot_interval = absl::GetFlag(FLAGS_forecast_snapshot_interval);
  if (s.snapshot_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--forecast_snapshot_interval (CS_FORECAST_SNAPSHOT_INTERVAL): must not be negative");
  }
  s.ledger_index = absl::GetFlag(FLAGS_ledger_index);
  s.ledger_index_refresh = absl::GetFlag(FLAGS_ledger_index_refresh);
  if (s.ledger_index_refresh <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--ledger_index_refresh (CS_LEDGER_INDEX_REFRESH): must be positive");
  }
  s.metrics.snapshot_currencies.clear();
  for (absl::string_view code :
       absl::StrSplit(absl::GetFlag(FLAGS_forecast_snapshot_currencies), ',', absl::SkipEmpty())) {
    if (!cs::IsIsoCurrency(code)) {
      return absl::InvalidArgumentError(
          "--forecast_snapshot_currencies (CS_FORECAST_SNAPSHOT_CURRENCIES): ISO-4217 codes");
    }
    s.metrics.snapshot_currencies.emplace_back(code);
  }
  return s;
}

struct ExpansionWiring : cs::ServiceWiring {
  ExpansionWiring(cs::db::Pool* pool, const ExpansionSettings& settings)
      : revenue_repository(pool, &cs::RealClock::Instance()),
        opportunity_repository(pool, &cs::RealClock::Instance()),
        ledger_index(settings.ledger_index ? std::make_unique<cs::expansion::LedgerIndex>(pool)
                                           : nullptr),
        // The channel connects lazily: expansion starts while health is down.
        health(settings.health_addr, settings.health_timeout, settings.health_channel),
        revenue(&revenue_repository, &cs::RealClock::Instance()),
        opportunities(&opportunity_repository, &health, &cs::RealClock::Instance(),
                      settings.suggestions),
        metrics(&opportunity_repository, &revenue_repository, &cs::RealClock::Instance(),
                settings.metrics, ledger_index.get()),
        scheduler(&metrics, settings.snapshot_interval),
        handler(&revenue, &opportunities, &metrics) {}
  cs::expansion::MySqlRevenueRepository revenue_repository;
  cs::expansion::MySqlOpportunityRepository opportunity_repository;
  std::unique_ptr<cs::expansion::LedgerIndex> ledger_index;  // null with --ledger_index=false
  cs::expansion::GrpcHealthClient health;
  cs::expansion::RevenueService revenue;
  cs::expansion::OpportunityService opportunities;
  cs::expansion::MetricsService metrics;
  cs::expansion::ForecastScheduler scheduler;
  cs::expansion::ExpansionHandler handler;
  std::unique_ptr<cs::QueryGauge> pipeline;
  std::unique_ptr<cs::PeriodicRefresher> business_metrics;
};

// Open pipeline: the amounts of opportunities not closed, by stage and currency
// (never summed across currencies). Reads the (stage, currency) index and the rows of
// open opportunities only.
cs::QueryGauge::Spec PipelineSpec() {
  return {"cs_expansion_pipeline_minor_units",
          "Open expansion pipeline: sum of opportunity amounts in minor units, by stage and currency",
          {"stage", "currency"},
          "SELECT stage, currency, SUM(amount_minor) FROM opportunities"
          " WHERE stage IN ('IDENTIFIED', 'QUALIFIED', 'PROPOSAL', 'NEGOTIATION')"
          " GROUP BY stage, currency",
          {}};
}

}  // namespace

int main(int argc, char** argv) {
  cs::BlockShutdownSignals();
  absl::StatusOr<cs::ServerConfig> config = cs::LoadServerConfig(
      argc, argv, {"expansion", "127.0.0.1:50053", "127.0.0.1:9103", "cs_expansion"});
  if (!config.ok()) {
    std::fprintf(stderr, "expansion: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<ExpansionSettings> settings = LoadSettings();
  if (!settings.ok()) {
    std::fprintf(stderr, "expansion: %s\n", std::string(settings.status().message()).c_str());
    return 2;
  }
  const absl::Duration business_interval = absl::GetFlag(FLAGS_business_metrics_interval);
  if (business_interval <= absl::ZeroDuration()) {
    std::fprintf(stderr,
                 "expansion: --business_metrics_interval (CS_BUSINESS_METRICS_INTERVAL): must be positive\n");
    return 2;
  }
  // TLS, client certificate and token towards health, as --peer_tls_* say.
  settings->health_channel.tls = config->peer;
  return cs::RunServiceMain(
      *config, {{"common", &common_migrations()}, {"expansion", &expansion_migrations()}},
      [&settings, business_interval](cs::ServiceRuntime& runtime,
                  cs::db::Pool& pool) -> absl::StatusOr<std::unique_ptr<cs::ServiceWiring>> {
        auto wiring = std::make_unique<ExpansionWiring>(&pool, *settings);
        runtime.AddService(&wiring->handler);
        // Writes only: expansion keeps no industry, and asking health on every read
        // would put a cross-service call on each of them.
        wiring->handler.AttachAuditLog(runtime.audit_log());
        if (wiring->ledger_index != nullptr) {
          // Loads in the background; an answer asked meanwhile waits for the load.
          wiring->ledger_index->Start(settings->ledger_index_refresh);
          runtime.AddShutdownHook([index = wiring->ledger_index.get()] { index->Stop(); });
        }
        wiring->scheduler.Start();
        runtime.AddShutdownHook([scheduler = &wiring->scheduler] { scheduler->Stop(); });
        wiring->pipeline =
            std::make_unique<cs::QueryGauge>(runtime.registry(), &pool, PipelineSpec());
        wiring->business_metrics = std::make_unique<cs::PeriodicRefresher>(
            "business metrics", business_interval,
            [pipeline = wiring->pipeline.get()] { return pipeline->Refresh(); });
        wiring->business_metrics->Start();
        runtime.AddShutdownHook([w = wiring.get()] { w->business_metrics->Stop(); });
        return std::unique_ptr<cs::ServiceWiring>(std::move(wiring));
      });
}
