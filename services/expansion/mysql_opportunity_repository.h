#ifndef CS_SERVICES_EXPANSION_MYSQL_OPPORTUNITY_REPOSITORY_H_
#define CS_SERVICES_EXPANSION_MYSQL_OPPORTUNITY_REPOSITORY_H_

#include "common/clock.h"
#include "common/db/pool.h"
#include "services/expansion/opportunity_repository.h"

namespace cs::expansion {

class MySqlOpportunityRepository final : public OpportunityRepository {
 public:
  MySqlOpportunityRepository(db::Pool* pool, const Clock* clock) : pool_(pool), clock_(clock) {}

  absl::StatusOr<Opportunity> Create(const db::WriteKey& key,
                                     const db::ResultCodec<Opportunity>& codec,
                                     const Opportunity& opportunity, absl::Time now) override;
  absl::StatusOr<Opportunity> Get(int64_t opportunity_id) override;
  absl::StatusOr<OpportunityPage> List(const OpportunityFilter& filter, int64_t after_id,
                                       int page_size) override;
  absl::StatusOr<Opportunity> Update(const db::WriteKey& key,
                                     const db::ResultCodec<Opportunity>& codec,
                                     int64_t opportunity_id, const std::string& etag,
                                     const std::function<absl::Status(Opportunity&)>& apply,
                                     absl::Time now) override;
  absl::StatusOr<std::optional<AdvanceResult>> FindStoredAdvance(
      const db::WriteKey& key, const db::ResultCodec<AdvanceResult>& codec) override;
  absl::StatusOr<AdvanceResult> Advance(const db::WriteKey& key,
                                        const db::ResultCodec<AdvanceResult>& codec,
                                        const StageMove& move, absl::Time now) override;
  absl::StatusOr<StageProbabilities> GetProbabilities() override;
  absl::StatusOr<StageProbabilities> SetProbabilities(
      const db::WriteKey& key, const db::ResultCodec<StageProbabilities>& codec,
      const std::map<Stage, int>& changes) override;
  absl::StatusOr<AccountProfile> UpsertProfile(const db::WriteKey& key,
                                               const db::ResultCodec<AccountProfile>& codec,
                                               const AccountProfile& profile,
                                               absl::Time now) override;
  absl::StatusOr<AccountProfile> GetProfile(const std::string& account_id) override;
  absl::StatusOr<std::map<OpportunityKind, int64_t>> OpenKinds(
      const std::string& account_id) override;
  absl::StatusOr<std::vector<Opportunity>> ListOpen(const std::string& currency,
                                                    const std::string& owner_id,
                                                    Tier tier) override;
  absl::StatusOr<PipelineReport> SummarizeOpen(const std::string& currency,
                                               const std::string& owner_id, Tier tier) override;
  absl::StatusOr<std::vector<ClosedOpportunity>> ListClosed(const std::string& currency, Tier tier,
                                                            absl::Time from,
                                                            absl::Time to) override;
  absl::StatusOr<std::map<Quarter, int64_t>> WonByQuarter(
      const std::string& currency, const std::vector<Quarter>& quarters) override;
  absl::StatusOr<ForecastSnapshot> SaveSnapshot(const db::WriteKey& key,
                                                const db::ResultCodec<ForecastSnapshot>& codec,
                                                const ForecastSnapshot& snapshot) override;
  absl::StatusOr<bool> TakeScheduledSnapshot(
      absl::CivilDay slot, const std::string& currency,
      const std::function<absl::StatusOr<ForecastSnapshot>()>& compute) override;
  absl::StatusOr<ForecastSnapshot> GetSnapshot(int64_t snapshot_id) override;
  absl::StatusOr<SnapshotPage> ListSnapshots(int64_t after_id, int page_size) override;

 private:
  db::Pool* pool_;
  const Clock* clock_;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_MYSQL_OPPORTUNITY_REPOSITORY_H_
