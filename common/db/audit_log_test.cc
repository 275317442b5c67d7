#include "common/db/audit_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/db/migrations.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"

// The audit table comes from a service's migrations (each service keeps its own).
const std::vector<cs::db::Migration>& health_migrations();

namespace cs::db {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "auditlog");
    pool_ = std::make_unique<Pool>(db_->config());
    ASSERT_OK(ApplyMigrations(*pool_, {{"common", &common_migrations()},
                                       {"health", &health_migrations()}}));
    locker_ = std::make_unique<Pool>(db_->config());
  }

  static std::vector<AuditRecord> Call(const std::string& request_id, int rows) {
    std::vector<AuditRecord> out(rows);
    for (int i = 0; i < rows; ++i) {
      out[i].occurred_at = absl::FromUnixSeconds(1'795'000'000);
      out[i].principal = "svc-crm";
      out[i].method = "/cs.health.v1.AccountHealthService/RecordSignals";
      out[i].account_id = absl::StrCat("acct-", i);
      out[i].request_id = request_id;
      out[i].peer = "ipv4:127.0.0.1:5000";
    }
    return out;
  }

  // Runs `first` while audit_events is locked by another session, so its group's
  // insert waits; the calls of `behind` queue meanwhile and, once the table is
  // unlocked, form the next group together. Returns each call's status, `first`'s
  // last.
  std::vector<absl::Status> RunBehindBlockedGroup(AuditLog& log, const std::vector<AuditRecord>& first,
                                                  const std::vector<std::vector<AuditRecord>>& behind) {
    absl::StatusOr<Pool::Lease> lock = locker_->Acquire();
    EXPECT_OK(lock);
    (*lock)->Execute("LOCK TABLES audit_events WRITE");
    std::vector<absl::Status> out(behind.size() + 1);
    std::vector<std::thread> threads;
    threads.emplace_back([&] { out.back() = log.Append(first); });
    while (log.stats().calls < 1) absl::SleepFor(absl::Milliseconds(1));
    for (size_t i = 0; i < behind.size(); ++i) {
      threads.emplace_back([&, i] { out[i] = log.Append(behind[i]); });
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (log.stats().waiting < static_cast<int>(behind.size()) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    EXPECT_EQ(log.stats().waiting, static_cast<int>(behind.size()));
    (*lock)->Execute("UNLOCK TABLES");
    for (std::thread& t : threads) t.join();
    return out;
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<Pool> locker_;
};

// Ten calls that arrive while one group writes are written by the next group, in
// one transaction, each call's rows together and in order.
TEST_F(AuditLogTest, CallsThatQueueBehindAGroupAreWrittenTogether) {
  AuditLog log(pool_.get());
  std::vector<std::vector<AuditRecord>> behind;
  for (int i = 0; i < 10; ++i) behind.push_back(Call(absl::StrCat("req-", i), 1 + i % 3));
  for (const absl::Status& s : RunBehindBlockedGroup(log, Call("req-first", 2), behind)) {
    EXPECT_OK(s);
  }
  const AuditLog::Stats stats = log.stats();
  EXPECT_EQ(stats.calls, 11);
  EXPECT_EQ(stats.groups, 2);
  EXPECT_EQ(stats.alone, 0);
  EXPECT_EQ(stats.waiting, 0);
  EXPECT_EQ(cs::testing::QueryInt(*pool_, "SELECT COUNT(*) FROM audit_events"), 2 + 19);
  for (int i = 0; i < 10; ++i) {
    const std::string id = absl::StrCat("req-", i);
    EXPECT_EQ(cs::testing::QueryInt(
                  *pool_, absl::StrCat("SELECT COUNT(*) FROM audit_events WHERE request_id = '", id, "'")),
              1 + i % 3);
    // A call's rows are consecutive, in the order the call gave them.
    EXPECT_EQ(cs::testing::QueryRows(
                  *pool_, absl::StrCat("SELECT MAX(event_id) - MIN(event_id) + 1 = COUNT(*),"
                                       " GROUP_CONCAT(account_id ORDER BY event_id)"
                                       " FROM audit_events WHERE request_id = '",
                                       id, "'")),
              std::vector<std::string>{
                  absl::StrCat("1\t", i % 3 == 0 ? "acct-0" : i % 3 == 1 ? "acct-0,acct-1" : "acct-0,acct-1,acct-2")});
  }
}

// A call whose rows the database refuses fails alone: its group is written again call
// by call, the others' rows land once, and none of the bad call's rows, not even its
// valid one, is kept.
TEST_F(AuditLogTest, ACallTheDatabaseRefusesFailsAloneAndWritesNothing) {
  AuditLog log(pool_.get());
  std::vector<AuditRecord> bad = Call("req-bad", 2);
  bad[1].occurred_at = absl::FromCivil(absl::CivilSecond(10000, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  const std::vector<absl::Status> out =
      RunBehindBlockedGroup(log, Call("req-first", 1), {Call("req-a", 2), bad, Call("req-b", 3)});
  EXPECT_OK(out[0]);
  EXPECT_FALSE(out[1].ok());
  EXPECT_OK(out[2]);
  EXPECT_OK(out[3]);
  const AuditLog::Stats stats = log.stats();
  EXPECT_EQ(stats.groups, 2);
  EXPECT_EQ(stats.alone, 3);
  EXPECT_EQ(cs::testing::QueryRows(*pool_,
                                   "SELECT request_id, COUNT(*) FROM audit_events"
                                   " GROUP BY request_id ORDER BY request_id"),
            (std::vector<std::string>{"req-a\t2", "req-b\t3", "req-first\t1"}));
}

// Many callers at once: every row of every call is written exactly once.
TEST_F(AuditLogTest, ConcurrentCallersLoseNoRow) {
  AuditLog log(pool_.get(), /*max_group_rows=*/16);
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (!log.Append(Call(absl::StrCat("t", t, "-", i), 1 + (t + i) % 4)).ok()) ++failed;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  int expected = 0;
  for (int t = 0; t < 8; ++t) {
    for (int i = 0; i < 25; ++i) expected += 1 + (t + i) % 4;
  }
  EXPECT_EQ(cs::testing::QueryInt(*pool_, "SELECT COUNT(*) FROM audit_events"), expected);
  EXPECT_EQ(cs::testing::QueryInt(*pool_, "SELECT COUNT(DISTINCT request_id) FROM audit_events"), 200);
  EXPECT_EQ(log.stats().calls, 200);
  EXPECT_LE(log.stats().groups, 200);
}

// With groups off every call is its own write.
TEST_F(AuditLogTest, GroupsOffWritesEachCallAlone) {
  AuditLog log(pool_.get(), /*max_group_rows=*/1);
  ASSERT_OK(log.Append(Call("one", 3)));
  ASSERT_OK(log.Append(Call("two", 1)));
  EXPECT_EQ(log.stats().groups, 2);
  EXPECT_EQ(cs::testing::QueryInt(*pool_, "SELECT COUNT(*) FROM audit_events"), 4);
}

}  // namespace
}  // namespace cs::db
