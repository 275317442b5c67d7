#ifndef CS_SERVICES_HEALTH_FIRST_VALUE_STORE_H_
#define CS_SERVICES_HEALTH_FIRST_VALUE_STORE_H_

// MySQL side of time to first value: the versioned definitions, and the step of
// the ingest transaction that records first value and publishes its events.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/db/pool.h"
#include "services/health/first_value.h"

namespace cs::health {

struct FirstValueEncoders {
  std::function<std::string(const FirstValueReached&)> first_value_reached;
  std::function<std::string(const NpsRecorded&)> nps_recorded;
};

// Inside the ingest transaction, after the accepted signals are stored: sets
// first_value_at (once) on each account whose tier's definition one of `accepted`
// matches, the earliest matching signal counting, and appends one
// FIRST_VALUE_REACHED per such account and one NPS_RECORDED per NPS answer, in one
// append. Cost per batch: one read of the (four-row) definitions; one primary-key
// read of the candidate accounts only when a signal could match or is an NPS
// answer; one update per account that reaches value.
absl::Status RecordFirstValueAndNps(db::Connection& conn,
                                    const std::vector<AcceptedSignal>& accepted,
                                    const FirstValueEncoders& encoders, absl::Time now);

class MySqlFirstValueRepository : public FirstValueRepository {
 public:
  MySqlFirstValueRepository(db::Pool* pool, const Clock* clock) : pool_(pool), clock_(clock) {}

  absl::StatusOr<std::vector<FirstValueDefinition>> CurrentDefinitions() override;
  absl::StatusOr<FirstValueDefinition> SetDefinition(
      const db::WriteKey& key, const db::ResultCodec<FirstValueDefinition>& codec,
      const FirstValueDefinition& definition, absl::Time now) override;

 private:
  db::Pool* pool_;
  const Clock* clock_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_FIRST_VALUE_STORE_H_
