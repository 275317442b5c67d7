#ifndef CS_SERVICES_PLAYBOOKS_ADVOCACY_STORE_H_
#define CS_SERVICES_PLAYBOOKS_ADVOCACY_STORE_H_

// MySQL side of onboarding metrics and advocacy, and the part of the health
// consumer that keeps account standing and onboarding first value.

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/db/pool.h"
#include "services/playbooks/advocacy_repository.h"
#include "services/playbooks/peers.h"

namespace cs::playbooks {

// The score, band and green_since moves of a page of health events (SCORE_CHANGED
// and BAND_CHANGED), folded per account and written with multi-row upserts when the
// page is done instead of one statement per event. Nothing in the consumer's
// transaction reads account_standing, so only the final state of the page matters:
// the last score and band, and green_since as the events one by one would have left
// it (kept across GREEN -> GREEN, cleared by any other band, restarted by the first
// GREEN after one).
class StandingUpdates {
 public:
  // Events of other kinds, and those without a band, are ignored.
  void Add(const HealthEvent& event);
  // Writes what was added, in account order, and forgets it.
  void Write(db::Connection& conn, absl::Time now);
  bool empty() const { return pending_.empty(); }

 private:
  struct Pending {
    double score = 0;
    std::string band;
    // When the page's trailing run of GREEN events began.
    std::optional<absl::Time> green_from;
    // A band other than GREEN came earlier in the page: green_since restarts at
    // green_from whatever is stored.
    bool restarted = false;
  };
  std::map<std::string, Pending> pending_;
};

// Inside the consumer's transaction, for every health event (after the account
// row is written): SCORE_CHANGED and BAND_CHANGED of the "health" score go to
// `standing`, written at the end of the page; ACCOUNT_UPSERTED keeps the ARR;
// NPS_RECORDED the latest answer (by answer time); FIRST_VALUE_REACHED sets
// first_value_at and the reached_value_at of the account's latest onboarding run,
// once. Each write is idempotent, so a replayed page changes nothing.
absl::Status ApplyOutcomeEvent(db::Connection& conn, const HealthEvent& event, absl::Time now,
                               StandingUpdates& standing);

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
