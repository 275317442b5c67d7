// Runs the real service binaries against the real MariaDB: grpc.health.v1, metrics,
// one real RPC each, a graceful SIGTERM drain, and recovery from a database outage.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/db/pool.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

using ::testing::HasSubstr;

// One real write and one real read of the service's own API.
using RealRpc = std::function<grpc::Status(const std::shared_ptr<grpc::Channel>&, int round)>;

grpc::Status HealthRpc(const std::shared_ptr<grpc::Channel>& channel, int round) {
  auto stub = cs::health::v1::AccountHealthService::NewStub(channel);
  cs::health::v1::UpsertAccountRequest req;
  req.set_request_id(absl::StrCat("it-", round));
  req.mutable_account()->set_account_id(absl::StrCat("acct-", round));
  req.mutable_account()->set_name("Initech");
  req.mutable_account()->set_employee_count(250);
  cs::health::v1::UpsertAccountResponse resp;
  grpc::Status s = stub->UpsertAccount(Context().get(), req, &resp);
  if (!s.ok()) return s;
  if (resp.account().tier() != cs::health::v1::TIER_MID_MARKET) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "tier was not derived");
  }
  cs::health::v1::GetAccountRequest get;
  get.set_account_id(absl::StrCat("acct-", round));
  cs::health::v1::GetAccountResponse got;
  s = stub->GetAccount(Context().get(), get, &got);
  if (s.ok() && got.account().name() != "Initech") {
    return grpc::Status(grpc::StatusCode::INTERNAL, "wrong account read back");
  }
  return s;
}

grpc::Status PlaybooksRpc(const std::shared_ptr<grpc::Channel>& channel, int round) {
  auto stub = cs::playbooks::v1::PlaybookService::NewStub(channel);
  cs::playbooks::v1::UpsertEscalationChainRequest req;
  req.set_request_id(absl::StrCat("it-", round));
  req.mutable_chain()->set_chain_id(absl::StrCat("chain-", round));
  req.mutable_chain()->add_levels()->set_role(cs::playbooks::v1::ROLE_CSM);
  req.mutable_chain()->add_levels()->set_role(cs::playbooks::v1::ROLE_DIRECTOR);
  cs::playbooks::v1::UpsertEscalationChainResponse resp;
  grpc::Status s = stub->UpsertEscalationChain(Context().get(), req, &resp);
  if (!s.ok()) return s;
  cs::playbooks::v1::GetEscalationChainRequest get;
  get.set_chain_id("default");
  cs::playbooks::v1::GetEscalationChainResponse got;
  s = stub->GetEscalationChain(Context().get(), get, &got);
  if (s.ok() && got.chain().levels_size() != 4) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "default chain not seeded");
  }
  return s;
}

grpc::Status ExpansionRpc(const std::shared_ptr<grpc::Channel>& channel, int round) {
  auto stub = cs::expansion::v1::ExpansionService::NewStub(channel);
  cs::expansion::v1::RecordRevenueMovementRequest req;
  req.set_request_id(absl::StrCat("it-", round));
  auto* m = req.mutable_movement();
  m->set_account_id("acme");
  m->mutable_month()->set_year(2026);
  m->mutable_month()->set_month(10);
  m->set_kind(cs::expansion::v1::MOVEMENT_KIND_EXPANSION);
  m->mutable_mrr_change()->set_minor_units(25'000);
  m->mutable_mrr_change()->set_currency_code("USD");
  cs::expansion::v1::RecordRevenueMovementResponse resp;
  grpc::Status s = stub->RecordRevenueMovement(Context().get(), req, &resp);
  if (!s.ok()) return s;
  cs::expansion::v1::ListRevenueMovementsRequest list;
  list.set_account_id("acme");
  cs::expansion::v1::ListRevenueMovementsResponse page;
  s = stub->ListRevenueMovements(Context().get(), list, &page);
  if (s.ok() && page.movements_size() != round + 1) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "movement count is off");
  }
  return s;
}

struct ServiceCase {
  std::string name;
  std::string binary;
  std::string method;  // one method RealRpc calls, as metrics label it
  RealRpc rpc;
};

void PrintTo(const ServiceCase& c, std::ostream* os) { *os << c.name; }

std::vector<ServiceCase> Cases() {
  return {
      {"health", CS_HEALTH_SERVER, "/cs.health.v1.AccountHealthService/UpsertAccount", HealthRpc},
      {"playbooks", CS_PLAYBOOKS_SERVER,
       "/cs.playbooks.v1.PlaybookService/UpsertEscalationChain", PlaybooksRpc},
      {"expansion", CS_EXPANSION_SERVER,
       "/cs.expansion.v1.ExpansionService/RecordRevenueMovement", ExpansionRpc},
  };
}

class ServiceBinaryTest : public ::testing::TestWithParam<ServiceCase> {};

TEST_P(ServiceBinaryTest, ServesHealthMetricsItsOwnRpcAndStopsCleanly) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, GetParam().name.substr(0, 4));
  RunningService service(GetParam().name, GetParam().binary, db->uri(), "basic");
  ASSERT_TRUE(service.WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << service.Log();

  ASSERT_TRUE(GetParam().rpc(service.channel(), 0).ok()) << service.Log();

  const std::string metrics = service.Metrics();
  EXPECT_THAT(metrics, HasSubstr("200 OK"));
  EXPECT_THAT(metrics, HasSubstr("cs_db_up 1"));
  EXPECT_THAT(metrics, HasSubstr("cs_grpc_server_handled_total"));
  EXPECT_THAT(metrics, HasSubstr(GetParam().method));
  EXPECT_THAT(metrics, HasSubstr("cs_grpc_server_handling_seconds_bucket"));

  service.process().Signal(SIGTERM);
  EXPECT_EQ(service.process().WaitExit(absl::Seconds(15)), 0) << service.Log();
  const std::string log = service.Log();
  EXPECT_THAT(log, HasSubstr("\"msg\":\"signal received\""));
  EXPECT_THAT(log, HasSubstr("\"msg\":\"stopped\""));
}

TEST_P(ServiceBinaryTest, MigrateOnlyAppliesTheSchemaAndExits) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, GetParam().name.substr(0, 4));
  const std::string log = absl::StrCat(::testing::TempDir(), "/migrate-", getpid(), ".log");
  ChildProcess migrate({GetParam().binary, absl::StrCat("--db_uri=", db->uri()), "--migrate_only"},
                       log);
  ASSERT_EQ(migrate.WaitExit(absl::Seconds(30)), 0) << ReadFile(log);
  EXPECT_THAT(ReadFile(log), HasSubstr("schema up to date"));
  // A second run finds nothing to do (spelled with dashes, as operators often do).
  ChildProcess again({GetParam().binary, absl::StrCat("--db-uri=", db->uri()), "--migrate-only"},
                     log);
  ASSERT_EQ(again.WaitExit(absl::Seconds(30)), 0);
  EXPECT_THAT(ReadFile(log), ::testing::Not(HasSubstr("migration applied")));
}

TEST_P(ServiceBinaryTest, BadConfigurationIsRefusedWithTheFlagName) {
  const std::string log = absl::StrCat(::testing::TempDir(), "/badcfg-", getpid(), ".log");
  ChildProcess bad({GetParam().binary, "--listen=nowhere", "--db_uri=mysql://root@127.0.0.1:1/x"},
                   log);
  EXPECT_EQ(bad.WaitExit(absl::Seconds(10)), 2);
  EXPECT_THAT(ReadFile(log), HasSubstr("--listen (CS_LISTEN)"));
}

TEST_P(ServiceBinaryTest, EnvironmentOverridesTheDefaultAndTheCommandLineWins) {
  const std::string log = absl::StrCat(::testing::TempDir(), "/envcfg-", getpid(), ".log");
  ChildProcess from_env({GetParam().binary, "--db_uri=mysql://root@127.0.0.1:1/x"}, log,
                        {"CS_METRICS_LISTEN=no-port-here"});
  EXPECT_EQ(from_env.WaitExit(absl::Seconds(10)), 2);
  EXPECT_THAT(ReadFile(log), HasSubstr("--metrics_listen (CS_METRICS_LISTEN)"));

  ChildProcess bad_env({GetParam().binary}, log, {"CS_DB_POOL_SIZE=many"});
  EXPECT_EQ(bad_env.WaitExit(absl::Seconds(10)), 2);
  EXPECT_THAT(ReadFile(log), HasSubstr("CS_DB_POOL_SIZE"));

  // The flag beats the environment: this one starts (and keeps retrying the
  // unreachable database) instead of refusing its configuration.
  ChildProcess flag_wins({GetParam().binary, "--db_uri=mysql://root@127.0.0.1:1/x",
                          absl::StrCat("--metrics_listen=127.0.0.1:", FreePort())},
                         log, {"CS_METRICS_LISTEN=no-port-here"});
  EXPECT_EQ(flag_wins.WaitExit(absl::Seconds(1)), std::nullopt) << ReadFile(log);
  flag_wins.Signal(SIGTERM);
  EXPECT_EQ(flag_wins.WaitExit(absl::Seconds(10)), 0) << ReadFile(log);
}

INSTANTIATE_TEST_SUITE_P(AllServices, ServiceBinaryTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

TEST(RequestIdTest, EchoedToTheClientAndLoggedWithAFailedCall) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "reqid");
  RunningService service(Cases()[0].name, Cases()[0].binary, db->uri(), "reqid");
  ASSERT_TRUE(service.WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << service.Log();
  auto stub = cs::health::v1::AccountHealthService::NewStub(service.channel());
  cs::health::v1::GetAccountRequest req;
  req.set_account_id("no-such-account");
  cs::health::v1::GetAccountResponse resp;
  auto ctx = Context();
  ctx->AddMetadata("x-request-id", "trace-4711");
  grpc::Status s = stub->GetAccount(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  const auto& md = ctx->GetServerInitialMetadata();
  auto it = md.find("x-request-id");
  ASSERT_NE(it, md.end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "trace-4711");
  // Without one, the server makes one up and still hands it back.
  auto anon = Context();
  stub->GetAccount(anon.get(), req, &resp);
  auto gen = anon->GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(gen, anon->GetServerInitialMetadata().end());
  EXPECT_EQ(gen->second.size(), 32u);
  service.process().Signal(SIGTERM);
  ASSERT_EQ(service.process().WaitExit(absl::Seconds(15)), 0);
  EXPECT_THAT(service.Log(), HasSubstr("\"code\":\"NOT_FOUND\""));
  EXPECT_THAT(service.Log(), HasSubstr("\"request_id\":\"trace-4711\""));
}

// Reads the event stream until `want` events arrived, then the first heartbeat.
std::vector<int64_t> WatchUntilIdle(const std::shared_ptr<grpc::Channel>& channel, int64_t after,
                                    size_t want, grpc::Status* end) {
  auto stub = cs::health::v1::AccountHealthService::NewStub(channel);
  cs::health::v1::WatchEventsRequest req;
  req.set_after_sequence(after);
  req.mutable_heartbeat_interval()->set_nanos(200'000'000);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto reader = stub->WatchEvents(&ctx, req);
  std::vector<int64_t> seen;
  cs::health::v1::WatchEventsResponse item;
  while (reader->Read(&item)) {
    if (item.has_event()) {
      seen.push_back(item.event().sequence());
      EXPECT_EQ(item.event().kind(), cs::health::v1::EVENT_KIND_ACCOUNT_UPSERTED);
      EXPECT_EQ(item.event().account().account_id(), item.event().account_id());
    } else if (seen.size() >= want) {
      EXPECT_EQ(item.heartbeat().last_sequence(), seen.back());
      ctx.TryCancel();
    }
  }
  *end = reader->Finish();
  return seen;
}

TEST(EventStreamTest, ResumesAcrossAServerRestartWithNoGapOrDuplicate) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "stream");
  std::vector<int64_t> all;
  {
    RunningService first(Cases()[0].name, Cases()[0].binary, db->uri(), "stream1");
    ASSERT_TRUE(first.WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << first.Log();
    for (int round = 0; round < 3; ++round) ASSERT_TRUE(HealthRpc(first.channel(), round).ok());
    grpc::Status end;
    all = WatchUntilIdle(first.channel(), 0, 3, &end);
    EXPECT_EQ(end.error_code(), grpc::StatusCode::CANCELLED);

    // A stream still open at SIGTERM ends (UNAVAILABLE: resume elsewhere) and does
    // not hold the drain.
    auto stub = cs::health::v1::AccountHealthService::NewStub(first.channel());
    cs::health::v1::WatchEventsRequest req;
    req.set_after_sequence(3);
    grpc::ClientContext ctx;
    auto reader = stub->WatchEvents(&ctx, req);
    absl::SleepFor(absl::Milliseconds(300));
    const absl::Time sent = absl::Now();
    first.process().Signal(SIGTERM);
    cs::health::v1::WatchEventsResponse item;
    while (reader->Read(&item)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(first.process().WaitExit(absl::Seconds(15)), 0) << first.Log();
    EXPECT_LT(absl::Now() - sent, absl::Seconds(9)) << "the open stream held the drain";
  }
  RunningService second(Cases()[0].name, Cases()[0].binary, db->uri(), "stream2");
  ASSERT_TRUE(second.WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << second.Log();
  for (int round = 3; round < 5; ++round) ASSERT_TRUE(HealthRpc(second.channel(), round).ok());
  grpc::Status end;
  std::vector<int64_t> resumed = WatchUntilIdle(second.channel(), all.back(), 2, &end);
  all.insert(all.end(), resumed.begin(), resumed.end());
  EXPECT_THAT(all, ::testing::ElementsAre(1, 2, 3, 4, 5));
}

TEST(GracefulShutdownTest, SigtermDrainsAnInFlightCall) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "drain");
  const ServiceCase health = Cases()[0];
  RunningService service(health.name, health.binary, db->uri(), "drain");
  ASSERT_TRUE(service.WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << service.Log();
  ASSERT_TRUE(HealthRpc(service.channel(), 1).ok());

  // Hold the account's row lock so the next update waits inside the server.
  db::Pool pool(db->config());
  std::promise<void> locked, release;
  std::thread holder([&] {
    ASSERT_OK(pool.InTransaction([&](db::Connection& c) {
      auto& stmt = c.Prepare("SELECT name FROM accounts WHERE account_id = 'acct-1' FOR UPDATE");
      std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
      locked.set_value();
      release.get_future().wait();
      return absl::OkStatus();
    }));
  });
  locked.get_future().wait();

  auto in_flight = std::async(std::launch::async, [&] {
    auto stub = cs::health::v1::AccountHealthService::NewStub(service.channel());
    cs::health::v1::UpsertAccountRequest req;
    req.set_request_id("drain-update");
    req.mutable_account()->set_account_id("acct-1");
    req.mutable_account()->set_name("Initech Renamed");
    cs::health::v1::UpsertAccountResponse resp;
    return stub->UpsertAccount(Context(absl::Seconds(20)).get(), req, &resp);
  });
  absl::SleepFor(absl::Milliseconds(300));  // the call is now blocked on the row lock
  service.process().Signal(SIGTERM);
  absl::SleepFor(absl::Milliseconds(700));
  EXPECT_TRUE(service.process().running()) << "exited before the in-flight call finished";
  release.set_value();
  holder.join();

  grpc::Status s = in_flight.get();
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(service.process().WaitExit(absl::Seconds(15)), 0) << service.Log();
}

TEST(DatabaseOutageTest, NotServingWhileTheDatabaseIsDownAndServingAgainWithoutRestart) {
  if (std::getenv("CS_TEST_DB_URI") == nullptr) {
    if (DatabaseRequired()) FAIL() << "CS_TEST_DB_URI is not set";
    GTEST_SKIP() << "database tests not enabled";
  }
  const std::string dir = absl::StrCat(::testing::TempDir(), "/outage-", getpid());
  PrivateMariaDb mariadb(CS_MARIADB_SCRIPT, dir);
  ASSERT_TRUE(mariadb.Start()) << ReadFile(dir + ".script.log");

  std::vector<std::unique_ptr<RunningService>> services;
  for (const ServiceCase& c : Cases()) {
    services.push_back(std::make_unique<RunningService>(c.name, c.binary,
                                                        mariadb.uri("cs_" + c.name), "outage"));
  }
  for (size_t i = 0; i < services.size(); ++i) {
    ASSERT_TRUE(services[i]->WaitFor(HealthStatus::SERVING, absl::Seconds(30)))
        << services[i]->Log();
    ASSERT_TRUE(Cases()[i].rpc(services[i]->channel(), 0).ok());
  }
  std::vector<pid_t> pids;
  for (auto& s : services) pids.push_back(s->process().pid());

  ASSERT_TRUE(mariadb.Stop());
  for (size_t i = 0; i < services.size(); ++i) {
    EXPECT_TRUE(services[i]->WaitFor(HealthStatus::NOT_SERVING, absl::Seconds(15)))
        << services[i]->Log();
    // Liveness does not follow the database: nothing should restart the process.
    EXPECT_EQ(services[i]->Check("liveness"), HealthStatus::SERVING);
    grpc::Status s = Cases()[i].rpc(services[i]->channel(), 1);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("SQL")));
  }

  ASSERT_TRUE(mariadb.Start()) << ReadFile(dir + ".script.log");
  for (size_t i = 0; i < services.size(); ++i) {
    EXPECT_TRUE(services[i]->WaitFor(HealthStatus::SERVING, absl::Seconds(30)))
        << services[i]->Log();
    grpc::Status s = Cases()[i].rpc(services[i]->channel(), 1);
    EXPECT_TRUE(s.ok()) << Cases()[i].name << ": " << s.error_message();
    EXPECT_EQ(services[i]->process().pid(), pids[i]);
    EXPECT_TRUE(services[i]->process().running());
  }
  for (auto& s : services) {
    s->process().Signal(SIGTERM);
    EXPECT_EQ(s->process().WaitExit(absl::Seconds(15)), 0);
  }
}

}  // namespace
}  // namespace cs::testing
