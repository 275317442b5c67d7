#include "common/db/migrations.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"

namespace cs::db {
namespace {

using ::cs::testing::StatusIs;

const std::vector<Migration>& TestMigrations() {
  static const auto* m = new std::vector<Migration>{
      {1, "init", "CREATE TABLE widgets (id INT PRIMARY KEY);\n"
                  "INSERT INTO widgets VALUES (1);"},
      {2, "more", "ALTER TABLE widgets ADD COLUMN name VARCHAR(16) NULL;\n"
                  "INSERT INTO widgets (id, name) VALUES (2, 'two');"},
  };
  return *m;
}

int64_t Scalar(Pool& pool, const std::string& sql) {
  int64_t n = -1;
  EXPECT_OK(pool.Run([&](Connection& c) {
    std::unique_ptr<sql::ResultSet> rs(c.Prepare(sql).executeQuery());
    rs->next();
    n = rs->getInt64(1);
    return absl::OkStatus();
  }));
  return n;
}

TEST(MigrationsTest, AppliesEachMigrationOnce) {
  std::unique_ptr<cs::testing::TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "mig");
  Pool pool(db->config());
  const std::vector<MigrationSet> sets = {{"common", &common_migrations()},
                                          {"test", &TestMigrations()}};
  ASSERT_OK(ApplyMigrations(pool, sets));
  ASSERT_OK(ApplyMigrations(pool, sets));  // second run: nothing to do
  EXPECT_EQ(Scalar(pool, "SELECT COUNT(*) FROM widgets"), 2);
  EXPECT_EQ(Scalar(pool, "SELECT COUNT(*) FROM schema_migrations WHERE component = 'test'"), 2);
  EXPECT_EQ(Scalar(pool, "SELECT COUNT(*) FROM schema_migrations WHERE component = 'common'"),
            static_cast<int64_t>(common_migrations().size()));
}

TEST(MigrationsTest, ReplicasStartingTogetherApplyEachOnce) {
  std::unique_ptr<cs::testing::TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "migc");
  const std::vector<MigrationSet> sets = {{"test", &TestMigrations()}};
  constexpr int kReplicas = 6;
  std::vector<absl::Status> results(kReplicas);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      Pool pool(db->config());  // a separate pool per replica
      results[i] = ApplyMigrations(pool, sets);
    });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_OK(s);
  Pool pool(db->config());
  // A migration applied twice would have inserted its rows twice (or failed).
  EXPECT_EQ(Scalar(pool, "SELECT COUNT(*) FROM widgets"), 2);
  EXPECT_EQ(Scalar(pool, "SELECT COUNT(*) FROM schema_migrations"), 2);
}

TEST(MigrationsTest, RefusesAnEditedMigration) {
  std::unique_ptr<cs::testing::TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "mige");
  Pool pool(db->config());
  ASSERT_OK(ApplyMigrations(pool, {{"test", &TestMigrations()}}));
  std::vector<Migration> edited = TestMigrations();
  edited[0].sql = "CREATE TABLE widgets (id BIGINT PRIMARY KEY);";
  EXPECT_THAT(ApplyMigrations(pool, {{"test", &edited}}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(MigrationsTest, RefusesVersionsOutOfOrder) {
  std::unique_ptr<cs::testing::TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "migo");
  Pool pool(db->config());
  std::vector<Migration> bad = {{2, "b", "SELECT 1"}, {1, "a", "SELECT 1"}};
  EXPECT_THAT(ApplyMigrations(pool, {{"test", &bad}}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace cs::db
