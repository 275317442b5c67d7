#ifndef CS_SERVICES_HEALTH_HEALTH_SERVICE_H_
#define CS_SERVICES_HEALTH_HEALTH_SERVICE_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/db/idempotency.h"
#include "services/health/event.h"
#include "services/health/health.h"
#include "services/health/health_cache.h"
#include "services/health/health_repository.h"
#include "services/health/portfolio_tracker.h"
#include "services/health/regulated_index.h"

namespace cs::health {

// Signals, scorecards, scores and alerts: validation (errors name the field) and
// the rules; storage through the repository.
class HealthService {
 public:
  static constexpr int kMaxBatch = 1000;

  HealthService(HealthRepository* repository, const Clock* clock)
      : repository_(repository), clock_(clock) {}

  // Signals validated one by one: a bad one is rejected (dead-letter list) and the
  // rest land, unless `atomic`, when the first bad one is INVALID_ARGUMENT naming
  // it ("signals[3].occurred_at: ...") and nothing is written. record_json prints
  // signal i as received for the dead-letter list (may be empty).
  absl::StatusOr<IngestResult> RecordSignals(const db::WriteKey& key,
                                             const db::ResultCodec<IngestResult>& codec,
                                             std::vector<Signal> signals,
                                             const RecordPrinter& record_json, bool atomic);
  // Track events mapped to signals through the event map; an event without a
  // mapping is rejected with that reason.
  absl::StatusOr<IngestResult> TrackEvents(const db::WriteKey& key,
                                           const db::ResultCodec<IngestResult>& codec,
                                           const std::vector<TrackEvent>& events, bool atomic,
                                           const RecordPrinter& record_json = {});
  absl::StatusOr<EventMapping> SetEventMapping(const db::WriteKey& key,
                                               const db::ResultCodec<EventMapping>& codec,
                                               const EventMapping& mapping);
  absl::StatusOr<std::vector<EventMapping>> ListEventMappings();
  absl::StatusOr<RejectedPage> ListRejectedRecords(const RejectedQuery& query);

  absl::StatusOr<Scorecard> CreateScorecard(const db::WriteKey& key,
                                            const db::ResultCodec<Scorecard>& codec,
                                            Scorecard scorecard);
  absl::StatusOr<Scorecard> UpdateScorecard(const db::WriteKey& key,
                                            const db::ResultCodec<Scorecard>& codec,
                                            Scorecard scorecard);
  absl::StatusOr<Scorecard> GetScorecard(const std::string& scorecard_id, int version);
  absl::StatusOr<std::vector<Scorecard>> ListScorecards();

  // score_name empty means "health"; as_of: the score stored at that time.
  absl::StatusOr<HealthView> GetHealth(const std::string& account_id, std::string score_name,
                                       std::optional<absl::Time> as_of);
  // The same view, shared with this replica's cache when it came from there (the
  // GetHealth RPC reads it without copying it).
  absl::StatusOr<std::shared_ptr<const HealthView>> GetHealthShared(
      const std::string& account_id, std::string score_name, std::optional<absl::Time> as_of);
  // Default range: the 90 days up to today.
  absl::StatusOr<std::vector<HealthPoint>> GetHealthHistory(const std::string& account_id,
                                                            std::string score_name,
                                                            std::optional<absl::CivilDay> from,
                                                            std::optional<absl::CivilDay> to);
  absl::StatusOr<ExplainResult> ExplainChange(const std::string& account_id,
                                              std::string score_name, absl::Time from,
                                              std::optional<absl::Time> to);
  absl::StatusOr<AtRiskPage> ListAtRisk(AtRiskQuery query);
  // period_days 0 means 30.
  absl::StatusOr<PortfolioSummary> GetPortfolioSummary(std::string score_name, int period_days);

  absl::StatusOr<Override> SetOverride(const db::WriteKey& key,
                                       const db::ResultCodec<Override>& codec,
                                       Override override_value);
  absl::StatusOr<std::vector<Override>> ListOverrides(const std::string& account_id);

  absl::StatusOr<AlertPage> ListAlerts(const AlertQuery& query);
  absl::StatusOr<AlertSettings> GetAlertSettings();
  absl::StatusOr<AlertSettings> SetAlertSettings(const db::WriteKey& key,
                                                 const db::ResultCodec<AlertSettings>& codec,
                                                 const AlertSettings& settings);

  // One step of background rescoring (see HealthRepository::RunRescoreJobs).
  absl::StatusOr<int> RunRescoreJobs(int max_accounts);

  // Serves current GetHealth views from an in-process cache of up to `accounts`
  // accounts. The cache is consulted only while PollCacheInvalidations has
  // succeeded within kCacheTailStaleAfter, so a replica whose tail stalls (or whose
  // database is away) reads through instead of serving views that may be stale.
  // Call once, before serving.
  void EnableViewCache(size_t accounts);
  // Answers GetPortfolioSummary from in-memory indexes (PortfolioTracker) kept
  // current by the same event log tail, instead of aggregating every account.
  void EnablePortfolioIndex();
  // Answers RegulatedAccounts from an in-memory RegulatedIndex of every regulated
  // account, loaded and kept by PollCacheInvalidations (so only with the tail
  // running), instead of the view cache's per-account flags and the store.
  void EnableRegulatedIndex();
  // nullptr when not enabled.
  const RegulatedIndex* regulated_index() const { return regulated_.get(); }
  // nullptr when not enabled.
  PortfolioTracker* portfolio_tracker() { return portfolio_.get(); }
  // One step of the cache's tail of the shared event log and overrides: drops the
  // views that any replica's writes changed since the previous step. The server
  // runs it every ~150 ms; this replica's own writes also drop their views at once.
  absl::Status PollCacheInvalidations();
  // Drops the account's cached views (writes made outside this class, e.g. the
  // account service's, by this replica).
  void InvalidateCachedViews(const std::string& account_id);
  // Which of the accounts are in a regulated industry, for the audit of reads:
  // answered from the view cache while its tail is fresh, else from the store.
  absl::StatusOr<std::set<std::string>> RegulatedAccounts(
      const std::vector<std::string>& account_ids);
  // A read (ListEvents, WatchEvents) is about to carry the event. An
  // ACCOUNT_UPSERTED event past what this replica's tail has read (another replica's
  // write up to a tail step old, or this replica's own before its handler has dropped
  // the views) drops the account's views and flag, so the audit of that read asks
  // the store instead of judging the account by its flag from before the write.
  void EventAboutToBeRead(const Event& event);
  // nullptr when the cache is not enabled.
  const HealthViewCache* view_cache() const { return cache_.get(); }
  static constexpr absl::Duration kCacheTailStaleAfter = absl::Seconds(1);

  // Replays a scorecard on past days over the accounts whose outcome is known
  // (every day at least horizon_days back) and reports AUC, churn per band and the
  // lift of RED over GREEN, per day and over every day together.
  absl::StatusOr<BacktestResult> BacktestScorecard(const BacktestQuery& query);
  // Trains a churn model on the accounts known at the cutoff and stores it with its
  // holdout AUC. FAILED_PRECONDITION when too few accounts or only one outcome.
  absl::StatusOr<StoredChurnModel> TrainChurnModel(const db::WriteKey& key,
                                                   const db::ResultCodec<StoredChurnModel>& codec,
                                                   const TrainChurnRequest& request);
  // model_id 0: the newest. NOT_FOUND when there is none.
  absl::StatusOr<StoredChurnModel> GetChurnModel(int64_t model_id);

  static constexpr int kDefaultHorizonDays = 90;
  static constexpr int kMaxHorizonDays = 730;
  static constexpr int kDefaultLookbackDays = 90;
  static constexpr int kMaxLookbackDays = 365;
  static constexpr int kMaxBacktestDays = 12;

 private:
  absl::StatusOr<HealthView> ViewOf(StoredScore score, absl::Time at);
  // The churn probability from the newest model trained by `at`, with features as
  // of that day; nullopt when no model exists or the account has churned.
  absl::StatusOr<std::optional<double>> ChurnProbability(const std::string& account_id,
                                                         absl::Time at, bool current);
  absl::StatusOr<std::optional<double>> ChurnProbabilityWith(
      const std::optional<StoredChurnModel>& model, const std::string& account_id, absl::Time at);
  // The current view read from the store (no cache).
  absl::StatusOr<HealthView> LoadCurrentView(const std::string& account_id,
                                             const std::string& score_name, absl::Time now,
                                             const std::optional<StoredChurnModel>& model);
  bool CacheUsable();
  // The tail caught up within kCacheTailStaleAfter.
  bool TailFresh() const;
  // Stores the batch (or replays the stored answer) and drops the cached views of the
  // accounts it changed.
  absl::StatusOr<IngestResult> Ingest(const db::WriteKey& key,
                                      const db::ResultCodec<IngestResult>& codec,
                                      const IngestBatch& batch, absl::Time now);
  void InvalidateIngested(const IngestBatch& batch, const IngestResult& result);
  // The newest model, kept for kModelCacheTtl: GetHealth asks on every call, and a
  // model changes only when one is trained.
  absl::StatusOr<std::optional<StoredChurnModel>> CurrentChurnModel(absl::Time now);
  static constexpr absl::Duration kModelCacheTtl = absl::Seconds(5);

  HealthRepository* repository_;
  const Clock* clock_;
  std::mutex model_mu_;
  std::optional<StoredChurnModel> current_model_;
  std::optional<absl::Time> model_loaded_at_;

  std::unique_ptr<HealthViewCache> cache_;
  std::unique_ptr<PortfolioTracker> portfolio_;
  std::unique_ptr<RegulatedIndex> regulated_;
  std::mutex tail_mu_;  // one tail step at a time (the tail thread, the rescore worker)
  HealthRepository::ChangeCursor tail_cursor_;
  // When the tail last caught up; the cache serves only while this is recent.
  std::atomic<int64_t> tail_ok_at_ns_{0};
  // The last event sequence a successful tail step has applied (-1: none yet).
  std::atomic<int64_t> tail_sequence_{-1};
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_HEALTH_SERVICE_H_
