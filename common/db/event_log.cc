#include "common/db/event_log.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <sstream>

#include "common/status.h"

namespace cs::db {

void AppendEvents(Connection& conn, std::vector<LoggedEvent>& events) {
  if (events.empty()) return;
  auto& claim = conn.Prepare(
      "UPDATE event_log_head SET last_sequence = LAST_INSERT_ID(last_sequence + ?) WHERE id = 1");
  claim.setInt64(1, static_cast<int64_t>(events.size()));
  claim.executeUpdate();
  std::unique_ptr<sql::ResultSet> rs(conn.Prepare("SELECT LAST_INSERT_ID()").executeQuery());
  rs->next();
  int64_t sequence = rs->getInt64(1) - static_cast<int64_t>(events.size());
  auto& insert = conn.Prepare(
      "INSERT INTO event_log (sequence, kind, subject_id, occurred_at, payload)"
      " VALUES (?, ?, ?, ?, ?)");
  for (LoggedEvent& e : events) {
    e.sequence = ++sequence;
    insert.setInt64(1, e.sequence);
    insert.setString(2, e.kind);
    insert.setString(3, e.subject_id);
    insert.setString(4, ToSqlDatetime(e.occurred_at));
    std::istringstream blob(e.payload);
    insert.setBlob(5, &blob);
    insert.executeUpdate();
  }
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
      e.kind = rs->getString(2);
      e.subject_id = rs->getString(3);
      ASSIGN_OR_RETURN(e.occurred_at, FromSqlDatetime(std::string(rs->getString(4))));
      std::unique_ptr<std::istream> blob(rs->getBlob(5));
      std::ostringstream bytes;
      bytes << blob->rdbuf();
      e.payload = bytes.str();
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
