#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "common/db/migrations.h"
#include "common/server/proto_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "services/playbooks/escalation_service.h"
#include "services/playbooks/mysql_escalation_repository.h"
#include "services/playbooks/proto_mapping.h"

namespace cs::playbooks {
namespace {

using ::cs::testing::StatusIs;

class EscalationDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "pb");
    pool_ = std::make_unique<db::Pool>(db_->config());
    ASSERT_OK(db::ApplyMigrations(
        *pool_, {{"common", &common_migrations()}, {"playbooks", &playbooks_migrations()}}));
    repository_ = std::make_unique<MySqlEscalationRepository>(pool_.get(), &clock_);
    service_ = std::make_unique<EscalationService>(repository_.get(), &clock_);
    codec_ = ProtoCodec<EscalationChain, cs::playbooks::v1::EscalationChain>(ChainToProto,
                                                                            ChainFromProto);
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<db::Pool> pool_;
  FakeClock clock_{absl::FromUnixSeconds(1'795'000'000)};
  std::unique_ptr<MySqlEscalationRepository> repository_;
  std::unique_ptr<EscalationService> service_;
  db::ResultCodec<EscalationChain> codec_;
};

TEST_F(EscalationDbTest, DefaultChainIsSeeded) {
  absl::StatusOr<EscalationChain> chain = service_->GetChain("default");
  ASSERT_OK(chain);
  EXPECT_EQ(chain->levels, DefaultEscalationChain().levels);
}

TEST_F(EscalationDbTest, ReplacesLevelsAndBumpsVersion) {
  EscalationChain chain;
  chain.chain_id = "emea";
  chain.levels = {{Role::kCsm, ""}, {Role::kCsManager, "mgr-1"}};
  absl::StatusOr<EscalationChain> v1 = service_->UpsertChain({"U", "a", "fa"}, codec_, chain);
  ASSERT_OK(v1);
  EXPECT_EQ(v1->version, 1);
  chain.levels.push_back({Role::kVpCustomerSuccess, "vp-1"});
  absl::StatusOr<EscalationChain> v2 = service_->UpsertChain({"U", "b", "fb"}, codec_, chain);
  ASSERT_OK(v2);
  EXPECT_EQ(v2->version, 2);
  absl::StatusOr<EscalationChain> got = service_->GetChain("emea");
  ASSERT_OK(got);
  EXPECT_EQ(got->levels, chain.levels);
  // A retry of the first request answers as the first time and changes nothing.
  absl::StatusOr<EscalationChain> retry = service_->UpsertChain({"U", "a", "fa"}, codec_, chain);
  ASSERT_OK(retry);
  EXPECT_EQ(retry->version, 1);
  EXPECT_EQ(service_->GetChain("emea")->version, 2);
}

TEST_F(EscalationDbTest, ListsEveryChainById) {
  EscalationChain chain;
  chain.chain_id = "apac";
  chain.levels = {{Role::kCsm, ""}, {Role::kDirector, "dir-9"}};
  ASSERT_OK(service_->UpsertChain({"U", "apac", "fa"}, codec_, chain));
  absl::StatusOr<std::vector<EscalationChain>> all = service_->ListChains();
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].chain_id, "apac");
  EXPECT_EQ((*all)[0].levels, chain.levels);
  EXPECT_EQ((*all)[1].chain_id, "default");
  EXPECT_EQ((*all)[1].levels, DefaultEscalationChain().levels);
}

TEST_F(EscalationDbTest, UnknownChainIsNotFound) {
  EXPECT_THAT(service_->GetChain("nope"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace cs::playbooks
