#ifndef CS_SERVICES_PLAYBOOKS_ADVOCACY_REPOSITORY_H_
#define CS_SERVICES_PLAYBOOKS_ADVOCACY_REPOSITORY_H_

// Storage of onboarding facts, account standing and advocacy asks.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/idempotency.h"
#include "services/playbooks/advocacy.h"
#include "services/playbooks/onboarding.h"

namespace cs::playbooks {

class OutcomeRepository {
 public:
  virtual ~OutcomeRepository() = default;

  // The onboarding runs that started in [from, to) (of `tier` when not empty),
  // with their overdue tasks as of `now`.
  virtual absl::StatusOr<std::vector<OnboardingFact>> LoadOnboardingFacts(
      absl::Time from, absl::Time to, const std::string& tier, absl::Time now) = 0;

  // Accounts meeting `criteria` as of `now`, ranked (see ListAdvocateCandidates).
  virtual absl::StatusOr<std::vector<AdvocateCandidate>> ListCandidates(
      const CandidateCriteria& criteria, absl::Time now) = 0;

  // NOT_FOUND for an account the service does not know; FAILED_PRECONDITION when
  // it was asked after now - kAskQuietPeriod and ask.override_reason is empty.
  virtual absl::StatusOr<AdvocacyAsk> RecordAsk(const db::WriteKey& key,
                                                const db::ResultCodec<AdvocacyAsk>& codec,
                                                const AdvocacyAsk& ask, absl::Time now) = 0;
  // NOT_FOUND; FAILED_PRECONDITION for a transition AskTransitionAllowed refuses.
  virtual absl::StatusOr<AdvocacyAsk> UpdateAsk(const db::WriteKey& key,
                                                const db::ResultCodec<AdvocacyAsk>& codec,
                                                int64_t ask_id, AskStatus status,
                                                const std::string& note, absl::Time now) = 0;
  virtual absl::StatusOr<AskPage> ListAsks(const AskFilter& filter) = 0;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_ADVOCACY_REPOSITORY_H_
