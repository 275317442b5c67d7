#ifndef CS_SERVICES_EXPANSION_EXPANSION_DB_FIXTURE_H_
#define CS_SERVICES_EXPANSION_EXPANSION_DB_FIXTURE_H_

// What the expansion ledger and metrics database tests start from: a throwaway
// schema on the real MariaDB with the migrations applied, a fake health service,
// the revenue and opportunity services over the MySQL repositories on a fake clock,
// and Move() to record one ledger movement through the service.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/db/migrations.h"
#include "common/server/proto_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "services/expansion/fake_health_server.h"
#include "services/expansion/grpc_health_client.h"
#include "services/expansion/mysql_opportunity_repository.h"
#include "services/expansion/mysql_revenue_repository.h"
#include "services/expansion/opportunity_service.h"
#include "services/expansion/proto_mapping.h"
#include "services/expansion/revenue_service.h"

namespace cs::expansion {

inline absl::Time At(int y, int m, int d, int h = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, h, 0, 0), absl::UTCTimeZone());
}

inline db::WriteKey Key(const std::string& method, const std::string& id,
                        const std::string& fp = "") {
  return {method, id, fp.empty() ? id : fp};
}

class ExpansionDbFixture : public ::testing::Test {
 protected:
  // `schema_prefix` names the throwaway schema.
  void SetUpSchema(const char* schema_prefix) {
    CS_TEST_DATABASE_OR_SKIP(db_, schema_prefix);
    pool_ = std::make_unique<db::Pool>(db_->config());
    ASSERT_OK(db::ApplyMigrations(
        *pool_, {{"common", &common_migrations()}, {"expansion", &expansion_migrations()}}));
    health_client_ = std::make_unique<GrpcHealthClient>(health_.address(), absl::Seconds(2));
    revenue_repository_ = std::make_unique<MySqlRevenueRepository>(pool_.get(), &clock_);
    opportunity_repository_ = std::make_unique<MySqlOpportunityRepository>(pool_.get(), &clock_);
    revenue_ = std::make_unique<RevenueService>(revenue_repository_.get(), &clock_);
    opportunities_ = std::make_unique<OpportunityService>(opportunity_repository_.get(),
                                                          health_client_.get(), &clock_);
    movement_codec_ = ProtoCodec<RevenueMovement, cs::expansion::v1::RevenueMovement>(
        MovementToProto, MovementFromProto);
    profile_codec_ = ProtoCodec<AccountProfile, cs::expansion::v1::AccountProfile>(
        ProfileToProto, ProfileFromProto);
    import_codec_ = ProtoCodec<ImportResult, cs::expansion::v1::ImportSubscriptionsResponse>(
        ImportResultToProto, ImportResultFromProto);
  }

  void Move(const std::string& account, int y, int m, MovementKind kind, int64_t amount,
            const std::string& currency = "USD") {
    RevenueMovement mv;
    mv.account_id = account;
    mv.month = absl::CivilMonth(y, m);
    mv.kind = kind;
    mv.mrr_change = {amount, currency};
    ASSERT_OK(revenue_->RecordMovement(Key("Record", absl::StrCat("mv-", ++requests_)),
                                       movement_codec_, mv));
  }

  testing::FakeHealthServer health_;
  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<db::Pool> pool_;
  FakeClock clock_{At(2026, 1, 5)};
  std::unique_ptr<GrpcHealthClient> health_client_;
  std::unique_ptr<MySqlRevenueRepository> revenue_repository_;
  std::unique_ptr<MySqlOpportunityRepository> opportunity_repository_;
  std::unique_ptr<RevenueService> revenue_;
  std::unique_ptr<OpportunityService> opportunities_;
  db::ResultCodec<RevenueMovement> movement_codec_;
  db::ResultCodec<AccountProfile> profile_codec_;
  db::ResultCodec<ImportResult> import_codec_;
  int requests_ = 0;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_EXPANSION_DB_FIXTURE_H_
