#ifndef CS_SERVICES_HEALTH_FIRST_VALUE_H_
#define CS_SERVICES_HEALTH_FIRST_VALUE_H_

// Time to first value: which signal marks that an account of a tier got value
// from the product (DOMAIN §1's time-to-first-value targets are measured up to
// it), and what the ingest path publishes when it happens.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/db/idempotency.h"
#include "services/health/account.h"
#include "services/health/signal.h"

namespace cs::health {

struct FirstValueDefinition {
  Tier tier = Tier::kUnspecified;
  int version = 0;
  SignalKind signal_kind = SignalKind::kUnspecified;
  // Empty: any feature.
  std::string feature;
  // Empty: any source. Else only signals TrackEvents made from this event name.
  std::string event_name;
  absl::Time updated_at;
};

// Published once per account (EVENT_KIND_FIRST_VALUE_REACHED).
struct FirstValueReached {
  std::string account_id;
  Tier tier = Tier::kUnspecified;
  absl::Time reached_at;
  std::string signal_event_id;
  SignalKind signal_kind = SignalKind::kUnspecified;
  std::string feature;
  std::string event_name;
  int definition_version = 0;
};

// Published per accepted NPS answer (EVENT_KIND_NPS_RECORDED), so consumers can
// keep an account's latest NPS without asking for it.
struct NpsRecorded {
  std::string account_id;
  std::string signal_event_id;
  double score = 0;
  absl::Time responded_at;
  Tier tier = Tier::kUnspecified;
};

// A signal accepted by the current ingest batch and, for TrackEvents, the
// analytics event name it was mapped from.
struct AcceptedSignal {
  const Signal* signal = nullptr;
  std::string event_name;
};

bool MatchesFirstValue(const FirstValueDefinition& definition, const Signal& signal,
                       absl::string_view event_name);

// INVALID_ARGUMENT naming the field ("definition.tier: ...").
absl::Status ValidateFirstValueDefinition(const FirstValueDefinition& definition);

class FirstValueRepository {
 public:
  virtual ~FirstValueRepository() = default;
  // The current definition of every tier, in tier order.
  virtual absl::StatusOr<std::vector<FirstValueDefinition>> CurrentDefinitions() = 0;
  // ABORTED when definition.version is not the tier's current version; stores
  // version + 1 (and keeps every version).
  virtual absl::StatusOr<FirstValueDefinition> SetDefinition(
      const db::WriteKey& key, const db::ResultCodec<FirstValueDefinition>& codec,
      const FirstValueDefinition& definition, absl::Time now) = 0;
};

class FirstValueService {
 public:
  FirstValueService(FirstValueRepository* repository, const Clock* clock)
      : repository_(repository), clock_(clock) {}

  absl::StatusOr<std::vector<FirstValueDefinition>> GetDefinitions();
  absl::StatusOr<FirstValueDefinition> SetDefinition(
      const db::WriteKey& key, const db::ResultCodec<FirstValueDefinition>& codec,
      const FirstValueDefinition& definition);

 private:
  FirstValueRepository* repository_;
  const Clock* clock_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_FIRST_VALUE_H_
