#ifndef CS_SERVICES_HEALTH_HEALTH_REPOSITORY_H_
#define CS_SERVICES_HEALTH_HEALTH_REPOSITORY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/idempotency.h"
#include "services/health/first_value_store.h"
#include "services/health/health.h"
#include "services/health/portfolio_index.h"

namespace cs::health {

// How score and alert events are serialized into the event log (the handler
// layer's wire form; this layer keeps them opaque).
struct HealthEventEncoders {
  std::function<std::string(const ScoreChange&)> score_change;
  std::function<std::string(const Alert&)> alert;
  std::function<std::string(const ExpansionSignalEvent&)> expansion_signal;
  FirstValueEncoders first_value;
};


// Storage of signals, scorecards, scores, alerts and overrides. Every write that
// changes a score publishes its events in the same transaction.
class HealthRepository {
 public:
  virtual ~HealthRepository() = default;

  // Stores the accepted signals (a known event_id is a duplicate), the rejected
  // records in the dead-letter list, rescores the accounts that got signals and
  // publishes an EXPANSION_SIGNAL event per accepted expansion-interest signal,
  // all in one transaction. With batch.atomic, an unknown account is NOT_FOUND and
  // nothing is written.
  virtual absl::StatusOr<IngestResult> Ingest(const db::WriteKey& key,
                                              const db::ResultCodec<IngestResult>& codec,
                                              const IngestBatch& batch, absl::Time now) = 0;

  virtual absl::StatusOr<EventMapping> SetEventMapping(const db::WriteKey& key,
                                                       const db::ResultCodec<EventMapping>& codec,
                                                       const EventMapping& mapping,
                                                       absl::Time now) = 0;
  virtual absl::StatusOr<std::vector<EventMapping>> ListEventMappings() = 0;
  virtual absl::StatusOr<RejectedPage> ListRejected(const RejectedQuery& query) = 0;

  // ALREADY_EXISTS when the id is taken. The new scorecard gets version 1.
  virtual absl::StatusOr<Scorecard> CreateScorecard(const db::WriteKey& key,
                                                    const db::ResultCodec<Scorecard>& codec,
                                                    const Scorecard& scorecard,
                                                    absl::Time now) = 0;
  // scorecard.version must be the current one (ABORTED otherwise); stores
  // version + 1 and queues a rescore of every account.
  virtual absl::StatusOr<Scorecard> UpdateScorecard(const db::WriteKey& key,
                                                    const db::ResultCodec<Scorecard>& codec,
                                                    const Scorecard& scorecard,
                                                    absl::Time now) = 0;
  // version 0: the current one.
  virtual absl::StatusOr<Scorecard> GetScorecard(const std::string& scorecard_id,
                                                 int version) = 0;
  virtual absl::StatusOr<std::vector<Scorecard>> ListScorecards() = 0;
  // Creates DOMAIN's default scorecard when no scorecard exists (safe on replicas).
  virtual absl::Status EnsureDefaultScorecard(absl::Time now) = 0;

  // The current stored score; NOT_FOUND when the account has none under that name.
  virtual absl::StatusOr<StoredScore> GetScore(const std::string& account_id,
                                               const std::string& score_name) = 0;
  // The score as stored at `at` (the newest change at or before it).
  virtual absl::StatusOr<StoredScore> GetScoreAsOf(const std::string& account_id,
                                                   const std::string& score_name,
                                                   absl::Time at) = 0;
  // Daily points from..to inclusive, oldest first.
  virtual absl::StatusOr<std::vector<HealthPoint>> History(const std::string& account_id,
                                                           const std::string& score_name,
                                                           absl::CivilDay from,
                                                           absl::CivilDay to) = 0;
  // For each of `days`, the newest daily point on or before it (one round trip).
  virtual absl::StatusOr<std::vector<std::optional<HealthPoint>>> PointsOnOrBefore(
      const std::string& account_id, const std::string& score_name,
      const std::vector<absl::CivilDay>& days) = 0;
  // Alerts that were open at `at`.
  virtual absl::StatusOr<std::vector<Alert>> OpenAlerts(const std::string& account_id,
                                                        absl::Time at) = 0;
  virtual absl::StatusOr<AlertPage> ListAlerts(const AlertQuery& query) = 0;
  // Signals that occurred from `from` to `to` (both included), counted by kind.
  virtual absl::StatusOr<std::vector<std::pair<SignalKind, int64_t>>> CountSignals(
      const std::string& account_id, absl::Time from, absl::Time to) = 0;

  virtual absl::StatusOr<AtRiskPage> ListAtRisk(const AtRiskQuery& query) = 0;
  virtual absl::StatusOr<PortfolioSummary> Portfolio(const std::string& score_name,
                                                     absl::Time period_start) = 0;
  // What the in-memory portfolio (PortfolioIndex) is built and refreshed from, for
  // one score name; `account_ids` null means every account.
  // Accounts with their current score of that name; an asked-for account that does
  // not exist is simply not reported. `fn` returning false ends a scan early, which
  // then returns CANCELLED (a build at start-up stopped by shutdown).
  virtual absl::Status ScanPortfolioAccounts(
      const std::string& score_name, const std::vector<std::string>* account_ids,
      const std::function<bool(PortfolioAccount&&)>& fn) {
    (void)score_name, (void)account_ids, (void)fn;
    return absl::UnimplementedError("this repository has no portfolio scan");
  }
  // score_history rows computed at or after `from_us` and, when `with_earlier`, each
  // account's newest row before it.
  virtual absl::Status ScanBandPoints(const std::string& score_name,
                                      const std::vector<std::string>* account_ids,
                                      int64_t from_us, bool with_earlier,
                                      const std::function<bool(BandPoint&&)>& fn) {
    (void)score_name, (void)account_ids, (void)from_us, (void)with_earlier, (void)fn;
    return absl::UnimplementedError("this repository has no portfolio scan");
  }
  // (id, account) of score_history rows of the score name with id > after_id, in id
  // order, at most `limit`; and the highest id of the table.
  struct HistoryTail {
    std::vector<std::pair<int64_t, std::string>> rows;
    int64_t max_id = 0;
  };
  virtual absl::StatusOr<HistoryTail> ScoreHistoryAfter(const std::string& score_name,
                                                        int64_t after_id, int limit) {
    (void)score_name, (void)after_id, (void)limit;
    return absl::UnimplementedError("this repository has no portfolio scan");
  }

  // NOT_FOUND for an unknown account.
  virtual absl::StatusOr<Override> AddOverride(const db::WriteKey& key,
                                               const db::ResultCodec<Override>& codec,
                                               const Override& override_value) = 0;
  // The newest override of the score that is active at `at`.
  virtual absl::StatusOr<std::optional<Override>> ActiveOverride(const std::string& account_id,
                                                                 const std::string& score_name,
                                                                 absl::Time at) = 0;
  virtual absl::StatusOr<std::vector<Override>> ListOverrides(const std::string& account_id) = 0;

  virtual absl::StatusOr<AlertSettings> GetAlertSettings() = 0;
  virtual absl::StatusOr<AlertSettings> SetAlertSettings(
      const db::WriteKey& key, const db::ResultCodec<AlertSettings>& codec,
      const AlertSettings& settings, absl::Time now) = 0;

  // Background rescoring, shared by replicas through row locks: makes sure today's
  // daily job exists, then rescores up to `max_accounts` accounts of one pending
  // job (daily or scorecard change) in one transaction. Returns how many accounts
  // it rescored (0: nothing to do or every job is taken by another replica).
  virtual absl::StatusOr<int> RunRescoreJobs(absl::Time now, int max_accounts) = 0;

  // Every account in account_id order, with its daily counters from..to and its
  // first signal day, a batch at a time (no connection is held while `visit`
  // runs). Stops at the first error `visit` returns.
  virtual absl::Status ForEachAccountHistory(
      absl::CivilDay from, absl::CivilDay to,
      const std::function<absl::Status(const AccountHistory&)>& visit) = 0;
  // One account's history; NOT_FOUND for an unknown account.
  virtual absl::StatusOr<AccountHistory> AccountHistoryOf(const std::string& account_id,
                                                          absl::CivilDay from,
                                                          absl::CivilDay to) = 0;

  // The answer stored for a TrainChurnModel key, if any: a retry is answered
  // before the (costly) training runs again.
  virtual absl::StatusOr<std::optional<StoredChurnModel>> StoredTrainAnswer(
      const db::WriteKey& key, const db::ResultCodec<StoredChurnModel>& codec) = 0;
  // Stores a trained model (model_id assigned), at most once per write key.
  virtual absl::StatusOr<StoredChurnModel> StoreChurnModel(
      const db::WriteKey& key, const db::ResultCodec<StoredChurnModel>& codec,
      const StoredChurnModel& model) = 0;
  // model_id 0: the newest model trained at or before `at`. nullopt when none.
  virtual absl::StatusOr<std::optional<StoredChurnModel>> FindChurnModel(int64_t model_id,
                                                                         absl::Time at) = 0;

  // Accounts whose current health view any replica changed since `cursor` (the
  // subjects of event-log events, the accounts of new overrides), for the view
  // cache's tail. The first call (a default cursor) only positions the cursor at
  // the current end. `everything` when more than `limit` changes came in: the
  // caller then drops every cached view.
  struct ChangeCursor {
    int64_t event_sequence = -1;
    int64_t override_id = -1;
    // Override ids seen near the end: ids are assigned before commit, so a slow
    // transaction's row may appear behind a newer one; the tail re-reads a short
    // window and skips these.
    std::set<int64_t> recent_overrides;
  };
  struct Changes {
    std::vector<std::string> accounts;
    // Of those, the accounts whose record was written (ACCOUNT_UPSERTED): the only
    // events that can change an account's industry.
    std::vector<std::string> records;
    bool everything = false;
  };
  virtual absl::StatusOr<Changes> ChangedAccounts(ChangeCursor& cursor, int limit) {
    (void)cursor;
    (void)limit;
    return absl::UnimplementedError("this repository has no change feed");
  }
  // Which of the accounts are in a regulated industry (DOMAIN §5).
  virtual absl::StatusOr<std::set<std::string>> RegulatedAccountsIn(
      const std::vector<std::string>& account_ids) = 0;
  // Every account in a regulated industry, in one read.
  virtual absl::Status ForEachRegulatedAccount(
      const std::function<void(const std::string&)>& fn) {
    (void)fn;
    return absl::UnimplementedError("this repository cannot list regulated accounts");
  }
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_HEALTH_REPOSITORY_H_
