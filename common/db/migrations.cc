#include "common/db/migrations.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <map>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/log.h"

namespace cs::db {

std::vector<std::string> SplitSqlStatements(absl::string_view script) {
  std::vector<std::string> out;
  std::string current;
  char quote = 0;
  bool line_comment = false;
  bool block_comment = false;
  auto flush = [&] {
    absl::string_view trimmed = absl::StripAsciiWhitespace(current);
    if (!trimmed.empty()) out.emplace_back(trimmed);
    current.clear();
  };
  for (size_t i = 0; i < script.size(); ++i) {
    const char c = script[i];
    const char next = i + 1 < script.size() ? script[i + 1] : '\0';
    if (line_comment) {
      if (c == '\n') line_comment = false;
      continue;
    }
    if (block_comment) {
      if (c == '*' && next == '/') {
        block_comment = false;
        ++i;
      }
      continue;
    }
    if (quote != 0) {
      current.push_back(c);
      if (c == '\\' && next != '\0') {
        current.push_back(next);
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '-' && next == '-') {
      line_comment = true;
      continue;
    }
    if (c == '#') {
      line_comment = true;
      continue;
    }
    if (c == '/' && next == '*') {
      block_comment = true;
      ++i;
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') quote = c;
    if (c == ';') {
      flush();
      continue;
    }
    current.push_back(c);
  }
  flush();
  return out;
}

namespace {

absl::Status CheckOrdered(const MigrationSet& set) {
  int previous = 0;
  for (const Migration& m : *set.migrations) {
    if (m.version <= previous) {
      return absl::FailedPreconditionError(absl::StrCat(
          "migrations of ", set.component, ": version ", m.version, " is not above ", previous));
    }
    previous = m.version;
  }
  return absl::OkStatus();
}

absl::Status ApplyLocked(Connection& conn, const std::vector<MigrationSet>& sets) {
  conn.Execute(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " component VARCHAR(64) NOT NULL,"
      " version INT NOT NULL,"
      " name VARCHAR(255) NOT NULL,"
      " checksum CHAR(16) NOT NULL,"
      " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
      " PRIMARY KEY (component, version)) ENGINE=InnoDB");
  std::map<std::pair<std::string, int>, std::string> applied;
  {
    auto& stmt = conn.Prepare("SELECT component, version, checksum FROM schema_migrations");
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    while (rs->next()) {
      applied[{std::string(rs->getString(1)), rs->getInt(2)}] = std::string(rs->getString(3));
    }
  }
  for (const MigrationSet& set : sets) {
    if (absl::Status s = CheckOrdered(set); !s.ok()) return s;
    for (const Migration& m : *set.migrations) {
      const std::string checksum = Fingerprint64Hex(m.sql);
      auto it = applied.find({set.component, m.version});
      if (it != applied.end()) {
        if (it->second != checksum) {
          return absl::FailedPreconditionError(absl::StrCat(
              "migration ", set.component, "/", m.version, "_", m.name,
              " was changed after it was applied; add a new migration instead"));
        }
        continue;
      }
      for (const std::string& statement : SplitSqlStatements(m.sql)) {
        conn.Execute(statement);
      }
      auto& record = conn.Prepare(
          "INSERT INTO schema_migrations (component, version, name, checksum) VALUES (?, ?, ?, ?)");
      record.setString(1, set.component);
      record.setInt(2, m.version);
      record.setString(3, m.name);
      record.setString(4, checksum);
      record.executeUpdate();
      log::Info("migration applied", {{"component", set.component},
                                      {"version", m.version},
                                      {"name", m.name}});
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyMigrations(Pool& pool, const std::vector<MigrationSet>& sets,
                             absl::Duration lock_wait) {
  if (absl::Status s = pool.EnsureSchema(); !s.ok()) return s;
  const std::string lock_name = absl::StrCat("cs_migrate.", pool.config().schema);
  // GET_LOCK belongs to the session, so the whole run stays on one connection.
  return pool.Run([&](Connection& conn) -> absl::Status {
    auto& lock = conn.Prepare("SELECT GET_LOCK(?, ?)");
    lock.setString(1, lock_name);
    lock.setInt(2, static_cast<int>(absl::ToInt64Seconds(lock_wait)));
    {
      std::unique_ptr<sql::ResultSet> rs(lock.executeQuery());
      if (!rs->next() || rs->isNull(1) || rs->getInt(1) != 1) {
        return absl::UnavailableError("timed out waiting for the migration lock");
      }
    }
    absl::Status result;
    try {
      result = ApplyLocked(conn, sets);
    } catch (const sql::SQLException& e) {
      result = MapSqlError(e, "migration");
      if (IsConnectionError(e.getErrorCode())) throw;  // the lock died with the session
    }
    auto& release = conn.Prepare("SELECT RELEASE_LOCK(?)");
    release.setString(1, lock_name);
    std::unique_ptr<sql::ResultSet> rs(release.executeQuery());
    return result;
  });
}

}  // namespace cs::db
