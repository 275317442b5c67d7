#ifndef CS_SERVICES_HEALTH_MYSQL_HEALTH_REPOSITORY_H_
#define CS_SERVICES_HEALTH_MYSQL_HEALTH_REPOSITORY_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/db/pool.h"
#include "services/health/packed_rows.h"
#include "services/health/health_repository.h"
#include "services/health/signal_key_cache.h"

namespace cs::health {

// Where a multi-row INSERT's alert ids come from:
// - kReturning: INSERT ... RETURNING alert_id (MariaDB 10.5 and later), no extra read;
// - kConsecutive: innodb_autoinc_lock_mode 0 or 1 makes the rows' AUTO_INCREMENT
//   values consecutive, auto_increment_increment apart, from LAST_INSERT_ID(): one
//   small read per statement;
// - kReadBack: otherwise (mode 2, interleaved, as on Galera) they are read back by
//   key, since an account has at most one open alert per kind (alerts_one_open).
enum class AlertIds { kReturning = 0, kConsecutive = 1, kReadBack = 2 };

class MySqlHealthRepository final : public HealthRepository {
 public:
  MySqlHealthRepository(db::Pool* pool, const Clock* clock, HealthEventEncoders encoders)
      : pool_(pool), clock_(clock), encoders_(std::move(encoders)) {}

  // Group commit of concurrent Ingest calls: while one group's transaction runs,
  // the calls that arrive queue up and then run together as the next one (signals,
  // counters and the rescore of every account they touch, each call's stored
  // answer, one commit), up to `signals` signals per group. 0 (the default): every
  // call runs in a transaction of its own. `linger`: how long a group's leader
  // waits for more calls before starting (0: not at all; the queue fills while
  // the previous group runs). Call before serving.
  // `groups`: how many groups may run at once (each on its own connection); a
  // group that shares accounts or months with one running waits for their rows.
  void SetIngestGroupCommit(int signals, absl::Duration linger = absl::ZeroDuration(),
                            int groups = 1) {
    max_group_signals_ = signals;
    group_linger_ = linger;
    max_groups_ = groups < 1 ? 1 : groups;
  }
  // How much memory (estimated) the stored signal keys kept between ingest
  // transactions may take (SignalKeyCache). Call before serving.
  void SetSignalKeyCacheBytes(size_t bytes) {
    key_cache_ = std::make_unique<SignalKeyCache>(bytes);
  }
  SignalKeyCache::Stats signal_key_cache_stats() { return key_cache_->stats(); }

  struct GroupStats {
    int64_t groups = 0;    // transactions run for queued calls
    int64_t requests = 0;  // calls they carried
    int64_t alone = 0;     // calls run again on their own after their group failed
    int64_t queued = 0;    // calls in the queue now (a lingering leader's among them)
  };
  GroupStats group_stats() {
    std::lock_guard<std::mutex> lock(ingest_mu_);
    GroupStats out = group_stats_;
    out.queued = static_cast<int64_t>(ingest_queue_.size());
    return out;
  }

  absl::StatusOr<IngestResult> Ingest(const db::WriteKey& key,
                                      const db::ResultCodec<IngestResult>& codec,
                                      const IngestBatch& batch, absl::Time now) override;
  absl::StatusOr<EventMapping> SetEventMapping(const db::WriteKey& key,
                                               const db::ResultCodec<EventMapping>& codec,
                                               const EventMapping& mapping,
                                               absl::Time now) override;
  absl::StatusOr<std::vector<EventMapping>> ListEventMappings() override;
  absl::StatusOr<RejectedPage> ListRejected(const RejectedQuery& query) override;
  absl::StatusOr<Scorecard> CreateScorecard(const db::WriteKey& key,
                                            const db::ResultCodec<Scorecard>& codec,
                                            const Scorecard& scorecard, absl::Time now) override;
  absl::StatusOr<Scorecard> UpdateScorecard(const db::WriteKey& key,
                                            const db::ResultCodec<Scorecard>& codec,
                                            const Scorecard& scorecard, absl::Time now) override;
  absl::StatusOr<Scorecard> GetScorecard(const std::string& scorecard_id, int version) override;
  absl::StatusOr<std::vector<Scorecard>> ListScorecards() override;
  absl::Status EnsureDefaultScorecard(absl::Time now) override;
  absl::StatusOr<StoredScore> GetScore(const std::string& account_id,
                                       const std::string& score_name) override;
  absl::StatusOr<StoredScore> GetScoreAsOf(const std::string& account_id,
                                           const std::string& score_name, absl::Time at) override;
  absl::StatusOr<std::vector<HealthPoint>> History(const std::string& account_id,
                                                   const std::string& score_name,
                                                   absl::CivilDay from, absl::CivilDay to) override;
  absl::StatusOr<std::vector<std::optional<HealthPoint>>> PointsOnOrBefore(
      const std::string& account_id, const std::string& score_name,
      const std::vector<absl::CivilDay>& days) override;
  absl::StatusOr<std::vector<Alert>> OpenAlerts(const std::string& account_id,
                                                absl::Time at) override;
  absl::StatusOr<AlertPage> ListAlerts(const AlertQuery& query) override;
  absl::StatusOr<std::vector<std::pair<SignalKind, int64_t>>> CountSignals(
      const std::string& account_id, absl::Time from, absl::Time to) override;
  absl::StatusOr<AtRiskPage> ListAtRisk(const AtRiskQuery& query) override;
  absl::StatusOr<PortfolioSummary> Portfolio(const std::string& score_name,
                                             absl::Time period_start) override;
  absl::Status ScanPortfolioAccounts(const std::string& score_name,
                                     const std::vector<std::string>* account_ids,
                                     const std::function<bool(PortfolioAccount&&)>& fn) override;
  absl::Status ScanBandPoints(const std::string& score_name,
                              const std::vector<std::string>* account_ids, int64_t from_us,
                              bool with_earlier,
                              const std::function<bool(BandPoint&&)>& fn) override;
  absl::StatusOr<HistoryTail> ScoreHistoryAfter(const std::string& score_name, int64_t after_id,
                                                int limit) override;
  absl::StatusOr<Override> AddOverride(const db::WriteKey& key,
                                       const db::ResultCodec<Override>& codec,
                                       const Override& override_value) override;
  absl::StatusOr<std::optional<Override>> ActiveOverride(const std::string& account_id,
                                                         const std::string& score_name,
                                                         absl::Time at) override;
  absl::StatusOr<std::vector<Override>> ListOverrides(const std::string& account_id) override;
  absl::StatusOr<AlertSettings> GetAlertSettings() override;
  absl::StatusOr<AlertSettings> SetAlertSettings(const db::WriteKey& key,
                                                 const db::ResultCodec<AlertSettings>& codec,
                                                 const AlertSettings& settings,
                                                 absl::Time now) override;
  // Jobs are worked in slices of up to max_accounts (migration 007): each call works
  // one open slice, or cuts the next one.
  absl::StatusOr<int> RunRescoreJobs(absl::Time now, int max_accounts) override;
  absl::Status ForEachAccountHistory(
      absl::CivilDay from, absl::CivilDay to,
      const std::function<absl::Status(const AccountHistory&)>& visit) override;
  absl::StatusOr<AccountHistory> AccountHistoryOf(const std::string& account_id,
                                                  absl::CivilDay from, absl::CivilDay to) override;
  absl::StatusOr<std::optional<StoredChurnModel>> StoredTrainAnswer(
      const db::WriteKey& key, const db::ResultCodec<StoredChurnModel>& codec) override;
  absl::StatusOr<StoredChurnModel> StoreChurnModel(const db::WriteKey& key,
                                                   const db::ResultCodec<StoredChurnModel>& codec,
                                                   const StoredChurnModel& model) override;
  absl::StatusOr<std::optional<StoredChurnModel>> FindChurnModel(int64_t model_id,
                                                                 absl::Time at) override;
  absl::StatusOr<Changes> ChangedAccounts(ChangeCursor& cursor, int limit) override;
  absl::Status ForEachRegulatedAccount(
      const std::function<void(const std::string&)>& fn) override;
  absl::StatusOr<std::set<std::string>> RegulatedAccountsIn(
      const std::vector<std::string>& account_ids) override;

 private:
  // The current version of every scorecard; definitions are immutable per
  // version, so they are cached by (id, version).
  absl::StatusOr<std::vector<Scorecard>> CurrentScorecards(db::Connection& conn);
  struct StagedIngest;
  struct PendingIngest;
  struct KeyView;
  // What staging a request needs that does not depend on the database, worked out in
  // the request's own thread before it queues: one group's transaction runs at a
  // time, and whatever it need not do is time every request in the group saves.
  struct PreparedBatch {
    struct Item {
      const IngestRecord* record = nullptr;
      bool repeated = false;  // its key came earlier in the batch: a duplicate
      absl::CivilDay day;     // of occurred_at
      absl::string_view line; // its signal_log line, in `lines`
    };
    std::vector<Item> items;            // every record, accounts in id order (stable)
    // The items' signal_log lines one after another: one buffer for the batch, where
    // it stays when the batch moves.
    std::unique_ptr<std::string> lines = std::make_unique<std::string>();
    std::vector<std::string> accounts;  // of the records with a signal, distinct, in order
    // The month of every record with a signal that is not repeated.
    std::set<SignalKeyCache::Key> months;
  };
  static PreparedBatch PrepareBatch(const IngestBatch& batch);
  // The writes of one request before the rescore: acks, rejected records, signals;
  // its counter increments are returned for the group to add. A request-level
  // failure (atomic batch, unknown account) writes nothing. `keys`: the stored keys
  // of the months the transaction has locked so far, and those it adds. `existing`:
  // which of the batch's accounts exist, when the caller has read that already.
  absl::StatusOr<StagedIngest> StageIngest(db::Connection& conn, KeyView& keys,
                                           const IngestBatch& batch,
                                           const PreparedBatch& prepared, absl::Time now,
                                           const std::set<std::string>* existing = nullptr);
  // Locks the month rows of `months` that `keys` does not hold yet (in key order)
  // and learns their stored keys: from the cache, from the log rows the cache has
  // not seen, or the whole month's log.
  absl::Status LockKeyMonths(db::Connection& conn, KeyView& keys,
                             const std::set<SignalKeyCache::Key>& months);
  // After the transaction committed: the keys it stored join the cache.
  void KeepStoredKeys(KeyView& keys);
  // What follows the staging of one call or a group's calls, in one pass over all
  // of them: the signal log, the counters, the rescore of every touched account,
  // then the events that carry the new score (expansion signals) and first values.
  absl::Status CommitStaged(db::Connection& conn, KeyView& keys,
                            const std::vector<const StagedIngest*>& staged, absl::Time now);
  // One request, one transaction (`prepared`: PrepareBatch(batch), when done already).
  absl::StatusOr<IngestResult> IngestAlone(const db::WriteKey& key,
                                           const db::ResultCodec<IngestResult>& codec,
                                           const IngestBatch& batch, absl::Time now,
                                           const PreparedBatch* prepared = nullptr);
  void RunIngestGroup(const std::vector<PendingIngest*>& group);
  // Writes an ingest's accepted signals to signal_log.
  void AppendSignalLog(db::Connection& conn, KeyView& keys,
                       const std::vector<const PreparedBatch::Item*>& signals, absl::Time now);
  // Adds an ingest's counter increments into the packed month rows it has locked.
  static absl::Status AddCounters(db::Connection& conn, KeyView& keys,
                                  const CounterAdditions& increments);

  // Rescores an open slice in its own transaction; nullopt when none is free.
  absl::StatusOr<std::optional<int>> WorkOpenSlice(absl::Time now);
  // Moves the oldest unfinished job's cursor past the next max_accounts accounts
  // and records them as an open slice.
  absl::StatusOr<int> CutSlice(absl::Time now, int max_accounts);
  // Finishes the job (and forgets its slices) once all are cut and done.
  absl::Status FinishJobIfDone(db::Connection& conn, int64_t job_id, absl::Time now);
  // How this server gives opened alerts' ids, asked once.
  AlertIds AlertIdsFrom(db::Connection& conn);
 public:
  // Opened alerts' ids as `ids` says, whatever the server would allow (tests).
  void UseAlertIds(AlertIds ids) { alert_ids_.store(static_cast<int>(ids)); }

 private:
  // How RescoreInTransaction's ids were chosen, and so how its rounds read them.
  enum class RescoreIds {
    // Any accounts (an ingest's): each round names its ids in IN lists.
    kListed,
    // Every account in a key range, as one read found them (a job's slice): each
    // round's unlocked reads take its first to last id as one key range, with no
    // optimizer work per id, and drop rows of accounts made since.
    kKeyRange,
  };
  // Rescores each account inside the caller's transaction and appends the events.
  absl::Status RescoreInTransaction(db::Connection& conn, const std::vector<std::string>& ids,
                                    absl::Time now, RescoreIds how = RescoreIds::kListed);
  // Appends one EXPANSION_SIGNAL event per signal (grouped by account) with the
  // account's health standing as the caller's transaction now sees it.
  absl::Status PublishExpansionSignals(db::Connection& conn,
                                       const std::vector<const Signal*>& signals, absl::Time now);

  db::Pool* pool_;
  const Clock* clock_;
  HealthEventEncoders encoders_;
  int max_group_signals_ = 0;
  std::unique_ptr<SignalKeyCache> key_cache_ = std::make_unique<SignalKeyCache>(256u << 20);
  // signal_log.seq of the rows this process appends: random per process, so
  // replicas do not share values.
  std::atomic<uint64_t> next_ingest_group_{std::random_device{}() | (uint64_t{std::random_device{}()} << 32) | 1};
  absl::Duration group_linger_;
  size_t queued_signals_ = 0;
  GroupStats group_stats_;
  // -1 until AlertIdsFrom has asked the server, then an AlertIds.
  std::atomic<int> alert_ids_{-1};
  // The day (days since 1970-01-01) whose DAILY rescore job this replica has made or
  // found: each RunRescoreJobs call asked for it again, and the INSERT IGNORE's
  // lock on the job row waited on the other worker's count of its slice.
  std::atomic<int64_t> daily_job_day_{-1};
  std::mutex ingest_mu_;
  std::condition_variable ingest_cv_;
  std::deque<PendingIngest*> ingest_queue_;
  int max_groups_ = 1;
  int running_groups_ = 0;
  std::mutex cache_mu_;
  std::map<std::pair<std::string, int>, Scorecard> scorecard_cache_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_MYSQL_HEALTH_REPOSITORY_H_
