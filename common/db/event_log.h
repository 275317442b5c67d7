#ifndef CS_COMMON_DB_EVENT_LOG_H_
#define CS_COMMON_DB_EVENT_LOG_H_

// The transactional outbox every service schema carries (common migration 002).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/pool.h"

namespace cs::db {

struct LoggedEvent {
  int64_t sequence = 0;  // assigned by AppendEvents
  std::string kind;      // the owning service's stable name, e.g. "ACCOUNT_UPSERTED"
  std::string subject_id;
  absl::Time occurred_at;
  std::string payload;   // opaque to the log
};

// Inside an open transaction: appends `events`, filling in consecutive sequences,
// with one claim of the head row and multi-row inserts. The head row stays locked
// until the transaction ends, so event-writing transactions commit one at a time,
// in sequence order (the readers of the log rely on it): call this as late in the
// transaction as possible.
void AppendEvents(Connection& conn, std::vector<LoggedEvent>& events);

// Events with sequence > after, oldest first, at most `limit`.
absl::StatusOr<std::vector<LoggedEvent>> ReadEvents(Pool& pool, int64_t after, int limit);

// The newest committed sequence (0 for an empty log).
absl::StatusOr<int64_t> LastSequence(Pool& pool);

}  // namespace cs::db

#endif  // CS_COMMON_DB_EVENT_LOG_H_
