#include "common/db/pool.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>

#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"

namespace cs::db {
namespace {

using ::cs::testing::StatusIs;

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "pool");
    pool_ = std::make_unique<Pool>(db_->config());
    ASSERT_OK(pool_->EnsureSchema());
    ASSERT_OK(pool_->Run([](Connection& c) {
      c.Execute("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(32) NOT NULL)");
      return absl::OkStatus();
    }));
  }

  int64_t Count() {
    int64_t n = -1;
    EXPECT_OK(pool_->Run([&](Connection& c) {
      std::unique_ptr<sql::ResultSet> rs(c.Prepare("SELECT COUNT(*) FROM items").executeQuery());
      rs->next();
      n = rs->getInt64(1);
      return absl::OkStatus();
    }));
    return n;
  }

  void KillConnection(int64_t id) {
    ASSERT_OK(pool_->Run([&](Connection& c) {
      auto& kill = c.Prepare("KILL CONNECTION ?");
      kill.setInt64(1, id);
      kill.execute();
      return absl::OkStatus();
    }));
  }

  static void Insert(Connection& c, int id) {
    auto& stmt = c.Prepare("INSERT INTO items (id, name) VALUES (?, ?)");
    stmt.setInt(1, id);
    stmt.setString(2, "item");
    stmt.executeUpdate();
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<Pool> pool_;
};

TEST_F(PoolTest, CommitsOnOkAndRollsBackOnError) {
  ASSERT_OK(pool_->InTransaction([](Connection& c) {
    Insert(c, 1);
    return absl::OkStatus();
  }));
  EXPECT_THAT(pool_->InTransaction([](Connection& c) {
    Insert(c, 2);
    return absl::FailedPreconditionError("changed my mind");
  }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Count(), 1);
}

TEST_F(PoolTest, MapsDuplicateKeyToAlreadyExistsAndWritesNothing) {
  EXPECT_THAT(pool_->InTransaction([](Connection& c) {
    Insert(c, 7);
    Insert(c, 7);
    return absl::OkStatus();
  }),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(Count(), 0);
}

TEST_F(PoolTest, HidesSqlTextInErrors) {
  absl::Status s = pool_->Run([](Connection& c) {
    c.Execute("SELECT * FROM no_such_table");
    return absl::OkStatus();
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(s.message().find("no_such_table"), absl::string_view::npos);
}

// The server-side id of the connection `pool` lends next (its only one, size 1).
int64_t ConnectionIdOf(Pool& pool) {
  int64_t id = 0;
  EXPECT_OK(pool.Run([&](Connection& c) {
    std::unique_ptr<sql::ResultSet> rs(c.Prepare("SELECT CONNECTION_ID()").executeQuery());
    rs->next();
    id = rs->getInt64(1);
    return absl::OkStatus();
  }));
  return id;
}

absl::Status SelectOne(Pool& pool) {
  return pool.Run([](Connection& c) {
    c.Execute("SELECT 1");
    return absl::OkStatus();
  });
}

// The session's statement counters of the connection `pool` lends next (size 1).
std::map<std::string, int64_t> SessionCounts(Pool& pool) {
  std::map<std::string, int64_t> out;
  EXPECT_OK(pool.Run([&](Connection& c) {
    std::unique_ptr<sql::ResultSet> rs(
        c.Prepare("SHOW SESSION STATUS WHERE Variable_name IN"
                  " ('Com_begin', 'Com_commit', 'Com_rollback', 'Com_set_option')")
            .executeQuery());
    while (rs->next()) out[std::string(rs->getString(1))] = rs->getInt64(2);
    return absl::OkStatus();
  }));
  return out;
}

// A transaction begins with one statement and ends with its COMMIT or ROLLBACK:
// the session stays in autocommit, so no statement switches it off and on again.
TEST_F(PoolTest, ATransactionIsOneStatementToBeginAndOneToEnd) {
  DbConfig one = db_->config();
  one.pool_size = 1;
  Pool pool(one);
  const std::map<std::string, int64_t> before = SessionCounts(pool);
  ASSERT_OK(pool.InTransaction([](Connection& c) {
    Insert(c, 1);
    return absl::OkStatus();
  }));
  EXPECT_THAT(pool.InTransaction([](Connection& c) {
    Insert(c, 2);
    return absl::AbortedError("conflict");
  }, /*attempts=*/1),
              StatusIs(absl::StatusCode::kAborted));
  std::map<std::string, int64_t> after = SessionCounts(pool);
  EXPECT_EQ(after["Com_begin"] - before.at("Com_begin"), 2);
  EXPECT_EQ(after["Com_commit"] - before.at("Com_commit"), 1);
  EXPECT_EQ(after["Com_rollback"] - before.at("Com_rollback"), 1);
  EXPECT_EQ(after["Com_set_option"] - before.at("Com_set_option"), 0);
  // Outside a transaction each statement commits on its own, as before.
  ASSERT_OK(pool.Run([](Connection& c) {
    Insert(c, 3);
    return absl::OkStatus();
  }));
  EXPECT_EQ(Count(), 2);
}

TEST_F(PoolTest, ReplacesAConnectionTheServerKilled) {
  DbConfig one = db_->config();
  one.pool_size = 1;
  Pool pool(one);
  const int64_t first_id = ConnectionIdOf(pool);
  KillConnection(first_id);  // from the outside, as a server restart would
  // The first use of the dead connection fails UNAVAILABLE and drops it ...
  EXPECT_THAT(SelectOne(pool), StatusIs(absl::StatusCode::kUnavailable));
  // ... and the next call gets a fresh one.
  EXPECT_NE(ConnectionIdOf(pool), first_id);
  EXPECT_EQ(pool.stats().open, 1);
  EXPECT_EQ(pool.stats().created_total, 2u);
}

TEST_F(PoolTest, IdleConnectionIsCheckedBeforeItIsLentOut) {
  DbConfig one = db_->config();
  one.pool_size = 1;
  one.validate_after_idle = absl::ZeroDuration();  // check every connection
  Pool pool(one);
  KillConnection(ConnectionIdOf(pool));
  // Unlike a connection in steady use, no caller sees the dead one.
  EXPECT_OK(SelectOne(pool));
  EXPECT_EQ(pool.stats().created_total, 2u);
}

TEST_F(PoolTest, PingAnswersWhileEveryPooledConnectionIsBusy) {
  DbConfig one = db_->config();
  one.pool_size = 1;
  one.pool_wait = absl::Milliseconds(100);
  Pool pool(one);
  absl::StatusOr<Pool::Lease> held = pool.Acquire();
  ASSERT_OK(held);
  EXPECT_THAT(pool.Acquire(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_OK(pool.Ping());  // the health check is not starved by load
}

TEST_F(PoolTest, WaitIsBounded) {
  DbConfig one = db_->config();
  one.pool_size = 1;
  one.pool_wait = absl::Milliseconds(200);
  Pool pool(one);
  absl::StatusOr<Pool::Lease> held = pool.Acquire();
  ASSERT_OK(held);
  const absl::Time start = absl::Now();
  EXPECT_THAT(pool.Acquire(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(190));
  EXPECT_EQ(pool.stats().wait_timeouts_total, 1u);
}

TEST_F(PoolTest, UnreachableServerIsUnavailable) {
  DbConfig nowhere = db_->config();
  nowhere.port = 1;  // nothing listens there
  Pool pool(nowhere);
  EXPECT_THAT(pool.Ping(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(pool.stats().open, 0);
}

TEST(SqlDatetimeTest, RoundTripsMicroseconds) {
  const absl::Time t = absl::FromUnixMicros(1'795'000'000'123'456);
  EXPECT_EQ(ToSqlDatetime(t), "2026-11-18 11:06:40.123456");
  absl::StatusOr<absl::Time> back = FromSqlDatetime(ToSqlDatetime(t));
  ASSERT_OK(back);
  EXPECT_EQ(*back, t);
  EXPECT_THAT(FromSqlDatetime("2026-11-18 07:06:40"), cs::testing::IsOk());
}

// The hand-written text of both directions is absl's, over times across DATETIME's
// range, with every fraction length the server may send, and bad text is refused.
TEST(SqlDatetimeTest, AgreesWithAbslOverRandomTimes) {
  std::mt19937_64 rng(20261205);
  const int64_t first = absl::ToUnixMicros(absl::FromCivil(absl::CivilSecond(1000, 1, 1, 0, 0, 0),
                                                           absl::UTCTimeZone()));
  const int64_t last = absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone()));
  std::uniform_int_distribution<int64_t> micros(first, last);
  for (int i = 0; i < 20000; ++i) {
    const absl::Time t = absl::FromUnixMicros(micros(rng));
    const std::string text = ToSqlDatetime(t);
    ASSERT_EQ(text, absl::FormatTime("%Y-%m-%d %H:%M:%E6S", t, absl::UTCTimeZone()));
    absl::StatusOr<absl::Time> back = FromSqlDatetime(text);
    ASSERT_OK(back);
    ASSERT_EQ(*back, t) << text;
    // Shorter fractions, as DATETIME(0..5) columns send them, and none.
    const size_t digits = static_cast<size_t>(i % 7);
    const std::string shorter = digits == 0 ? text.substr(0, 19) : text.substr(0, 20 + digits);
    absl::Time want;
    std::string err;
    ASSERT_TRUE(absl::ParseTime("%Y-%m-%d %H:%M:%E*S", shorter, absl::UTCTimeZone(), &want, &err));
    back = FromSqlDatetime(shorter);
    ASSERT_OK(back);
    ASSERT_EQ(*back, want) << shorter;
  }
  // Before the epoch the fraction still counts up from the whole second.
  EXPECT_EQ(ToSqlDatetime(absl::FromUnixMicros(-1)), "1969-12-31 23:59:59.999999");
  // Outside DATETIME's years the text is absl's own.
  const absl::Time early = absl::FromCivil(absl::CivilSecond(999, 5, 1, 0, 0, 0),
                                           absl::UTCTimeZone());
  EXPECT_EQ(ToSqlDatetime(early), absl::FormatTime("%Y-%m-%d %H:%M:%E6S", early,
                                                   absl::UTCTimeZone()));
  for (const char* bad : {"2026-02-30 00:00:00", "2026-13-01 00:00:00", "2026-11-18 24:00:00",
                          "2026-11-18 07:06:40.", "2026-11-18 07:06:4x", "2026-11-18T07:06:40",
                          "", "yesterday"}) {
    EXPECT_FALSE(FromSqlDatetime(bad).ok()) << bad;
  }
  // absl's parser still takes what the fast path leaves to it.
  absl::StatusOr<absl::Time> long_fraction = FromSqlDatetime("2026-11-18 07:06:40.123456789");
  ASSERT_OK(long_fraction);
  EXPECT_EQ(absl::ToUnixNanos(*long_fraction) % 1'000'000'000, 123456789);
}

}  // namespace
}  // namespace cs::db
