#ifndef CS_SERVICES_PLAYBOOKS_ADVOCACY_STORE_H_
#define CS_SERVICES_PLAYBOOKS_ADVOCACY_STORE_H_

// MySQL side of onboarding metrics and advocacy, and the part of the health
// consumer that keeps account standing and onboarding first value.

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/db/pool.h"
#include "services/playbooks/advocacy_repository.h"
#include "services/playbooks/peers.h"

namespace cs::playbooks {

// Inside the consumer's transaction, for every health event (after the account
// row is written): SCORE_CHANGED and BAND_CHANGED of the "health" score keep the
// score, band and green_since; ACCOUNT_UPSERTED the ARR; NPS_RECORDED the latest
// answer (by answer time); FIRST_VALUE_REACHED sets first_value_at and the
// reached_value_at of the account's latest onboarding run, once. Each write is
// idempotent, so a replayed page changes nothing.
absl::Status ApplyOutcomeEvent(db::Connection& conn, const HealthEvent& event, absl::Time now);

class MySqlOutcomeRepository : public OutcomeRepository {
 public:
  MySqlOutcomeRepository(db::Pool* pool, const Clock* clock) : pool_(pool), clock_(clock) {}

  absl::StatusOr<std::vector<OnboardingFact>> LoadOnboardingFacts(absl::Time from, absl::Time to,
                                                                  const std::string& tier,
                                                                  absl::Time now) override;
  absl::StatusOr<std::vector<AdvocateCandidate>> ListCandidates(const CandidateCriteria& criteria,
                                                                absl::Time now) override;
  absl::StatusOr<AdvocacyAsk> RecordAsk(const db::WriteKey& key,
                                        const db::ResultCodec<AdvocacyAsk>& codec,
                                        const AdvocacyAsk& ask, absl::Time now) override;
  absl::StatusOr<AdvocacyAsk> UpdateAsk(const db::WriteKey& key,
                                        const db::ResultCodec<AdvocacyAsk>& codec, int64_t ask_id,
                                        AskStatus status, const std::string& note,
                                        absl::Time now) override;
  absl::StatusOr<AskPage> ListAsks(const AskFilter& filter) override;

 private:
  db::Pool* pool_;
  const Clock* clock_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_ADVOCACY_STORE_H_
