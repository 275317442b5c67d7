#include "common/db/idempotency.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/db/sql_values.h"
#include "common/status.h"

namespace cs::db {

namespace {

// Runs an insert of stored answers: two concurrent first attempts with one id, the
// loser retries its transaction and then finds the winner's answer.
void ExecuteStore(sql::PreparedStatement& stmt) {
  try {
    stmt.executeUpdate();
  } catch (const sql::SQLException& e) {
    if (e.getErrorCode() == 1062) {
      throw sql::SQLException("concurrent idempotent write", "40001", 1213);
    }
    throw;
  }
}

constexpr char kInsertAnswers[] =
    "INSERT INTO idempotency_keys (method, request_id, request_fingerprint, response, created_at)"
    " VALUES ";

}  // namespace

absl::Status RequestIdReused() {
  return absl::InvalidArgumentError(
      "request_id: already used for a different request; use a new request_id");
}

absl::StatusOr<std::vector<std::optional<absl::StatusOr<std::string>>>> FindStoredResponses(
    Connection& conn, const std::vector<const WriteKey*>& keys) {
  std::vector<std::optional<absl::StatusOr<std::string>>> out(keys.size());
  // The keys by method, then request id: positions in `keys` (an id may repeat).
  std::map<std::string, std::map<std::string, std::vector<size_t>>> asked;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i]->request_id.empty()) continue;
    asked[keys[i]->method][keys[i]->request_id].push_back(i);
  }
  for (const auto& entry : asked) {
    // Named, not bound: a lambda below uses them.
    const std::string& method = entry.first;
    const std::map<std::string, std::vector<size_t>>& by_id = entry.second;
    std::vector<const std::string*> ids;
    ids.reserve(by_id.size());
    for (const auto& [id, positions] : by_id) ids.push_back(&id);
    ForEachChunk(ids.size(), [&](size_t offset, size_t count) {
      auto& stmt = conn.Prepare(absl::StrCat(
          "SELECT request_id, request_fingerprint, response FROM idempotency_keys"
          " WHERE method = ? AND request_id IN ",
          RowPlaceholders(1, count), " FOR UPDATE"));
      stmt.setString(1, method);
      for (size_t k = 0; k < count; ++k) stmt.setString(static_cast<int>(k + 2), *ids[offset + k]);
      std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
      while (rs->next()) {
        auto found = by_id.find(std::string(rs->getString(1)));
        if (found == by_id.end()) continue;
        const std::string fingerprint(rs->getString(2));
        const std::string response(rs->getString(3));
        for (size_t i : found->second) {
          out[i] = keys[i]->fingerprint == fingerprint
                       ? absl::StatusOr<std::string>(response)
                       : absl::StatusOr<std::string>(RequestIdReused());
        }
      }
    });
  }
  return out;
}

void StoreResponses(Connection& conn, const std::vector<StoredAnswer>& answers, absl::Time now) {
  const std::string created_at = ToSqlDatetime(now);
  ForEachChunk(answers.size(), [&](size_t offset, size_t count) {
    auto& stmt = conn.Prepare(absl::StrCat(kInsertAnswers, RowPlaceholders(count, 5)));
    int p = 0;
    for (size_t k = offset; k < offset + count; ++k) {
      const StoredAnswer& a = answers[k];
      stmt.setString(++p, a.key->method);
      stmt.setString(++p, a.key->request_id);
      stmt.setString(++p, a.key->fingerprint);
      stmt.setString(++p, a.response);
      stmt.setString(++p, created_at);
    }
    ExecuteStore(stmt);
  });
}

absl::StatusOr<std::optional<std::string>> FindStoredResponse(Connection& conn,
                                                              const WriteKey& key) {
  ASSIGN_OR_RETURN(auto found, FindStoredResponses(conn, {&key}));
  if (!found.front().has_value()) return std::optional<std::string>();
  if (!found.front()->ok()) return found.front()->status();
  return std::optional<std::string>(**std::move(found.front()));
}

void StoreResponse(Connection& conn, const WriteKey& key, const std::string& response,
                   absl::Time now) {
  StoreResponses(conn, {{&key, response}}, now);
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

