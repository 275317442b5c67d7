// Migrations 009 and 010 pack the daily counter rows and the signals of a schema at
// version 8 into signal_counters and signal_log; the repository must read back
// exactly what was there, and a signal stored before is still a duplicate.

#include <gtest/gtest.h>

#include <cppconn/prepared_statement.h>

#include <memory>
#include <vector>

#include "common/db/migrations.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "services/health/churn_analysis.h"
#include "services/health/health_mapping.h"
#include "services/health/mysql_account_repository.h"
#include "services/health/mysql_health_repository.h"
#include "services/health/health_service.h"
#include "services/health/packed_rows.h"
#include "services/health/logged_signals_sql.h"
#include "absl/strings/str_replace.h"
#include "common/db/sql_values.h"
#include "common/status.h"
#include <cppconn/resultset.h>

namespace cs::health {
namespace {

class PackedMigrationDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "hcm");
    pool_ = std::make_unique<db::Pool>(db_->config());
    std::vector<db::Migration> up_to_8;
    for (const db::Migration& m : health_migrations()) {
      if (m.version <= 8) up_to_8.push_back(m);
    }
    ASSERT_EQ(up_to_8.size(), 8u);
    ASSERT_OK(
        db::ApplyMigrations(*pool_, {{"common", &common_migrations()}, {"health", &up_to_8}}));
    ASSERT_OK(pool_->Run([&](db::Connection& conn) -> absl::Status {
      conn.Execute(
          "INSERT INTO accounts (account_id, name, tier, employee_count, industry, owner_id,"
          " lifecycle, arr_minor, arr_currency, created_at, updated_at, version) VALUES"
          " ('m1', 'M1', 'SMB', 40, 'SAAS', '', 'ADOPTING', 0, 'USD', NOW(6), NOW(6), 1),"
          " ('m2', 'M2', 'SMB', 40, 'SAAS', '', 'ADOPTING', 0, 'USD', NOW(6), NOW(6), 1)");
      return absl::OkStatus();
    }));
  }

  absl::Status MigrateToLatest() {
    return db::ApplyMigrations(
        *pool_, {{"common", &common_migrations()}, {"health", &health_migrations()}});
  }

  int64_t Count(const std::string& sql) { return cs::testing::QueryInt(*pool_, sql); }

  // Every account's history as the rescore reads it, from 2025-12-01 on.
  std::map<std::string, AccountHistory> Histories(MySqlHealthRepository& repo) {
    std::map<std::string, AccountHistory> seen;
    EXPECT_OK(repo.ForEachAccountHistory(absl::CivilDay(2025, 12, 1), absl::CivilDay(2026, 12, 31),
                                         [&](const AccountHistory& h) -> absl::Status {
                                           seen[h.account.account_id] = h;
                                           return absl::OkStatus();
                                         }));
    return seen;
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<db::Pool> pool_;
  FakeClock clock_{absl::FromUnixSeconds(1'795'000'000)};
};

TEST_F(PackedMigrationDbTest, PacksEveryDailyRowIntoItsMonth) {
  db::Pool& pool = *pool_;

  struct Row {
    const char* account;
    absl::CivilDay day;
    const char* counter;
    double value;
  };
  const std::vector<Row> rows = {
      {"m1", absl::CivilDay(2026, 1, 31), "logins", 3},
      {"m1", absl::CivilDay(2026, 2, 1), "logins", 2},
      {"m1", absl::CivilDay(2026, 2, 1), "session_minutes", 0.1 + 0.2},
      {"m1", absl::CivilDay(2026, 2, 28), "feature:tab\there", 1},
      {"m1", absl::CivilDay(2026, 2, 28), "feature:back\\slash\nline", 7},
      {"m1", absl::CivilDay(2026, 3, 15), "nps_count", 0},
      {"m2", absl::CivilDay(2026, 2, 10), "logins", 1e20},
  };
  ASSERT_OK(pool.Run([&](db::Connection& conn) -> absl::Status {
    for (const Row& r : rows) {
      auto& stmt = conn.Prepare(
          "INSERT INTO signal_daily (account_id, day, counter, value) VALUES (?, ?, ?, ?)");
      stmt.setString(1, r.account);
      stmt.setString(2, absl::FormatCivilTime(r.day));
      stmt.setString(3, r.counter);
      stmt.setDouble(4, r.value);
      stmt.executeUpdate();
    }
    return absl::OkStatus();
  }));

  ASSERT_OK(MigrateToLatest());
  MySqlHealthRepository repo(&pool, &clock_, HealthEncoders());
  std::map<std::string, AccountHistory> seen = Histories(repo);
  ASSERT_EQ(seen.size(), 2u);
  for (const Row& r : rows) {
    const CounterWindow& w = seen[r.account].counters;
    EXPECT_EQ(w.Sum(r.counter, r.day, r.day), r.value) << r.account << " " << r.counter;
  }
  EXPECT_EQ(seen["m1"].counters.Sum("logins", absl::CivilDay(2026, 1, 1),
                                    absl::CivilDay(2026, 12, 31)),
            5);
  EXPECT_EQ(seen["m1"].first_signal_day, absl::CivilDay(2026, 1, 31));
  EXPECT_EQ(seen["m2"].first_signal_day, absl::CivilDay(2026, 2, 10));
  // One packed row per account and month; the daily table is gone.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM signal_counters"), 4);  // m1: Jan, Feb, Mar; m2: Feb
  EXPECT_EQ(Count("SELECT COUNT(*) FROM information_schema.tables WHERE"
                  " table_schema = DATABASE() AND table_name = 'signal_daily'"),
            0);

  // The migration's rows are the first format; an ingest into one of them writes
  // it grouped (packed_rows.h) and keeps every count, and leaves the other months'
  // rows as they are.
  HealthService health(&repo, &clock_);
  Signal login;
  login.event_id = "after-migration";
  login.account_id = "m1";
  login.kind = SignalKind::kLogin;
  login.occurred_at = absl::FromCivil(absl::CivilSecond(2026, 2, 1, 12, 0, 0), absl::UTCTimeZone());
  absl::StatusOr<IngestResult> r = health.RecordSignals(
      {"RecordSignals", "", ""}, db::ResultCodec<IngestResult>(), {login}, {}, false);
  ASSERT_OK(r);
  EXPECT_EQ(r->accepted, 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM signal_counters WHERE account_id = 'm1'"
                  " AND month = '2026-02-01' AND counters LIKE '#2\n%'"),
            1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM signal_counters WHERE counters LIKE '#2\n%'"), 1);
  seen = Histories(repo);
  for (const Row& r : rows) {
    const bool added = r.account == std::string("m1") && r.day == absl::CivilDay(2026, 2, 1) &&
                       r.counter == std::string("logins");
    EXPECT_EQ(seen[r.account].counters.Sum(r.counter, r.day, r.day), r.value + (added ? 1 : 0))
        << r.account << " " << r.counter;
  }
}

TEST_F(PackedMigrationDbTest, MovesEverySignalToTheLogAndKeepsItsKey) {
  const absl::Time t0 = absl::FromCivil(absl::CivilSecond(2026, 10, 31, 23, 59, 59),
                                        absl::UTCTimeZone()) +
                        absl::Microseconds(123456);
  struct Legacy {
    const char* account;
    const char* event_id;
    const char* kind;
    absl::Time occurred_at;
    double value;
    const char* feature;
    double csat;
    absl::Time recorded_at;
  };
  const std::vector<Legacy> legacy = {
      {"m1", "e1", "LOGIN", t0, 1, "", 0, t0},
      {"m1", "e2", "SESSION_MINUTES", t0 + absl::Seconds(1), 0.1 + 0.2, "", 0, t0},  // November
      {"m1", "e3", "FEATURE_USED", t0 - absl::Hours(1), 1, "tab\there\\", 0, t0},
      {"m1", "e4", "TICKET_RESOLVED", t0 - absl::Hours(2), 1, "", 4.5, t0 + absl::Hours(1)},
      {"m2", "e1", "NPS_RESPONSE", t0, 9, "", 0, t0},
  };
  ASSERT_OK(pool_->Run([&](db::Connection& conn) -> absl::Status {
    for (const Legacy& l : legacy) {
      auto& stmt = conn.Prepare(
          "INSERT INTO signals (account_id, event_id, kind, occurred_at, recorded_at, value,"
          " feature, csat) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      stmt.setString(1, l.account);
      stmt.setString(2, l.event_id);
      stmt.setString(3, l.kind);
      stmt.setString(4, db::ToSqlDatetime(l.occurred_at));
      stmt.setString(5, db::ToSqlDatetime(l.recorded_at));
      stmt.setDouble(6, l.value);
      stmt.setString(7, absl::StrReplaceAll(l.feature, {{"\\t", "\t"}}));
      stmt.setDouble(8, l.csat);
      stmt.executeUpdate();
    }
    return absl::OkStatus();
  }));
  ASSERT_OK(MigrateToLatest());

  // Every signal is in the log, field for field: October's four rows of m1 were
  // recorded at two times (two rows), November's one, m2's one.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM signal_log"), 4);
  std::map<std::pair<std::string, std::string>, Signal> logged;
  ASSERT_OK(pool_->Run([&](db::Connection& conn) -> absl::Status {
    std::unique_ptr<sql::ResultSet> rs(
        conn.Prepare("SELECT account_id, signals FROM signal_log").executeQuery());
    while (rs->next()) {
      const std::string account = rs->getString(1);
      RETURN_IF_ERROR(ForEachLoggedSignal(std::string(rs->getString(2)), [&](const Signal& s) {
        logged[{account, s.event_id}] = s;
      }));
    }
    return absl::OkStatus();
  }));
  ASSERT_EQ(logged.size(), legacy.size());
  for (const Legacy& l : legacy) {
    const Signal& s = logged[{l.account, l.event_id}];
    EXPECT_EQ(SignalKindName(s.kind), l.kind) << l.event_id;
    EXPECT_EQ(s.occurred_at, l.occurred_at) << l.event_id;
    EXPECT_EQ(s.value, l.value) << l.event_id;
    EXPECT_EQ(s.feature, absl::StrReplaceAll(l.feature, {{"\\t", "\t"}})) << l.event_id;
    EXPECT_EQ(s.csat, l.csat) << l.event_id;
  }
  // The explanation counts read the log.
  MySqlHealthRepository repo(pool_.get(), &clock_, HealthEncoders());
  absl::StatusOr<std::vector<std::pair<SignalKind, int64_t>>> counts =
      repo.CountSignals("m1", t0 - absl::Hours(1), t0 + absl::Seconds(1));
  ASSERT_OK(counts);
  EXPECT_EQ(*counts, (std::vector<std::pair<SignalKind, int64_t>>{
                         {SignalKind::kFeatureUsed, 1},
                         {SignalKind::kLogin, 1},
                         {SignalKind::kSessionMinutes, 1}}));
  // The keys stay, in the log rows the migration wrote (unnumbered): sending e1
  // again is a duplicate, and so is e2, read from the same month's log once more by
  // a repository whose cache holds nothing.
  EXPECT_EQ(Count(CountLoggedSignalsSql()), 5);
  HealthService health(&repo, &clock_);
  Signal again;
  again.event_id = "e1";
  again.account_id = "m1";
  again.kind = SignalKind::kLogin;
  again.occurred_at = t0;
  auto record = [&](HealthService& service, const Signal& s) {
    return service.RecordSignals({"RecordSignals", "", ""}, db::ResultCodec<IngestResult>(), {s},
                                 {}, false);
  };
  absl::StatusOr<IngestResult> r = record(health, again);
  ASSERT_OK(r);
  EXPECT_EQ(r->duplicates, 1);
  EXPECT_EQ(r->accepted, 0);
  MySqlHealthRepository cold(pool_.get(), &clock_, HealthEncoders());
  cold.SetSignalKeyCacheBytes(0);
  HealthService cold_health(&cold, &clock_);
  Signal e2 = again;
  e2.event_id = "e2";
  e2.kind = SignalKind::kSessionMinutes;
  e2.value = 0.1 + 0.2;
  e2.occurred_at = t0 + absl::Seconds(1);
  r = record(cold_health, e2);
  ASSERT_OK(r);
  EXPECT_EQ(r->duplicates, 1);
  // A key is unique within its account and month of occurrence: e1 dated in
  // November is another signal.
  again.occurred_at = t0 + absl::Hours(1);
  r = record(health, again);
  ASSERT_OK(r);
  EXPECT_EQ(r->accepted, 1);
  EXPECT_EQ(Count(CountLoggedSignalsSql()), 6);
}

// A run stopped after creating the new tables and writing part of them (a killed
// Job) runs again from the start: the copies replace what it wrote.
TEST_F(PackedMigrationDbTest, AStoppedRunCanRunAgain) {
  ASSERT_OK(pool_->Run([&](db::Connection& conn) -> absl::Status {
    conn.Execute("INSERT INTO signal_daily (account_id, day, counter, value) VALUES"
                 " ('m1', '2026-02-03', 'logins', 4), ('m1', '2026-02-04', 'logins', 1)");
    conn.Execute("INSERT INTO signals (account_id, event_id, kind, occurred_at, recorded_at,"
                 " value) VALUES ('m1', 'e1', 'LOGIN', '2026-02-03 10:00:00',"
                 " '2026-02-03 10:00:01', 1)");
    // What the stopped run left: both tables, each with a row of the wrong content.
    conn.Execute("CREATE TABLE signal_counters (account_id VARCHAR(128) NOT NULL,"
                 " month DATE NOT NULL, counters MEDIUMBLOB NOT NULL,"
                 " PRIMARY KEY (account_id, month)) ENGINE=InnoDB");
    conn.Execute("INSERT INTO signal_counters VALUES ('m1', '2026-02-01', '3\\tlogins\\t99')");
    conn.Execute("CREATE TABLE signal_log (account_id VARCHAR(128) NOT NULL,"
                 " month DATE NOT NULL, seq BIGINT UNSIGNED NOT NULL,"
                 " recorded_at DATETIME(6) NOT NULL, signals MEDIUMBLOB NOT NULL,"
                 " PRIMARY KEY (account_id, month, seq)) ENGINE=InnoDB");
    conn.Execute("INSERT INTO signal_log VALUES ('m1', '2026-02-01', 1, NOW(6), 'partial')");
    return absl::OkStatus();
  }));
  ASSERT_OK(MigrateToLatest());
  MySqlHealthRepository repo(pool_.get(), &clock_, HealthEncoders());
  std::map<std::string, AccountHistory> seen = Histories(repo);
  EXPECT_EQ(seen["m1"].counters.Sum("logins", absl::CivilDay(2026, 2, 1),
                                    absl::CivilDay(2026, 2, 28)),
            5);
  absl::StatusOr<std::vector<std::pair<SignalKind, int64_t>>> counts =
      repo.CountSignals("m1", absl::FromUnixSeconds(0), clock_.Now());
  ASSERT_OK(counts);
  EXPECT_EQ(*counts, (std::vector<std::pair<SignalKind, int64_t>>{{SignalKind::kLogin, 1}}));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM signal_log"), 1);
}

}  // namespace
}  // namespace cs::health
