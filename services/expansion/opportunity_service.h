#ifndef CS_SERVICES_EXPANSION_OPPORTUNITY_SERVICE_H_
#define CS_SERVICES_EXPANSION_OPPORTUNITY_SERVICE_H_

#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "services/expansion/health_client.h"
#include "services/expansion/metrics.h"
#include "services/expansion/opportunity_repository.h"

namespace cs::expansion {

// Expected close of an opportunity created without one: days after creation.
inline constexpr int kDefaultCloseDays = 90;

// What AdvanceStage asks for; the service fills in the stage it read and the band.
struct AdvanceRequest {
  int64_t opportunity_id = 0;
  Stage to = Stage::kUnspecified;
  std::string etag;
  std::string loss_reason;
  std::string health_override_reason;
  std::string actor_id;
};

struct SuggestResult {
  std::vector<Suggestion> suggestions;
  HealthBand band = HealthBand::kUnspecified;
  std::string withheld_reason;
};

// Opportunities, the stage machine with its health guard, stage probabilities,
// account profiles and suggestions.
class OpportunityService {
 public:
  OpportunityService(OpportunityRepository* repository, HealthClient* health, const Clock* clock,
                     SuggestionSettings suggestions = {})
      : repository_(repository), health_(health), clock_(clock), suggestions_(suggestions) {}

  absl::StatusOr<Opportunity> Create(const db::WriteKey& key,
                                     const db::ResultCodec<Opportunity>& codec,
                                     const Opportunity& opportunity);
  absl::StatusOr<Opportunity> Get(int64_t opportunity_id);
  absl::StatusOr<OpportunityPage> List(const OpportunityFilter& filter, int64_t after_id,
                                       int page_size);
  // Copies the `fields` of `patch` onto the stored opportunity if `etag` is current.
  absl::StatusOr<Opportunity> Update(const db::WriteKey& key,
                                     const db::ResultCodec<Opportunity>& codec,
                                     int64_t opportunity_id, const std::string& etag,
                                     const Opportunity& patch,
                                     const std::vector<OpportunityField>& fields);
  // The stage machine, then (for moves past QUALIFIED) the health guard, then the
  // write, which re-checks that nobody moved the opportunity meanwhile.
  absl::StatusOr<AdvanceResult> Advance(const db::WriteKey& key,
                                        const db::ResultCodec<AdvanceResult>& codec,
                                        const AdvanceRequest& request);

  absl::StatusOr<StageProbabilities> GetProbabilities();
  absl::StatusOr<StageProbabilities> SetProbabilities(
      const db::WriteKey& key, const db::ResultCodec<StageProbabilities>& codec,
      const std::map<Stage, int>& changes);

  absl::StatusOr<AccountProfile> UpsertProfile(const db::WriteKey& key,
                                               const db::ResultCodec<AccountProfile>& codec,
                                               const AccountProfile& profile);
  absl::StatusOr<AccountProfile> GetProfile(const std::string& account_id);
  absl::StatusOr<SuggestResult> Suggest(const std::string& account_id);

 private:
  OpportunityRepository* repository_;
  HealthClient* health_;
  const Clock* clock_;
  SuggestionSettings suggestions_;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_OPPORTUNITY_SERVICE_H_
