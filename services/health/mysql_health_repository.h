#ifndef CS_SERVICES_HEALTH_MYSQL_HEALTH_REPOSITORY_H_
#define CS_SERVICES_HEALTH_MYSQL_HEALTH_REPOSITORY_H_

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/db/pool.h"
#include "services/health/health_repository.h"

namespace cs::health {

class MySqlHealthRepository final : public HealthRepository {
 public:
  MySqlHealthRepository(db::Pool* pool, const Clock* clock, HealthEventEncoders encoders)
      : pool_(pool), clock_(clock), encoders_(std::move(encoders)) {}

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

 private:
  // The current version of every scorecard; definitions are immutable per
  // version, so they are cached by (id, version).
  absl::StatusOr<std::vector<Scorecard>> CurrentScorecards(db::Connection& conn);
  // Rescores each account inside the caller's transaction and appends the events.
  absl::Status RescoreInTransaction(db::Connection& conn, const std::vector<std::string>& ids,
                                    absl::Time now);
  // Appends one EXPANSION_SIGNAL event per signal (grouped by account) with the
  // account's health standing as the caller's transaction now sees it.
  absl::Status PublishExpansionSignals(db::Connection& conn,
                                       const std::vector<const Signal*>& signals, absl::Time now);

  db::Pool* pool_;
  const Clock* clock_;
  HealthEventEncoders encoders_;
  std::mutex cache_mu_;
  std::map<std::pair<std::string, int>, Scorecard> scorecard_cache_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_MYSQL_HEALTH_REPOSITORY_H_
