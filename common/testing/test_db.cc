#include "common/testing/test_db.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/db/pool.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <gtest/gtest.h>

namespace cs::testing {

bool DatabaseRequired() {
  const char* v = std::getenv("CS_TEST_REQUIRE_DB");
  return v != nullptr && absl::string_view(v) == "1";
}

std::unique_ptr<TestDatabase> TestDatabase::Create(absl::string_view prefix) {
  const char* uri = std::getenv("CS_TEST_DB_URI");
  if (uri == nullptr || *uri == '\0') return nullptr;
  static std::atomic<int> counter{0};
  std::random_device rd;
  DbConfig base;
  base.schema = absl::StrFormat("t_%s_%d_%d_%04x", prefix, getpid(), counter.fetch_add(1),
                                rd() & 0xffff);
  if (base.schema.size() > 64) base.schema.resize(64);
  base.pool_size = 8;
  absl::StatusOr<DbConfig> config = ParseDbUri(uri, base);
  if (!config.ok()) {
    std::fprintf(stderr, "CS_TEST_DB_URI: %s\n", std::string(config.status().message()).c_str());
    std::abort();
  }
  return std::unique_ptr<TestDatabase>(new TestDatabase(*std::move(config)));
}

TestDatabase::~TestDatabase() {
  db::Pool pool(config_);
  // Dropping needs a connection without the schema selected; the pool's EnsureSchema
  // path cannot drop, so use a plain connection through Run on an existing schema.
  (void)pool.Run([&](db::Connection& conn) -> absl::Status {
    conn.Execute(absl::StrCat("DROP DATABASE IF EXISTS `", config_.schema, "`"));
    return absl::OkStatus();
  });
}

std::string TestDatabase::uri() const {
  return absl::StrCat("mysql://", config_.user, config_.password.empty() ? "" : ":",
                      config_.password, "@", config_.host, ":", config_.port, "/",
                      config_.schema);
}

int64_t QueryInt(db::Pool& pool, const std::string& sql) {
  int64_t n = -1;
  const absl::Status s = pool.Run([&](db::Connection& conn) -> absl::Status {
    std::unique_ptr<sql::ResultSet> rs(conn.Prepare(sql).executeQuery());
    if (rs->next()) n = rs->getInt64(1);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << sql << ": " << s;
  EXPECT_NE(n, -1) << sql << ": no row";
  return n;
}

std::vector<std::string> QueryRows(db::Pool& pool, const std::string& sql) {
  std::vector<std::string> rows;
  const absl::Status s = pool.Run([&](db::Connection& conn) -> absl::Status {
    std::unique_ptr<sql::ResultSet> rs(conn.Prepare(sql).executeQuery());
    const unsigned int columns = rs->getMetaData()->getColumnCount();
    while (rs->next()) {
      std::string row;
      for (unsigned int c = 1; c <= columns; ++c) {
        if (c > 1) row += '\t';
        row += rs->isNull(c) ? std::string("NULL") : std::string(rs->getString(c));
      }
      rows.push_back(std::move(row));
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << sql << ": " << s;
  return rows;
}

}  // namespace cs::testing
