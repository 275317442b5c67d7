#include "common/db/idempotency.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>

namespace cs::db {

absl::StatusOr<std::optional<std::string>> FindStoredResponse(Connection& conn,
                                                              const WriteKey& key) {
  auto& stmt = conn.Prepare(
      "SELECT request_fingerprint, response FROM idempotency_keys"
      " WHERE method = ? AND request_id = ? FOR UPDATE");
  stmt.setString(1, key.method);
  stmt.setString(2, key.request_id);
  std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
  if (!rs->next()) return std::optional<std::string>();
  if (std::string(rs->getString(1)) != key.fingerprint) {
    return absl::InvalidArgumentError(
        "request_id: already used for a different request; use a new request_id");
  }
  return std::optional<std::string>(std::string(rs->getString(2)));
}

void StoreResponse(Connection& conn, const WriteKey& key, const std::string& response,
                   absl::Time now) {
  auto& stmt = conn.Prepare(
      "INSERT INTO idempotency_keys (method, request_id, request_fingerprint, response, created_at)"
      " VALUES (?, ?, ?, ?, ?)");
  stmt.setString(1, key.method);
  stmt.setString(2, key.request_id);
  stmt.setString(3, key.fingerprint);
  stmt.setString(4, response);  // any bytes: sent with its length, stored unconverted
  stmt.setString(5, ToSqlDatetime(now));
  try {
    stmt.executeUpdate();
  } catch (const sql::SQLException& e) {
    // Two concurrent first attempts with one id: the loser retries its transaction
    // and then finds the winner's answer.
    if (e.getErrorCode() == 1062) {
      throw sql::SQLException("concurrent idempotent write", "40001", 1213);
    }
    throw;
  }
}

absl::StatusOr<int64_t> PurgeStoredResponses(Pool& pool, absl::Time cutoff, int batch) {
  int64_t total = 0;
  while (true) {
    int deleted = 0;
    absl::Status s = pool.Run([&](Connection& conn) -> absl::Status {
      auto& stmt = conn.Prepare("DELETE FROM idempotency_keys WHERE created_at < ? LIMIT ?");
      stmt.setString(1, ToSqlDatetime(cutoff));
      stmt.setInt(2, batch);
      deleted = stmt.executeUpdate();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    total += deleted;
    if (deleted < batch) return total;
  }
}

}  // namespace cs::db

