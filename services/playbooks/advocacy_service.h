#ifndef CS_SERVICES_PLAYBOOKS_ADVOCACY_SERVICE_H_
#define CS_SERVICES_PLAYBOOKS_ADVOCACY_SERVICE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/db/idempotency.h"
#include "services/playbooks/advocacy.h"
#include "services/playbooks/advocacy_repository.h"

namespace cs::playbooks {

class AdvocacyService {
 public:
  static constexpr int kMaxLimit = 1000;

  AdvocacyService(OutcomeRepository* repository, const Clock* clock)
      : repository_(repository), clock_(clock) {}

  // criteria.limit 0 means 50.
  absl::StatusOr<std::vector<AdvocateCandidate>> ListCandidates(CandidateCriteria criteria);
  // ask.status kUnspecified means REQUESTED.
  absl::StatusOr<AdvocacyAsk> RecordAsk(const db::WriteKey& key,
                                        const db::ResultCodec<AdvocacyAsk>& codec, AdvocacyAsk ask);
  absl::StatusOr<AdvocacyAsk> UpdateAsk(const db::WriteKey& key,
                                        const db::ResultCodec<AdvocacyAsk>& codec, int64_t ask_id,
                                        AskStatus status, const std::string& note);
  // filter.page_size 0 means 50.
  absl::StatusOr<AskPage> ListAsks(AskFilter filter);

 private:
  OutcomeRepository* repository_;
  const Clock* clock_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_ADVOCACY_SERVICE_H_
