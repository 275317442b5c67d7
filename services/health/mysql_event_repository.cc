#include "services/health/mysql_event_repository.h"

#include "common/db/event_log.h"
#include "common/status.h"

namespace cs::health {

absl::StatusOr<std::vector<Event>> MySqlEventRepository::After(int64_t after_sequence,
                                                               int limit) {
  ASSIGN_OR_RETURN(std::vector<db::LoggedEvent> logged,
                   db::ReadEvents(*pool_, after_sequence, limit));
  std::vector<Event> out;
  out.reserve(logged.size());
  for (db::LoggedEvent& l : logged) {
    out.push_back(Event{l.sequence, EventKindFromName(l.kind).value_or(EventKind::kUnspecified),
                        std::move(l.subject_id), l.occurred_at, std::move(l.payload)});
  }
  return out;
}

absl::StatusOr<int64_t> MySqlEventRepository::LastSequence() { return db::LastSequence(*pool_); }

}  // namespace cs::health
