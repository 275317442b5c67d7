#include "common/db/event_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/db/migrations.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"

namespace cs::db {
namespace {

class EventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "evlog");
    pool_ = std::make_unique<Pool>(db_->config());
    ASSERT_OK(ApplyMigrations(*pool_, {{"common", &common_migrations()}}));
  }

  absl::Status Append(int count, bool commit) {
    return pool_->InTransaction([&](Connection& c) -> absl::Status {
      std::vector<LoggedEvent> events(count);
      for (auto& e : events) {
        e.kind = "THING_HAPPENED";
        e.subject_id = "acct";
        e.occurred_at = absl::FromUnixSeconds(1'795'000'000);
        e.payload = std::string("bytes\0with nul", 14);
      }
      AppendEvents(c, events);
      return commit ? absl::OkStatus() : absl::AbortedError("roll back");
    }, /*attempts=*/1);
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<Pool> pool_;
};

TEST_F(EventLogTest, SequencesAreConsecutiveAndPayloadsIntact) {
  ASSERT_OK(Append(3, true));
  ASSERT_OK(Append(2, true));
  absl::StatusOr<std::vector<LoggedEvent>> events = ReadEvents(*pool_, 0, 100);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*events)[i].sequence, i + 1);
  EXPECT_EQ((*events)[0].payload, std::string("bytes\0with nul", 14));
  EXPECT_EQ((*events)[0].occurred_at, absl::FromUnixSeconds(1'795'000'000));
  absl::StatusOr<std::vector<LoggedEvent>> tail = ReadEvents(*pool_, 3, 100);
  ASSERT_OK(tail);
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ(tail->front().sequence, 4);
  EXPECT_EQ(*LastSequence(*pool_), 5);
}

// 70 events go out as multi-row statements of 64, 4, 1 and 1 rows: each keeps its
// own place, subject, time and payload.
TEST_F(EventLogTest, AnAppendOfManyEventsKeepsEachInItsPlace) {
  ASSERT_OK(Append(1, true));
  ASSERT_OK(pool_->InTransaction([&](Connection& c) -> absl::Status {
    std::vector<LoggedEvent> events(70);
    for (int i = 0; i < 70; ++i) {
      events[i].kind = i % 2 == 0 ? "EVEN" : "ODD";
      events[i].subject_id = absl::StrCat("acct-", i);
      events[i].occurred_at = absl::FromUnixSeconds(1'795'000'000 + i);
      events[i].payload = std::string(static_cast<size_t>(i), static_cast<char>(i));
    }
    AppendEvents(c, events);
    for (int i = 0; i < 70; ++i) EXPECT_EQ(events[i].sequence, i + 2);
    return absl::OkStatus();
  }));
  absl::StatusOr<std::vector<LoggedEvent>> read = ReadEvents(*pool_, 1, 100);
  ASSERT_OK(read);
  ASSERT_EQ(read->size(), 70u);
  for (int i = 0; i < 70; ++i) {
    const LoggedEvent& e = (*read)[i];
    EXPECT_EQ(e.sequence, i + 2);
    EXPECT_EQ(e.kind, i % 2 == 0 ? "EVEN" : "ODD");
    EXPECT_EQ(e.subject_id, absl::StrCat("acct-", i));
    EXPECT_EQ(e.occurred_at, absl::FromUnixSeconds(1'795'000'000 + i));
    EXPECT_EQ(e.payload, std::string(static_cast<size_t>(i), static_cast<char>(i)));
  }
  EXPECT_EQ(*LastSequence(*pool_), 71);
}

// Payloads are serialized protos: any byte, UTF-8 or not, and payloads above the
// 256 KiB past which a string parameter is sent in pieces, come back as written.
TEST_F(EventLogTest, PayloadsOfAnyBytesAndSizeComeBackAsWritten) {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  std::string large;
  for (int i = 0; i < 300 * 1024; ++i) large += static_cast<char>((i * 131) % 256);
  const std::vector<std::string> payloads = {every_byte, "\xff\xfe\xc3(\x80", large, ""};
  ASSERT_OK(pool_->InTransaction([&](Connection& c) -> absl::Status {
    std::vector<LoggedEvent> events(payloads.size());
    for (size_t i = 0; i < payloads.size(); ++i) {
      events[i].kind = "BYTES";
      events[i].subject_id = "acct";
      events[i].occurred_at = absl::FromUnixSeconds(1'795'000'000);
      events[i].payload = payloads[i];
    }
    AppendEvents(c, events);
    return absl::OkStatus();
  }));
  absl::StatusOr<std::vector<LoggedEvent>> read = ReadEvents(*pool_, 0, 100);
  ASSERT_OK(read);
  ASSERT_EQ(read->size(), payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) {
    EXPECT_EQ((*read)[i].payload.size(), payloads[i].size()) << i;
    EXPECT_TRUE((*read)[i].payload == payloads[i]) << i;
  }
}

TEST_F(EventLogTest, ARolledBackWriteLeavesNoGap) {
  ASSERT_OK(Append(2, true));
  EXPECT_FALSE(Append(4, false).ok());
  ASSERT_OK(Append(1, true));
  absl::StatusOr<std::vector<LoggedEvent>> events = ReadEvents(*pool_, 0, 100);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ(events->back().sequence, 3);
}

TEST_F(EventLogTest, ConcurrentWritersProduceAGapFreeLog) {
  constexpr int kWriters = 8;
  constexpr int kTransactions = 15;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&] {
      for (int t = 0; t < kTransactions; ++t) {
        if (!Append(1 + t % 3, true).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  int expected = 0;
  for (int t = 0; t < kTransactions; ++t) expected += 1 + t % 3;
  expected *= kWriters;
  absl::StatusOr<std::vector<LoggedEvent>> events = ReadEvents(*pool_, 0, 10000);
  ASSERT_OK(events);
  ASSERT_EQ(static_cast<int>(events->size()), expected);
  for (int i = 0; i < expected; ++i) ASSERT_EQ((*events)[i].sequence, i + 1);
}

}  // namespace
}  // namespace cs::db
