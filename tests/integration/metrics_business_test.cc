// The business and worker metrics of the real binaries, read from their /metrics
// pages after data is written: accounts per band (health), open pipeline by stage
// (expansion), and in playbooks the health stream consumer's lag, the SLA breaches
// counted when the sweeper escalates and the open escalations by level.

#include <cppconn/connection.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/db/pool.h"
#include "common/testing/test_db.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

namespace hv1 = ::cs::health::v1;

// The value of one series ("name" or "name{label=\"v\",...}", labels in the
// order the page prints them: sorted by name), or nullopt when the page lacks it.
std::optional<double> Value(const std::string& page, const std::string& series) {
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return std::nullopt;
}

// Polls the service's /metrics until `series` equals `want` (or 20 s pass).
::testing::AssertionResult WaitForValue(RunningService& service, const std::string& series,
                                        double want) {
  std::optional<double> last;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    last = Value(service.Metrics(), series);
    if (last.has_value() && *last == want) return ::testing::AssertionSuccess();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return ::testing::AssertionFailure()
         << series << " is " << (last.has_value() ? std::to_string(*last) : "absent")
         << ", want " << want << "\n"
         << service.Metrics() << "\n"
         << service.Log();
}

void Exec(db::Pool& pool, const std::string& sql) {
  absl::Status s = pool.Run([&](db::Connection& c) {
    c.Execute(sql);
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s << ": " << sql;
}

int64_t Count(db::Pool& pool, const std::string& sql) {
  int64_t n = -1;
  absl::Status s = pool.Run([&](db::Connection& c) {
    std::unique_ptr<sql::ResultSet> rs(c.Prepare(sql).executeQuery());
    if (rs->next()) n = rs->getInt64(1);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s << ": " << sql;
  return n;
}

void Stop(RunningService* service) {
  if (service == nullptr) return;
  service->process().Signal(SIGTERM);
  EXPECT_EQ(service->process().WaitExit(absl::Seconds(20)), 0) << service->Log();
}

TEST(HealthMetricsTest, AccountsPerBandLeaveChurnedAccountsOut) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "mbh");
  RunningService health("health", CS_HEALTH_SERVER, db->uri(), "bands",
                        {"--business_metrics_interval=200ms"});
  ASSERT_TRUE(health.WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << health.Log();
  // Every band is on the page before any account exists.
  ASSERT_TRUE(WaitForValue(health, "cs_health_accounts{band=\"GREEN\"}", 0));
  ASSERT_TRUE(WaitForValue(health, "cs_health_accounts{band=\"RED\"}", 0));

  db::Pool pool(db->config());
  const struct {
    const char* id;
    const char* lifecycle;
    const char* band;
  } accounts[] = {{"a1", "ADOPTING", "GREEN"}, {"a2", "ADOPTING", "GREEN"},
                  {"a3", "RENEWING", "RED"},   {"a4", "ONBOARDING", "YELLOW"},
                  {"a5", "CHURNED", "RED"}};
  for (const auto& a : accounts) {
    Exec(pool, absl::StrCat(
                   "INSERT INTO accounts (account_id, name, tier, employee_count, industry,"
                   " owner_id, lifecycle, arr_minor, arr_currency, created_at, updated_at, version)"
                   " VALUES ('", a.id, "', 'n', 'SMB', 10, 'SAAS', 'csm', '", a.lifecycle,
                   "', 0, 'USD', NOW(6), NOW(6), 1)"));
    Exec(pool, absl::StrCat("INSERT INTO account_scores (account_id, score_name, scorecard_id,"
                            " scorecard_version, score, band, components, computed_at,"
                            " published_score) VALUES ('",
                            a.id, "', 'health', 'default', 1, 50, '", a.band, "', '', NOW(6), 50)"));
  }
  EXPECT_TRUE(WaitForValue(health, "cs_health_accounts{band=\"GREEN\"}", 2));
  EXPECT_TRUE(WaitForValue(health, "cs_health_accounts{band=\"RED\"}", 1));  // a5 churned
  EXPECT_TRUE(WaitForValue(health, "cs_health_accounts{band=\"YELLOW\"}", 1));

  // A band emptied drops to 0 instead of keeping its last value.
  Exec(pool, "UPDATE account_scores SET band = 'GREEN' WHERE account_id = 'a4'");
  EXPECT_TRUE(WaitForValue(health, "cs_health_accounts{band=\"YELLOW\"}", 0));
  EXPECT_TRUE(WaitForValue(health, "cs_health_accounts{band=\"GREEN\"}", 3));
  Stop(&health);
}

TEST(ExpansionMetricsTest, OpenPipelineByStageAndCurrency) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "mbe");
  RunningService expansion("expansion", CS_EXPANSION_SERVER, db->uri(), "pipeline",
                           {"--business_metrics_interval=200ms"});
  ASSERT_TRUE(expansion.WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << expansion.Log();

  db::Pool pool(db->config());
  const struct {
    const char* stage;
    const char* currency;
    int64_t amount;
  } opportunities[] = {{"QUALIFIED", "USD", 100000}, {"QUALIFIED", "USD", 25000},
                       {"PROPOSAL", "USD", 70000},   {"PROPOSAL", "EUR", 9000},
                       {"CLOSED_WON", "USD", 500000}, {"CLOSED_LOST", "USD", 1}};
  for (const auto& o : opportunities) {
    Exec(pool, absl::StrCat(
                   "INSERT INTO opportunities (account_id, kind, stage, owner_id, amount_minor,"
                   " currency, probability_percent, expected_close_date, source, source_ref,"
                   " title, description, tier, loss_reason, created_at, updated_at, version)"
                   " VALUES ('acme', 'UPSELL', '", o.stage, "', 'ae', ", o.amount, ", '",
                   o.currency, "', 50, CURDATE(), 'MANUAL', '', 't', '', 'SMB', '', NOW(6),"
                   " NOW(6), 1)"));
  }
  EXPECT_TRUE(WaitForValue(
      expansion, "cs_expansion_pipeline_minor_units{currency=\"USD\",stage=\"QUALIFIED\"}", 125000));
  EXPECT_TRUE(WaitForValue(
      expansion, "cs_expansion_pipeline_minor_units{currency=\"USD\",stage=\"PROPOSAL\"}", 70000));
  EXPECT_TRUE(WaitForValue(
      expansion, "cs_expansion_pipeline_minor_units{currency=\"EUR\",stage=\"PROPOSAL\"}", 9000));
  // Closed opportunities are not pipeline.
  const std::string page = expansion.Metrics();
  EXPECT_THAT(page, ::testing::Not(::testing::HasSubstr("CLOSED_WON")));
  EXPECT_THAT(page, ::testing::Not(::testing::HasSubstr("CLOSED_LOST")));

  // Winning moves the amount out of the pipeline at the next refresh.
  Exec(pool, "UPDATE opportunities SET stage = 'CLOSED_WON' WHERE stage = 'PROPOSAL'"
             " AND currency = 'EUR'");
  EXPECT_TRUE(WaitForValue(
      expansion, "cs_expansion_pipeline_minor_units{currency=\"EUR\",stage=\"PROPOSAL\"}", 0));
  Stop(&expansion);
}

TEST(PlaybooksMetricsTest, ConsumerLagSlaBreachesAndOpenEscalations) {
  std::unique_ptr<TestDatabase> health_db;
  std::unique_ptr<TestDatabase> playbooks_db;
  CS_TEST_DATABASE_OR_SKIP(health_db, "mbph");
  CS_TEST_DATABASE_OR_SKIP(playbooks_db, "mbpp");
  RunningService health("health", CS_HEALTH_SERVER, health_db->uri(), "lag");
  ASSERT_TRUE(health.WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << health.Log();
  auto health_stub = hv1::AccountHealthService::NewStub(health.channel());
  for (const char* id : {"acme", "globex", "initech"}) {
    hv1::UpsertAccountRequest upsert;
    upsert.set_request_id(absl::StrCat("upsert-", id));
    hv1::Account* a = upsert.mutable_account();
    a->set_account_id(id);
    a->set_name(id);
    a->set_employee_count(2500);
    a->set_owner_id("csm-ann");
    a->set_industry(hv1::INDUSTRY_SAAS);
    hv1::UpsertAccountResponse upserted;
    grpc::Status s = health_stub->UpsertAccount(Context().get(), upsert, &upserted);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  hv1::ListEventsRequest list;
  hv1::ListEventsResponse events;
  grpc::Status s = health_stub->ListEvents(Context().get(), list, &events);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const int64_t head = events.last_sequence();
  ASSERT_GE(head, 3);

  // The playbooks schema first, then its consumer cursor row, held locked by this
  // test: the consumer reads health's page and then waits on the lock, so it stays
  // `head` events behind until the lock goes.
  const std::string log = absl::StrCat(::testing::TempDir(), "/mbp-migrate-", getpid(), ".log");
  ChildProcess migrate({CS_PLAYBOOKS_SERVER, "--db_uri=" + playbooks_db->uri(), "--migrate_only"},
                       log);
  ASSERT_EQ(migrate.WaitExit(absl::Seconds(30)), 0) << ReadFile(log);
  db::Pool pool(playbooks_db->config());
  // The migrations may already have made it.
  Exec(pool, "INSERT IGNORE INTO consumer_cursors (consumer, last_sequence, updated_at)"
             " VALUES ('health', 0, NOW(6))");
  absl::StatusOr<db::Pool::Lease> holder = pool.Acquire();
  ASSERT_TRUE(holder.ok()) << holder.status();
  (*holder)->raw().setAutoCommit(false);
  std::unique_ptr<sql::ResultSet>(
      (*holder)->Prepare("SELECT last_sequence FROM consumer_cursors WHERE consumer = 'health'"
                         " FOR UPDATE")
          .executeQuery());

  RunningService playbooks(
      "playbooks", CS_PLAYBOOKS_SERVER, playbooks_db->uri(), "lag",
      {"--health_addr=" + health.address(), "--consume_interval=100ms", "--sweep_interval=200ms",
       "--business_metrics_interval=200ms"});
  ASSERT_TRUE(playbooks.WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << playbooks.Log();
  EXPECT_TRUE(WaitForValue(playbooks, "cs_events_consumer_lag_events{consumer=\"health\"}",
                           static_cast<double>(head)));
  EXPECT_EQ(Value(playbooks.Metrics(), "cs_playbook_sla_breaches_total"), 0);

  (*holder)->raw().rollback();
  (*holder)->raw().setAutoCommit(true);
  EXPECT_TRUE(WaitForValue(playbooks, "cs_events_consumer_lag_events{consumer=\"health\"}", 0));

  // The onboarding runs' tasks, made overdue for escalation: the sweeper escalates
  // each one (an SLA breach) to level 1 of its chain.
  const std::string due = "status = 'OPEN' AND escalate_at IS NOT NULL";
  int64_t tasks = 0;
  for (int i = 0; i < 200 && tasks < 3; ++i) {
    tasks = Count(pool, "SELECT COUNT(DISTINCT account_id) FROM tasks WHERE " + due);
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(tasks, 3) << playbooks.Log();
  Exec(pool, "UPDATE tasks SET escalate_at = NOW(6) - INTERVAL 1 HOUR WHERE " + due);
  // The sweeper is done once no task is overdue any more; every row of escalations
  // is one escalation it made (each task climbs one level and gets a fresh SLA).
  for (int i = 0; i < 200 && Count(pool, "SELECT COUNT(*) FROM tasks WHERE status = 'OPEN'"
                                         " AND escalate_at <= NOW(6)") > 0;
       ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  const int64_t escalated = Count(pool, "SELECT COUNT(*) FROM escalations");
  ASSERT_GT(escalated, 0) << playbooks.Log();
  EXPECT_EQ(Count(pool, "SELECT COUNT(*) FROM tasks WHERE status = 'OPEN' AND escalation_level = 1"),
            escalated);
  EXPECT_TRUE(WaitForValue(playbooks, "cs_playbook_sla_breaches_total",
                           static_cast<double>(escalated)));
  EXPECT_TRUE(WaitForValue(playbooks, "cs_playbook_open_escalations{level=\"1\"}",
                           static_cast<double>(escalated)));
  // Completed tasks leave the open escalations.
  Exec(pool, "UPDATE tasks SET status = 'COMPLETED' WHERE escalation_level = 1");
  EXPECT_TRUE(WaitForValue(playbooks, "cs_playbook_open_escalations{level=\"1\"}", 0));
  Stop(&playbooks);
  Stop(&health);
}

}  // namespace
}  // namespace cs::testing
