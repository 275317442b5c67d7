#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "common/db/migrations.h"
#include "common/server/proto_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "services/expansion/mysql_revenue_repository.h"
#include "services/expansion/proto_mapping.h"
#include "services/expansion/revenue_service.h"

namespace cs::expansion {
namespace {

using ::cs::testing::StatusIs;

class RevenueDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "exp");
    pool_ = std::make_unique<db::Pool>(db_->config());
    ASSERT_OK(db::ApplyMigrations(
        *pool_, {{"common", &common_migrations()}, {"expansion", &expansion_migrations()}}));
    repository_ = std::make_unique<MySqlRevenueRepository>(pool_.get(), &clock_);
    service_ = std::make_unique<RevenueService>(repository_.get(), &clock_);
    codec_ = ProtoCodec<RevenueMovement, cs::expansion::v1::RevenueMovement>(MovementToProto,
                                                                            MovementFromProto);
  }

  absl::StatusOr<RevenueMovement> Record(const std::string& request_id, const std::string& account,
                                         MovementKind kind, int64_t amount,
                                         const std::string& currency = "USD") {
    RevenueMovement m;
    m.account_id = account;
    m.month = absl::CivilMonth(2026, 9);
    m.kind = kind;
    m.mrr_change = {amount, currency};
    return service_->RecordMovement({"Record", request_id, request_id + "-fp"}, codec_, m);
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<db::Pool> pool_;
  FakeClock clock_{absl::FromUnixSeconds(1'795'000'000)};
  std::unique_ptr<MySqlRevenueRepository> repository_;
  std::unique_ptr<RevenueService> service_;
  db::ResultCodec<RevenueMovement> codec_;
};

TEST_F(RevenueDbTest, RetriedMovementIsPostedOnce) {
  absl::StatusOr<RevenueMovement> first = Record("r1", "acme", MovementKind::kNew, 100'000);
  ASSERT_OK(first);
  absl::StatusOr<RevenueMovement> retry = Record("r1", "acme", MovementKind::kNew, 100'000);
  ASSERT_OK(retry);
  EXPECT_EQ(retry->movement_id, first->movement_id);
  absl::StatusOr<MovementPage> page = service_->ListMovements("acme", 0, 50);
  ASSERT_OK(page);
  EXPECT_EQ(page->movements.size(), 1u);
}

TEST_F(RevenueDbTest, RequestIdIsRequired) {
  EXPECT_THAT(Record("", "acme", MovementKind::kNew, 1),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("request_id")));
}

TEST_F(RevenueDbTest, CurrencyCannotBeMixedWithinAnAccount) {
  ASSERT_OK(Record("r1", "acme", MovementKind::kNew, 100'000, "USD"));
  EXPECT_THAT(Record("r2", "acme", MovementKind::kExpansion, 5'000, "EUR"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK(Record("r3", "globex", MovementKind::kNew, 9'000, "EUR"));
  EXPECT_EQ(service_->ListMovements("", 0, 50)->movements.size(), 2u);
}

TEST_F(RevenueDbTest, PagesCoverEveryMovementOnce) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_OK(Record("p" + std::to_string(i), "acme", MovementKind::kExpansion, 100 + i));
  }
  std::vector<int64_t> seen;
  int64_t after = 0;
  int pages = 0;
  do {
    absl::StatusOr<MovementPage> page = service_->ListMovements("acme", after, 3);
    ASSERT_OK(page);
    for (const auto& m : page->movements) seen.push_back(m.mrr_change.minor_units);
    after = page->next_after_id;
    ++pages;
  } while (after != 0);
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen, ::testing::ElementsAre(100, 101, 102, 103, 104, 105, 106));
}

}  // namespace
}  // namespace cs::expansion
