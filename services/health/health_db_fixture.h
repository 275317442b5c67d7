#ifndef CS_SERVICES_HEALTH_HEALTH_DB_FIXTURE_H_
#define CS_SERVICES_HEALTH_HEALTH_DB_FIXTURE_H_

// What every health database test starts from: a throwaway schema on the real
// MariaDB with the migrations applied (and the default scorecard), the account
// and health services over the MySQL repositories on a fake clock.

#include <gtest/gtest.h>

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <string>

#include "common/db/migrations.h"
#include "common/status.h"
#include "common/server/proto_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "services/health/account_service.h"
#include "services/health/packed_rows.h"
#include "services/health/health_mapping.h"
#include "services/health/health_service.h"
#include "services/health/mysql_account_repository.h"
#include "services/health/mysql_health_repository.h"
#include "services/health/proto_mapping.h"

namespace cs::health {

class HealthDbFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "hdb");
    pool_ = std::make_unique<db::Pool>(db_->config());
    ASSERT_OK(db::ApplyMigrations(
        *pool_, {{"common", &common_migrations()}, {"health", &health_migrations()}}));
    accounts_repo_ =
        std::make_unique<MySqlAccountRepository>(pool_.get(), &clock_, EncodeAccountEvent);
    accounts_ = std::make_unique<AccountService>(accounts_repo_.get(), &clock_);
    repo_ = std::make_unique<MySqlHealthRepository>(pool_.get(), &clock_, HealthEncoders());
    ASSERT_OK(repo_->EnsureDefaultScorecard(clock_.Now()));
    health_ = std::make_unique<HealthService>(repo_.get(), &clock_);
    upsert_codec_ = ProtoCodec<UpsertAccountResult, v1::UpsertAccountResponse>(
        UpsertResultToProto, UpsertResultFromProto);
  }

  // An account of `employees` (tier derived: 40 is SMB) with ARR 1000 per employee.
  void AddAccount(const std::string& id, int employees = 40) {
    Account a;
    a.account_id = id;
    a.name = "Name of " + id;
    a.employee_count = employees;
    a.arr = {employees * 1000LL, "USD"};
    ASSERT_OK(accounts_->UpsertAccount({"UpsertAccount", "", ""}, upsert_codec_, a));
  }

  // The first column of the first row of `sql`.
  int64_t Count(const std::string& sql) { return cs::testing::QueryInt(*pool_, sql); }

  // What signal_counters holds for `counter`, over every account and day: the sum
  // and the number of (account, day) entries.
  struct StoredCounter {
    double sum = 0;
    int entries = 0;
  };
  StoredCounter Stored(const std::string& counter) {
    StoredCounter out;
    EXPECT_OK(pool_->Run([&](db::Connection& c) -> absl::Status {
      std::unique_ptr<sql::ResultSet> rs(
          c.Prepare("SELECT counters FROM signal_counters").executeQuery());
      while (rs->next()) {
        MonthCounters month;
        RETURN_IF_ERROR(DecodeMonthCounters(std::string(rs->getString(1)), month));
        for (const auto& [key, value] : month) {
          if (key.second != counter) continue;
          out.sum += value;
          ++out.entries;
        }
      }
      return absl::OkStatus();
    }));
    return out;
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<db::Pool> pool_;
  FakeClock clock_{absl::FromUnixSeconds(1'795'000'000)};
  std::unique_ptr<MySqlAccountRepository> accounts_repo_;
  std::unique_ptr<AccountService> accounts_;
  std::unique_ptr<MySqlHealthRepository> repo_;
  std::unique_ptr<HealthService> health_;
  db::ResultCodec<UpsertAccountResult> upsert_codec_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_HEALTH_DB_FIXTURE_H_
