#include "common/db/idempotency.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/db/migrations.h"
#include "common/status.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"

namespace cs::db {
namespace {

using ::cs::testing::StatusIs;

// A write that appends a row to a ledger and answers with the row's id.
class IdempotencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "idem");
    pool_ = std::make_unique<Pool>(db_->config());
    static const auto* kLedger = new std::vector<Migration>{
        {1, "ledger", "CREATE TABLE ledger (id BIGINT AUTO_INCREMENT PRIMARY KEY, amount INT)"}};
    ASSERT_OK(ApplyMigrations(*pool_, {{"common", &common_migrations()}, {"t", kLedger}}));
    codec_.encode = [](const int64_t& v) { return absl::StrCat(v); };
    codec_.decode = [](const std::string& s) -> absl::StatusOr<int64_t> {
      int64_t v;
      if (!absl::SimpleAtoi(s, &v)) return absl::InternalError("bad");
      return v;
    };
  }

  absl::StatusOr<int64_t> Append(const WriteKey& key, int amount) {
    return RunIdempotent<int64_t>(*pool_, clock_, key, codec_,
                                  [&](Connection& c) -> absl::StatusOr<int64_t> {
                                    ++writes_;
                                    auto& ins = c.Prepare("INSERT INTO ledger (amount) VALUES (?)");
                                    ins.setInt(1, amount);
                                    ins.executeUpdate();
                                    std::unique_ptr<sql::ResultSet> rs(
                                        c.Prepare("SELECT LAST_INSERT_ID()").executeQuery());
                                    rs->next();
                                    return rs->getInt64(1);
                                  });
  }

  int64_t Rows() {
    int64_t n = -1;
    EXPECT_OK(pool_->Run([&](Connection& c) {
      std::unique_ptr<sql::ResultSet> rs(c.Prepare("SELECT COUNT(*) FROM ledger").executeQuery());
      rs->next();
      n = rs->getInt64(1);
      return absl::OkStatus();
    }));
    return n;
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<Pool> pool_;
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  ResultCodec<int64_t> codec_;
  std::atomic<int> writes_{0};
};

TEST_F(IdempotencyTest, RetryReturnsTheFirstAnswerAndWritesOnce) {
  const WriteKey key{"Append", "req-1", "fp-a"};
  absl::StatusOr<int64_t> first = Append(key, 10);
  ASSERT_OK(first);
  absl::StatusOr<int64_t> retry = Append(key, 10);
  ASSERT_OK(retry);
  EXPECT_EQ(*retry, *first);
  EXPECT_EQ(Rows(), 1);
  EXPECT_EQ(writes_.load(), 1);
}

TEST_F(IdempotencyTest, SameIdWithADifferentRequestIsRefused) {
  ASSERT_OK(Append({"Append", "req-2", "fp-a"}, 10));
  EXPECT_THAT(Append({"Append", "req-2", "fp-b"}, 99),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("request_id")));
  EXPECT_EQ(Rows(), 1);
}

TEST_F(IdempotencyTest, EmptyRequestIdIsNotDeduplicated) {
  ASSERT_OK(Append({"Append", "", "fp"}, 1));
  ASSERT_OK(Append({"Append", "", "fp"}, 1));
  EXPECT_EQ(Rows(), 2);
}

TEST_F(IdempotencyTest, ConcurrentRetriesWriteOnce) {
  constexpr int kCallers = 8;
  const WriteKey key{"Append", "req-concurrent", "fp"};
  std::vector<absl::StatusOr<int64_t>> results(kCallers, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] { results[i] = Append(key, 5); });
  }
  for (auto& t : threads) t.join();
  ASSERT_OK(results[0]);
  for (const auto& r : results) {
    ASSERT_OK(r);
    EXPECT_EQ(*r, *results[0]);
  }
  EXPECT_EQ(Rows(), 1);
}

TEST_F(IdempotencyTest, ExpiredAnswersArePurgedInBatches) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(Append({"Append", "old-" + std::to_string(i), "f"}, 1));
  clock_.Advance(absl::Hours(24 * 8));
  ASSERT_OK(Append({"Append", "fresh", "f"}, 1));
  absl::StatusOr<int64_t> purged =
      PurgeStoredResponses(*pool_, clock_.Now() - absl::Hours(24 * 7), /*batch=*/2);
  ASSERT_OK(purged);
  EXPECT_EQ(*purged, 5);
  // The fresh answer is still replayed; an expired id counts as a new request.
  ASSERT_OK(Append({"Append", "fresh", "f"}, 1));
  ASSERT_OK(Append({"Append", "old-0", "f"}, 1));
  EXPECT_EQ(Rows(), 7);
}

// Stored answers are serialized protos: every byte value, and an answer above the
// 256 KiB past which a string parameter is sent in pieces, read back unchanged.
TEST_F(IdempotencyTest, StoredAnswersOfAnyBytesReadBackUnchanged) {
  std::string every_byte;
  for (int b = 255; b >= 0; --b) every_byte += static_cast<char>(b);
  std::string large;
  for (int i = 0; i < 300 * 1024; ++i) large += static_cast<char>((i * 7) % 256);
  int n = 0;
  for (const std::string& answer : {every_byte, large}) {
    const WriteKey key{"Bytes", absl::StrCat("req-", ++n), "fp"};
    ASSERT_OK(pool_->InTransaction([&](Connection& c) -> absl::Status {
      StoreResponse(c, key, answer, clock_.Now());
      return absl::OkStatus();
    }));
    ASSERT_OK(pool_->InTransaction([&](Connection& c) -> absl::Status {
      absl::StatusOr<std::optional<std::string>> stored = FindStoredResponse(c, key);
      EXPECT_OK(stored);
      EXPECT_TRUE(stored.ok() && stored->has_value() && **stored == answer) << n;
      return absl::OkStatus();
    }));
  }
}

// The group form: answers stored in one statement, then read back at once for keys
// of two methods, an id asked twice, an id used for a different request, keys with
// no request id and ids never stored.
TEST_F(IdempotencyTest, StoredAnswersOfAGroupAreReadAndWrittenTogether) {
  const WriteKey a{"/svc/Write", "r1", "fp1"};
  const WriteKey b{"/svc/Write", "r2", "fp2"};
  const WriteKey c{"/svc/Other", "r1", "fp3"};  // same id, another method
  ASSERT_OK(pool_->InTransaction([&](Connection& conn) -> absl::Status {
    StoreResponses(conn, {{&a, "answer-a"}, {&b, std::string("b\0b", 3)}, {&c, "answer-c"}},
                   clock_.Now());
    return absl::OkStatus();
  }));
  const WriteKey a_again{"/svc/Write", "r1", "fp1"};
  const WriteKey b_changed{"/svc/Write", "r2", "fp-other"};
  const WriteKey unnamed{"/svc/Write", "", ""};
  const WriteKey fresh{"/svc/Write", "r9", "fp9"};
  std::vector<std::optional<absl::StatusOr<std::string>>> found;
  ASSERT_OK(pool_->InTransaction([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(found, FindStoredResponses(conn, {&a, &b_changed, &c, &unnamed, &fresh, &a_again}));
    return absl::OkStatus();
  }));
  ASSERT_EQ(found.size(), 6u);
  ASSERT_TRUE(found[0].has_value());
  EXPECT_THAT(*found[0], ::cs::testing::IsOkAndHolds(std::string("answer-a")));
  ASSERT_TRUE(found[1].has_value());
  EXPECT_THAT(*found[1], StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_TRUE(found[2].has_value());
  EXPECT_THAT(*found[2], ::cs::testing::IsOkAndHolds(std::string("answer-c")));
  EXPECT_FALSE(found[3].has_value());
  EXPECT_FALSE(found[4].has_value());
  ASSERT_TRUE(found[5].has_value());
  EXPECT_THAT(*found[5], ::cs::testing::IsOkAndHolds(std::string("answer-a")));

  // A key stored before aborts the transaction, which a retry then answers.
  const absl::Status again = pool_->InTransaction(
      [&](Connection& conn) -> absl::Status {
        StoreResponses(conn, {{&fresh, "answer-9"}, {&a, "answer-a2"}}, clock_.Now());
        return absl::OkStatus();
      },
      /*attempts=*/1);
  EXPECT_THAT(again, StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(cs::testing::QueryInt(*pool_, "SELECT COUNT(*) FROM idempotency_keys"), 3);
}

}  // namespace
}  // namespace cs::db
