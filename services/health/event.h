#ifndef CS_SERVICES_HEALTH_EVENT_H_
#define CS_SERVICES_HEALTH_EVENT_H_

// What the health service publishes: account upserted, score and band changed,
// alert opened and resolved, expansion interest, each written with the change it
// reports.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cs::health {

// Values match cs.health.v1.EventKind.
enum class EventKind {
  kUnspecified = 0,
  kAccountUpserted = 1,
  kScoreChanged = 2,
  kBandChanged = 3,
  kAlertOpened = 4,
  kAlertResolved = 5,
  kAccountChurned = 6,
  kExpansionSignal = 7,
  kFirstValueReached = 8,
  kNpsRecorded = 9,
};

struct Event {
  int64_t sequence = 0;
  EventKind kind = EventKind::kUnspecified;
  std::string account_id;
  absl::Time occurred_at;
  // The payload in the wire form the handler layer chose (kept opaque here).
  std::string payload;
};

struct EventPage {
  std::vector<Event> events;
  int64_t last_sequence = 0;
};

absl::string_view EventKindName(EventKind kind);
std::optional<EventKind> EventKindFromName(absl::string_view name);

class EventRepository {
 public:
  virtual ~EventRepository() = default;
  virtual absl::StatusOr<std::vector<Event>> After(int64_t after_sequence, int limit) = 0;
  virtual absl::StatusOr<int64_t> LastSequence() = 0;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_EVENT_H_
