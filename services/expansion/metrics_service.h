#ifndef CS_SERVICES_EXPANSION_METRICS_SERVICE_H_
#define CS_SERVICES_EXPANSION_METRICS_SERVICE_H_

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "services/expansion/ledger_index.h"
#include "services/expansion/metrics.h"
#include "services/expansion/opportunity_repository.h"
#include "services/expansion/revenue_repository.h"

namespace cs::expansion {

struct MetricsSettings {
  // Gross margin for CLV when a request gives none, as a fraction (0, 1].
  double gross_margin = 0.8;
  // Currencies the scheduled forecast snapshot covers.
  std::vector<std::string> snapshot_currencies = {"USD"};
};

struct QuarterAccuracy {
  Quarter quarter;
  AmountPair forecast;
  int64_t actual_won = 0;
  std::optional<double> accuracy_ratio;  // actual / forecast weighted
  std::optional<double> error_ratio;     // (actual - forecast weighted) / forecast weighted
};

struct ForecastAccuracy {
  ForecastSnapshot snapshot;
  std::vector<QuarterAccuracy> quarters;
};

// Period in whole months, both included.
struct MonthPeriod {
  absl::CivilMonth first;
  absl::CivilMonth last;
};

// Pipeline, forecast snapshots and the retention and expansion measures.
class MetricsService {
 public:
  // With a ledger index, retention and expansion measures read the ledger from it
  // (same answers as revenue->LoadPeriods); without one, from the database.
  MetricsService(OpportunityRepository* opportunities, RevenueRepository* revenue,
                 const Clock* clock, MetricsSettings settings = {},
                 LedgerIndex* ledger_index = nullptr)
      : opportunities_(opportunities),
        revenue_(revenue),
        clock_(clock),
        settings_(settings),
        ledger_index_(ledger_index) {}

  // currency empty means USD.
  absl::StatusOr<PipelineReport> Pipeline(const std::string& currency, const std::string& owner_id,
                                          Tier tier);
  absl::StatusOr<ForecastSnapshot> Snapshot(const db::WriteKey& key,
                                            const db::ResultCodec<ForecastSnapshot>& codec,
                                            const std::string& currency);
  // Today's scheduled snapshot of every configured currency, unless another replica
  // took it. Returns how many this call took.
  absl::StatusOr<int> RunScheduledSnapshots();
  absl::StatusOr<SnapshotPage> ListSnapshots(int64_t after_id, int page_size);
  absl::StatusOr<ForecastAccuracy> Accuracy(int64_t snapshot_id);
  absl::StatusOr<ExpansionReport> Expansion(const MonthPeriod& period, const std::string& currency,
                                            Tier tier);
  // gross_margin_percent 0 means the configured default.
  absl::StatusOr<RetentionReport> Retention(const MonthPeriod& period, const std::string& currency,
                                            double gross_margin_percent);

 private:
  absl::StatusOr<ForecastSnapshot> CurrentForecast(const std::string& currency);

  OpportunityRepository* opportunities_;
  RevenueRepository* revenue_;
  const Clock* clock_;
  MetricsSettings settings_;
  LedgerIndex* ledger_index_;
};

// Takes the scheduled forecast snapshot: every replica runs one, checking every
// `interval`; the row lease in forecast_schedule makes one replica take each day's.
class ForecastScheduler {
 public:
  ForecastScheduler(MetricsService* metrics, absl::Duration interval)
      : metrics_(metrics), interval_(interval) {}
  ~ForecastScheduler() { Stop(); }
  ForecastScheduler(const ForecastScheduler&) = delete;
  ForecastScheduler& operator=(const ForecastScheduler&) = delete;

  void Start();
  void Stop();

 private:
  void Run();

  MetricsService* metrics_;
  const absl::Duration interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_METRICS_SERVICE_H_
