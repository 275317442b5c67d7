#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "common/db/migrations.h"
#include "common/server/proto_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "services/health/account_service.h"
#include "services/health/event_service.h"
#include "services/health/mysql_account_repository.h"
#include "services/health/mysql_event_repository.h"
#include "services/health/proto_mapping.h"

namespace cs::health {
namespace {

using ::cs::testing::StatusIs;

class EventServiceDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "hevents");
    pool_ = std::make_unique<db::Pool>(db_->config());
    ASSERT_OK(db::ApplyMigrations(
        *pool_, {{"common", &common_migrations()}, {"health", &health_migrations()}}));
    accounts_repo_ =
        std::make_unique<MySqlAccountRepository>(pool_.get(), &clock_, EncodeAccountEvent);
    accounts_ = std::make_unique<AccountService>(accounts_repo_.get(), &clock_);
    events_repo_ = std::make_unique<MySqlEventRepository>(pool_.get());
    EventService::Options options;
    options.poll_interval = absl::Milliseconds(10);
    events_ = std::make_unique<EventService>(events_repo_.get(), options);
    codec_ = ProtoCodec<UpsertAccountResult, cs::health::v1::UpsertAccountResponse>(
        UpsertResultToProto, UpsertResultFromProto);
  }

  void Upsert(const std::string& request_id, const std::string& account_id) {
    Account a;
    a.account_id = account_id;
    a.name = "Name of " + account_id;
    a.employee_count = 40;
    ASSERT_OK(accounts_->UpsertAccount({"UpsertAccount", request_id, "f-" + account_id}, codec_, a));
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<db::Pool> pool_;
  FakeClock clock_{absl::FromUnixSeconds(1'795'000'000)};
  std::unique_ptr<MySqlAccountRepository> accounts_repo_;
  std::unique_ptr<AccountService> accounts_;
  std::unique_ptr<MySqlEventRepository> events_repo_;
  std::unique_ptr<EventService> events_;
  db::ResultCodec<UpsertAccountResult> codec_;
};

TEST_F(EventServiceDbTest, EachUpsertPublishesOneEventAndARetryNone) {
  Upsert("r1", "a1");
  Upsert("r2", "a2");
  Upsert("r1", "a1");  // retry: replayed, no second event
  absl::StatusOr<EventPage> page = events_->ListEvents(0, 0);
  ASSERT_OK(page);
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_EQ(page->last_sequence, 2);
  EXPECT_EQ(page->events[0].sequence, 1);
  EXPECT_EQ(page->events[0].kind, EventKind::kAccountUpserted);
  EXPECT_EQ(page->events[0].account_id, "a1");
  cs::health::v1::Event proto;
  ASSERT_OK(EventToProto(page->events[1], &proto));
  EXPECT_EQ(proto.account().name(), "Name of a2");
  EXPECT_EQ(proto.account().tier(), cs::health::v1::TIER_SMB);

  absl::StatusOr<EventPage> tail = events_->ListEvents(1, 10);
  ASSERT_OK(tail);
  ASSERT_EQ(tail->events.size(), 1u);
  EXPECT_EQ(tail->events[0].account_id, "a2");
}

TEST_F(EventServiceDbTest, MarkChurnedKeepsTheAccountAndPublishesOnce) {
  Upsert("r1", "a1");
  const db::ResultCodec<Account> codec =
      ProtoCodec<Account, cs::health::v1::Account>(AccountToProto, StoredAccountFromProto);
  const absl::CivilDay day(2026, 11, 17);  // the fake clock reads 2026-11-18
  absl::StatusOr<Account> churned =
      accounts_->MarkChurned({"MarkChurned", "c1", "fp"}, codec, "a1", day, "budget cut");
  ASSERT_OK(churned);
  EXPECT_EQ(churned->lifecycle, Lifecycle::kChurned);
  EXPECT_EQ(churned->churned_on, day);
  EXPECT_EQ(churned->version, 2);
  // A retry answers the same; a new request to churn it again is refused.
  absl::StatusOr<Account> retry =
      accounts_->MarkChurned({"MarkChurned", "c1", "fp"}, codec, "a1", day, "budget cut");
  ASSERT_OK(retry);
  EXPECT_EQ(retry->version, 2);
  EXPECT_EQ(retry->churned_on, day);
  EXPECT_THAT(accounts_->MarkChurned({"MarkChurned", "c2", "fp2"}, codec, "a1", day, "again"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(accounts_->MarkChurned({"MarkChurned", "c3", "fp"}, codec, "ghost", day, "x"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(accounts_->MarkChurned({"MarkChurned", "c4", "fp"}, codec, "a1",
                                     absl::CivilDay(2026, 11, 20), "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("churned_on")));
  EXPECT_THAT(accounts_->MarkChurned({"MarkChurned", "c5", "fp"}, codec, "a1", day, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("reason")));

  // An upsert from the CRM afterwards does not silently revive the account.
  Upsert("r2", "a1");
  absl::StatusOr<Account> got = accounts_->GetAccount("a1");
  ASSERT_OK(got);
  EXPECT_EQ(got->lifecycle, Lifecycle::kChurned);
  EXPECT_EQ(got->churn_reason, "budget cut");

  absl::StatusOr<EventPage> page = events_->ListEvents(0, 0);
  ASSERT_OK(page);
  ASSERT_EQ(page->events.size(), 3u);  // upsert, churn, upsert
  EXPECT_EQ(page->events[1].kind, EventKind::kAccountChurned);
  cs::health::v1::Event proto;
  ASSERT_OK(EventToProto(page->events[1], &proto));
  EXPECT_EQ(proto.account().churn_reason(), "budget cut");
  EXPECT_EQ(proto.account().churned_on().day(), 17);
}

TEST_F(EventServiceDbTest, BadRequestsNameTheField) {
  EXPECT_THAT(events_->ListEvents(-1, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("after_sequence")));
  EXPECT_THAT(events_->ListEvents(0, 5000),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("page_size")));
  EventService::WatchSink sink{[](const Event&) { return false; },
                               [](int64_t, absl::Time) { return false; }};
  EXPECT_THAT(events_->Watch(0, absl::Milliseconds(1), sink),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("heartbeat_interval")));
}

TEST_F(EventServiceDbTest, WatchResumesAfterTheGivenSequenceThenFollowsNewEvents) {
  Upsert("r1", "a1");
  Upsert("r2", "a2");
  std::vector<int64_t> seen;
  int heartbeats = 0;
  EventService::WatchSink sink;
  sink.event = [&](const Event& e) {
    seen.push_back(e.sequence);
    return seen.size() < 2;  // a2, then the one written while watching
  };
  sink.heartbeat = [&](int64_t last, absl::Time) {
    EXPECT_EQ(last, seen.empty() ? 1 : seen.back());
    ++heartbeats;
    return true;
  };
  std::thread writer([&] {
    absl::SleepFor(absl::Milliseconds(400));
    Upsert("r3", "a3");
  });
  ASSERT_OK(events_->Watch(/*after_sequence=*/1, absl::Milliseconds(100), sink));
  writer.join();
  // Sequence 1 was not repeated; 3 arrived live.
  EXPECT_THAT(seen, ::testing::ElementsAre(2, 3));
  EXPECT_GE(heartbeats, 2);  // ~400 ms of silence at 100 ms heartbeats
}

TEST_F(EventServiceDbTest, StopEndsAWatchWithUnavailable) {
  EventService::WatchSink sink{[](const Event&) { return true; },
                               [](int64_t, absl::Time) { return true; }};
  std::thread stopper([&] {
    absl::SleepFor(absl::Milliseconds(200));
    events_->Stop();
  });
  EXPECT_THAT(events_->Watch(0, absl::Seconds(1), sink),
              StatusIs(absl::StatusCode::kUnavailable));
  stopper.join();
}

}  // namespace
}  // namespace cs::health
