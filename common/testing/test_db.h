#ifndef CS_COMMON_TESTING_TEST_DB_H_
#define CS_COMMON_TESTING_TEST_DB_H_

// A throwaway schema on the real MariaDB that scripts/test starts (CS_TEST_DB_URI,
// e.g. mysql://root@127.0.0.1:33306). Dropped when the object goes away.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "common/config.h"
#include "common/db/pool.h"

namespace cs::testing {

class TestDatabase {
 public:
  // nullptr when CS_TEST_DB_URI is not set.
  static std::unique_ptr<TestDatabase> Create(absl::string_view prefix);
  ~TestDatabase();

  const DbConfig& config() const { return config_; }
  // mysql://USER[:PASSWORD]@HOST:PORT/SCHEMA for handing to a service binary.
  std::string uri() const;

 private:
  explicit TestDatabase(DbConfig config) : config_(std::move(config)) {}
  DbConfig config_;
};

// True when scripts/test runs the tests (CS_TEST_REQUIRE_DB=1): a missing
// database is then a failure, not a skip.
bool DatabaseRequired();

// The first column of the first row of `sql` as an integer; -1 (and a test
// failure) when the query fails or returns no row.
int64_t QueryInt(db::Pool& pool, const std::string& sql);
// Every row of `sql`, each as its columns' text joined by tabs (NULL as "NULL"),
// for comparing what two databases hold; a failed query is a test failure.
std::vector<std::string> QueryRows(db::Pool& pool, const std::string& sql);

}  // namespace cs::testing

// Sets `var` to a fresh TestDatabase or skips (fails under scripts/test).
#define CS_TEST_DATABASE_OR_SKIP(var, prefix)                                        \
  var = ::cs::testing::TestDatabase::Create(prefix);                                 \
  if (var == nullptr) {                                                              \
    if (::cs::testing::DatabaseRequired()) FAIL() << "CS_TEST_DB_URI is not set";    \
    GTEST_SKIP() << "no test database (set CS_TEST_DB_URI)";                         \
  }

#endif  // CS_COMMON_TESTING_TEST_DB_H_
