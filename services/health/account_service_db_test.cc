#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "common/db/migrations.h"
#include "common/server/proto_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "services/health/account_service.h"
#include "services/health/mysql_account_repository.h"
#include "services/health/proto_mapping.h"

namespace cs::health {
namespace {

using ::cs::testing::StatusIs;

class AccountServiceDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "health");
    pool_ = std::make_unique<db::Pool>(db_->config());
    ASSERT_OK(db::ApplyMigrations(
        *pool_, {{"common", &common_migrations()}, {"health", &health_migrations()}}));
    repository_ = std::make_unique<MySqlAccountRepository>(pool_.get(), &clock_,
                                                           EncodeAccountEvent);
    service_ = std::make_unique<AccountService>(repository_.get(), &clock_);
    codec_ = ProtoCodec<UpsertAccountResult, cs::health::v1::UpsertAccountResponse>(
        UpsertResultToProto, UpsertResultFromProto);
  }

  int64_t AccountRows() {
    int64_t n = -1;
    EXPECT_OK(pool_->Run([&](db::Connection& c) {
      std::unique_ptr<sql::ResultSet> rs(c.Prepare("SELECT COUNT(*) FROM accounts").executeQuery());
      rs->next();
      n = rs->getInt64(1);
      return absl::OkStatus();
    }));
    return n;
  }

  static Account Acme() {
    Account a;
    a.account_id = "acme";
    a.name = "Acme Corp";
    a.employee_count = 1500;
    a.industry = Industry::kHealthcare;
    a.owner_id = "csm-7";
    a.renewal_date = absl::CivilDay(2027, 3, 31);
    a.arr = {12'000'000, "USD"};
    return a;
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<db::Pool> pool_;
  FakeClock clock_{absl::FromUnixSeconds(1'795'000'000)};
  std::unique_ptr<MySqlAccountRepository> repository_;
  std::unique_ptr<AccountService> service_;
  db::ResultCodec<UpsertAccountResult> codec_;
};

TEST_F(AccountServiceDbTest, CreatesThenUpdatesAndDerivesTier) {
  absl::StatusOr<UpsertAccountResult> created =
      service_->UpsertAccount({"UpsertAccount", "r1", "f1"}, codec_, Acme());
  ASSERT_OK(created);
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->account.tier, Tier::kEnterprise);
  EXPECT_EQ(created->account.lifecycle, Lifecycle::kOnboarding);
  EXPECT_EQ(created->account.version, 1);

  clock_.Advance(absl::Hours(1));
  Account update = Acme();
  update.employee_count = 50;
  update.lifecycle = Lifecycle::kAdopting;
  absl::StatusOr<UpsertAccountResult> updated =
      service_->UpsertAccount({"UpsertAccount", "r2", "f2"}, codec_, update);
  ASSERT_OK(updated);
  EXPECT_FALSE(updated->created);
  EXPECT_EQ(updated->account.tier, Tier::kSmb);
  EXPECT_EQ(updated->account.version, 2);

  absl::StatusOr<Account> got = service_->GetAccount("acme");
  ASSERT_OK(got);
  EXPECT_EQ(got->tier, Tier::kSmb);
  EXPECT_EQ(got->lifecycle, Lifecycle::kAdopting);
  EXPECT_EQ(got->industry, Industry::kHealthcare);
  EXPECT_EQ(got->renewal_date, absl::CivilDay(2027, 3, 31));
  EXPECT_EQ(got->arr, (Money{12'000'000, "USD"}));
  EXPECT_EQ(got->created_at, absl::FromUnixSeconds(1'795'000'000));
  EXPECT_EQ(got->updated_at, absl::FromUnixSeconds(1'795'000'000) + absl::Hours(1));
  EXPECT_EQ(AccountRows(), 1);
}

TEST_F(AccountServiceDbTest, RetryReturnsTheFirstAnswer) {
  ASSERT_OK(service_->UpsertAccount({"UpsertAccount", "same", "f"}, codec_, Acme()));
  clock_.Advance(absl::Minutes(5));
  absl::StatusOr<UpsertAccountResult> retry =
      service_->UpsertAccount({"UpsertAccount", "same", "f"}, codec_, Acme());
  ASSERT_OK(retry);
  EXPECT_TRUE(retry->created);  // the first answer, not a second update
  EXPECT_EQ(retry->account.version, 1);
  absl::StatusOr<Account> got = service_->GetAccount("acme");
  ASSERT_OK(got);
  EXPECT_EQ(got->version, 1);
}

TEST_F(AccountServiceDbTest, BadInputWritesNothing) {
  Account bad = Acme();
  bad.arr = {5, "ZZZ"};
  EXPECT_THAT(service_->UpsertAccount({"UpsertAccount", "r", "f"}, codec_, bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(AccountRows(), 0);
}

TEST_F(AccountServiceDbTest, ListFiltersAndPagesInAStableOrder) {
  const struct {
    const char* id;
    int employees;
    Industry industry;
    const char* owner;
  } rows[] = {{"e1", 5000, Industry::kHealthcare, "csm-1"}, {"m1", 300, Industry::kSaas, "csm-1"},
              {"e2", 2000, Industry::kSaas, "csm-2"},       {"s1", 40, Industry::kSaas, "csm-1"},
              {"e3", 1200, Industry::kSaas, "csm-1"}};
  int n = 0;
  for (const auto& r : rows) {
    Account a;
    a.account_id = r.id;
    a.name = r.id;
    a.employee_count = r.employees;
    a.industry = r.industry;
    a.owner_id = r.owner;
    ASSERT_OK(service_->UpsertAccount({"U", "l" + std::to_string(n++), "f"}, codec_, a));
  }
  // (ids listed, next_after_id) of one page; empty ids and the error when it fails.
  using Listed = std::pair<std::vector<std::string>, std::string>;
  const auto list = [&](const AccountFilter& filter, const std::string& after,
                        int size) -> Listed {
    absl::StatusOr<AccountPage> page = service_->ListAccounts(filter, after, size);
    if (!page.ok()) return {{}, std::string(page.status().message())};
    Listed out{{}, page->next_after_id};
    for (const auto& a : page->accounts) out.first.push_back(a.account_id);
    return out;
  };
  AccountFilter enterprise_saas;
  enterprise_saas.tier = Tier::kEnterprise;
  enterprise_saas.industry = Industry::kSaas;
  EXPECT_EQ(list(enterprise_saas, "", 1), Listed({"e2"}, "e2"));
  // Exactly one more row: no empty last page.
  EXPECT_EQ(list(enterprise_saas, "e2", 1), Listed({"e3"}, ""));

  AccountFilter owner;
  owner.owner_id = "csm-1";
  EXPECT_EQ(list(owner, "", 50), Listed({"e1", "e3", "m1", "s1"}, ""));
  EXPECT_EQ(list(AccountFilter{}, "", 50).first.size(), 5u);
  EXPECT_THAT(service_->ListAccounts(AccountFilter{}, "", 0),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("page_size")));

  // By id: unknown ids left out, the other filters and paging still apply.
  AccountFilter by_id;
  by_id.account_ids = {"s1", "nobody", "e1", "e3", "e1"};
  EXPECT_EQ(list(by_id, "", 50), Listed({"e1", "e3", "s1"}, ""));
  by_id.tier = Tier::kEnterprise;
  EXPECT_EQ(list(by_id, "", 1), Listed({"e1"}, "e1"));
  EXPECT_EQ(list(by_id, "e1", 1), Listed({"e3"}, ""));

  AccountFilter bad;
  bad.account_ids = {"e1", ""};
  EXPECT_THAT(service_->ListAccounts(bad, "", 50),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("account_ids[1]")));
  bad.account_ids.assign(kMaxListedAccountIds + 1, "e1");
  EXPECT_THAT(service_->ListAccounts(bad, "", 50),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("account_ids")));
}

TEST_F(AccountServiceDbTest, UnknownAccountIsNotFound) {
  EXPECT_THAT(service_->GetAccount("nobody"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_->GetAccount(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cs::health
