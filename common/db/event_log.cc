#include "common/db/event_log.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/db/sql_values.h"
#include "common/status.h"

namespace cs::db {

void AppendEvents(Connection& conn, std::vector<LoggedEvent>& events) {
  if (events.empty()) return;
  auto& claim = conn.Prepare(
      "UPDATE event_log_head SET last_sequence = LAST_INSERT_ID(last_sequence + ?) WHERE id = 1");
  claim.setInt64(1, static_cast<int64_t>(events.size()));
  claim.executeUpdate();
  int64_t sequence = 0;
  {
    std::unique_ptr<sql::ResultSet> rs(conn.Prepare("SELECT LAST_INSERT_ID()").executeQuery());
    rs->next();
    sequence = rs->getInt64(1) - static_cast<int64_t>(events.size());
  }
  for (LoggedEvent& e : events) e.sequence = ++sequence;
  // Multi-row statements of the fixed chunk sizes, so few statements are prepared.
  ForEachChunk(events.size(), [&](size_t offset, size_t count) {
    auto& insert = conn.Prepare(
        absl::StrCat("INSERT INTO event_log (sequence, kind, subject_id, occurred_at, payload)"
                     " VALUES ",
                     RowPlaceholders(count, 5)));
    for (size_t i = 0; i < count; ++i) {
      const LoggedEvent& e = events[offset + i];
      const int p = static_cast<int>(i * 5);
      insert.setInt64(p + 1, e.sequence);
      insert.setString(p + 2, e.kind);
      insert.setString(p + 3, e.subject_id);
      insert.setString(p + 4, ToSqlDatetime(e.occurred_at));
      // Bound as a string, not setBlob: a blob parameter goes to the server as a
      // packet of its own (COM_STMT_SEND_LONG_DATA) per row. Strings are sent with
      // their length and stored into the LONGBLOB unconverted, so any bytes go.
      insert.setString(p + 5, e.payload);
    }
    insert.executeUpdate();
  });
}

absl::StatusOr<std::vector<LoggedEvent>> ReadEvents(Pool& pool, int64_t after, int limit) {
  std::vector<LoggedEvent> out;
  RETURN_IF_ERROR(pool.Run([&](Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(
        "SELECT sequence, kind, subject_id, occurred_at, payload FROM event_log"
        " WHERE sequence > ? ORDER BY sequence LIMIT ?");
    stmt.setInt64(1, after);
    stmt.setInt(2, limit);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    while (rs->next()) {
      LoggedEvent e;
      e.sequence = rs->getInt64(1);
      e.kind = GetString(*rs, 2);
      e.subject_id = GetString(*rs, 3);
      ASSIGN_OR_RETURN(e.occurred_at, GetTime(*rs, 4));
      e.payload = GetString(*rs, 5);
      out.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<int64_t> LastSequence(Pool& pool) {
  int64_t last = 0;
  RETURN_IF_ERROR(pool.Run([&](Connection& conn) -> absl::Status {
    std::unique_ptr<sql::ResultSet> rs(
        conn.Prepare("SELECT last_sequence FROM event_log_head WHERE id = 1").executeQuery());
    if (rs->next()) last = rs->getInt64(1);
    return absl::OkStatus();
  }));
  return last;
}

}  // namespace cs::db
