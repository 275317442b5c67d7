#ifndef CS_SERVICES_EXPANSION_OPPORTUNITY_REPOSITORY_H_
#define CS_SERVICES_EXPANSION_OPPORTUNITY_REPOSITORY_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/db/idempotency.h"
#include "common/status.h"
#include "services/expansion/metrics.h"
#include "services/expansion/opportunity.h"
#include "services/expansion/revenue.h"

namespace cs::expansion {

// One stage move, decided by the service (legality, health) against the stage it
// read; the repository applies it only if the opportunity is still in that stage.
struct StageMove {
  int64_t opportunity_id = 0;
  Stage expected_from = Stage::kUnspecified;
  Stage to = Stage::kUnspecified;
  std::string etag;  // empty: not checked
  std::string loss_reason;
  std::string health_override_reason;
  std::string actor_id;
  HealthBand health_band = HealthBand::kUnspecified;
};

struct AdvanceResult {
  Opportunity opportunity;
  std::optional<RevenueMovement> movement;  // posted by CLOSED_WON
};

struct ForecastSnapshot {
  int64_t snapshot_id = 0;
  absl::Time taken_at;
  std::string currency;
  bool scheduled = false;
  std::map<Quarter, AmountPair> by_quarter;
};

struct SnapshotPage {
  std::vector<ForecastSnapshot> snapshots;
  int64_t next_after_id = 0;
};

class OpportunityRepository {
 public:
  virtual ~OpportunityRepository() = default;

  // Inserts in stage IDENTIFIED with the stage's default probability when none was
  // given and the profile's tier when none was given, and records the first stage
  // change. FAILED_PRECONDITION when the account's ledger uses another currency.
  virtual absl::StatusOr<Opportunity> Create(const db::WriteKey& key,
                                             const db::ResultCodec<Opportunity>& codec,
                                             const Opportunity& opportunity, absl::Time now) = 0;
  // With its history. NOT_FOUND when unknown.
  virtual absl::StatusOr<Opportunity> Get(int64_t opportunity_id) = 0;
  // Without history, in id order, ids above after_id.
  virtual absl::StatusOr<OpportunityPage> List(const OpportunityFilter& filter, int64_t after_id,
                                               int page_size) = 0;
  // Locks the opportunity, checks the etag (ABORTED when stale), lets `apply` change
  // it (an error from it rolls back) and stores it with a new etag.
  virtual absl::StatusOr<Opportunity> Update(const db::WriteKey& key,
                                             const db::ResultCodec<Opportunity>& codec,
                                             int64_t opportunity_id, const std::string& etag,
                                             const std::function<absl::Status(Opportunity&)>& apply,
                                             absl::Time now) = 0;
  // The stored answer of an earlier AdvanceStage with this key, if any; read before
  // health is asked so that a retry replays instead of asking again.
  virtual absl::StatusOr<std::optional<AdvanceResult>> FindStoredAdvance(
      const db::WriteKey& key, const db::ResultCodec<AdvanceResult>& codec) = 0;
  // Applies a move: ABORTED when the opportunity left move.expected_from meanwhile
  // or the etag is stale; CLOSED_WON posts the EXPANSION movement in the same commit.
  virtual absl::StatusOr<AdvanceResult> Advance(const db::WriteKey& key,
                                                const db::ResultCodec<AdvanceResult>& codec,
                                                const StageMove& move, absl::Time now) = 0;

  virtual absl::StatusOr<StageProbabilities> GetProbabilities() = 0;
  // Sets the given stages (others keep their value) and returns the whole table.
  virtual absl::StatusOr<StageProbabilities> SetProbabilities(
      const db::WriteKey& key, const db::ResultCodec<StageProbabilities>& codec,
      const std::map<Stage, int>& changes) = 0;

  virtual absl::StatusOr<AccountProfile> UpsertProfile(const db::WriteKey& key,
                                                       const db::ResultCodec<AccountProfile>& codec,
                                                       const AccountProfile& profile,
                                                       absl::Time now) = 0;
  // NOT_FOUND when none was recorded.
  virtual absl::StatusOr<AccountProfile> GetProfile(const std::string& account_id) = 0;
  // Kind -> the lowest id of an open opportunity of that kind for the account.
  virtual absl::StatusOr<std::map<OpportunityKind, int64_t>> OpenKinds(
      const std::string& account_id) = 0;

  // Open opportunities in `currency` (optionally of one owner / tier).
  virtual absl::StatusOr<std::vector<Opportunity>> ListOpen(const std::string& currency,
                                                            const std::string& owner_id,
                                                            Tier tier) = 0;
  // What ComputePipeline gives over ListOpen(currency, owner_id, tier); a database
  // sums in place of reading every open opportunity.
  virtual absl::StatusOr<PipelineReport> SummarizeOpen(const std::string& currency,
                                                       const std::string& owner_id, Tier tier) {
    ASSIGN_OR_RETURN(std::vector<Opportunity> open, ListOpen(currency, owner_id, tier));
    return ComputePipeline(open);
  }
  // Opportunities closed in [from, to) in `currency` (optionally of one tier).
  virtual absl::StatusOr<std::vector<ClosedOpportunity>> ListClosed(const std::string& currency,
                                                                    Tier tier, absl::Time from,
                                                                    absl::Time to) = 0;
  // Amount won per quarter of closed_at, for the quarters asked.
  virtual absl::StatusOr<std::map<Quarter, int64_t>> WonByQuarter(
      const std::string& currency, const std::vector<Quarter>& quarters) = 0;

  // Stores a snapshot (idempotent by key).
  virtual absl::StatusOr<ForecastSnapshot> SaveSnapshot(
      const db::WriteKey& key, const db::ResultCodec<ForecastSnapshot>& codec,
      const ForecastSnapshot& snapshot) = 0;
  // The scheduled snapshot of `slot`: the replica that claims the slot's row (FOR
  // UPDATE SKIP LOCKED) computes it with `compute` and stores it in the same
  // transaction; others skip. Returns true when this call took it.
  virtual absl::StatusOr<bool> TakeScheduledSnapshot(
      absl::CivilDay slot, const std::string& currency,
      const std::function<absl::StatusOr<ForecastSnapshot>()>& compute) = 0;
  virtual absl::StatusOr<ForecastSnapshot> GetSnapshot(int64_t snapshot_id) = 0;
  virtual absl::StatusOr<SnapshotPage> ListSnapshots(int64_t after_id, int page_size) = 0;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_OPPORTUNITY_REPOSITORY_H_
