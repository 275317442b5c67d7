// MariaDB stopped in the middle of signal ingest and started again, under the real
// health binary: while it is down RecordSignals fails UNAVAILABLE (never INTERNAL or
// UNKNOWN) and grpc.health.v1 reports NOT_SERVING; once it is back the same process
// reports SERVING again, and clients that retried every failed batch with the same
// event ids end with each signal stored exactly once.
//
// The test runs its own MariaDB (scripts/mariadb on a free port) because it stops it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/test_db.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "tests/faults/fault_support.h"
#include "tests/support/process.h"
#include "services/health/logged_signals_sql.h"

namespace cs::testing::faults {
namespace {

namespace hv1 = ::cs::health::v1;

constexpr int kClients = 3;
constexpr int kBatch = 20;
constexpr char kSchema[] = "cs_health_outage";

// What one ingesting client saw: every batch it sent was eventually acknowledged
// (retried with the same request id and event ids until it was), and the codes of
// the attempts that failed.
struct ClientLog {
  int batches = 0;
  int accepted = 0;
  int duplicates = 0;
  int rejected = 0;
  std::map<grpc::StatusCode, int> failures;
};

class DbOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The outage is of a private server, but the suite's own database must be there
    // too when scripts/test runs us (it is how the test learns it is required).
    if (std::getenv("CS_TEST_DB_URI") == nullptr && !DatabaseRequired()) {
      GTEST_SKIP() << "no test database (set CS_TEST_DB_URI)";
    }
    db_ = std::make_unique<PrivateMariaDb>(
        CS_MARIADB_SCRIPT, absl::StrCat(::testing::TempDir(), "/faults-outage-db-", getpid()));
    ASSERT_TRUE(db_->Start()) << "private MariaDB did not start";
    health_ = std::make_unique<RunningService>(
        "health", CS_HEALTH_SERVER, db_->uri(kSchema), "outage",
        std::vector<std::string>{"--db_io_timeout=5s"});
    ASSERT_TRUE(health_->WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << health_->Log();
  }

  void TearDown() override {
    if (health_ != nullptr && health_->process().running()) {
      health_->process().Signal(SIGTERM);
      EXPECT_EQ(health_->process().WaitExit(absl::Seconds(15)), 0) << health_->Log();
    }
    health_.reset();
    if (db_ != nullptr) db_->Stop();
  }

  std::unique_ptr<PrivateMariaDb> db_;
  std::unique_ptr<RunningService> health_;
};

TEST_F(DbOutageTest, IngestRidesOutAStoppedDatabaseAndStoresEverySignalOnce) {
  auto stub = hv1::AccountHealthService::NewStub(health_->channel());
  for (int c = 0; c < kClients; ++c) {
    ASSERT_TRUE(UpsertAccount(stub.get(), absl::StrCat("outage-", c)).ok());
  }
  const pid_t pid = health_->process().pid();

  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged_batches{0};
  std::vector<ClientLog> logs(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto client = hv1::AccountHealthService::NewStub(health_->channel());
      ClientLog& log = logs[c];
      const std::string account = absl::StrCat("outage-", c);
      for (int b = 0; !stop.load(); ++b) {
        const hv1::RecordSignalsRequest req = SignalBatch(
            absl::StrCat("rec-", c, "-", b), account, absl::StrCat("ev-", c, "-", b), kBatch);
        // Retried until acknowledged: the same request id and event ids each time,
        // as a client library would after UNAVAILABLE. Bounded, so a service that
        // never recovers fails the test instead of hanging it.
        const absl::Time give_up = absl::Now() + absl::Seconds(60);
        while (true) {
          hv1::RecordSignalsResponse resp;
          const grpc::Status s = client->RecordSignals(Context().get(), req, &resp);
          if (s.ok()) {
            log.accepted += resp.accepted();
            log.duplicates += resp.duplicates();
            log.rejected += resp.rejected();
            break;
          }
          ++log.failures[s.error_code()];
          if (absl::Now() > give_up) return;
          absl::SleepFor(absl::Milliseconds(100));
        }
        ++log.batches;
        ++acknowledged_batches;
        absl::SleepFor(absl::Milliseconds(20));
      }
    });
  }

  // Ingest runs, then the database goes away under it.
  ASSERT_TRUE(Eventually([&] { return acknowledged_batches.load() >= 5 * kClients; },
                         absl::Seconds(30)));
  ASSERT_TRUE(db_->Stop());
  const absl::Time stopped_at = absl::Now();
  EXPECT_TRUE(Eventually([&] { return health_->Check() == HealthStatus::NOT_SERVING; },
                         absl::Seconds(10)))
      << "readiness did not follow the database down";
  // The liveness service stays SERVING: a database outage is no reason to restart.
  EXPECT_EQ(health_->Check("liveness"), HealthStatus::SERVING);

  // A write while it is down: UNAVAILABLE, promptly, with nothing about SQL in it.
  {
    hv1::RecordSignalsResponse resp;
    const absl::Time start = absl::Now();
    const grpc::Status s = stub->RecordSignals(
        Context().get(), SignalBatch("probe-down", "outage-0", "probe", 3), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_LT(absl::Now() - start, absl::Seconds(4));
    EXPECT_THAT(s.error_message(), ::testing::Not(::testing::HasSubstr("SQL")));
  }
  absl::SleepFor(std::max(absl::ZeroDuration(), absl::Seconds(2) - (absl::Now() - stopped_at)));
  const int acknowledged_while_down = acknowledged_batches.load();

  ASSERT_TRUE(db_->Start());
  EXPECT_TRUE(health_->WaitFor(HealthStatus::SERVING, absl::Seconds(20)))
      << "readiness did not come back without a restart\n" << health_->Log();
  EXPECT_EQ(health_->process().pid(), pid);
  EXPECT_TRUE(health_->process().running());
  // Ingest goes on after the outage, then every client finishes its last batch.
  EXPECT_TRUE(Eventually(
      [&] { return acknowledged_batches.load() >= acknowledged_while_down + 3 * kClients; },
      absl::Seconds(30)));
  stop.store(true);
  for (std::thread& t : clients) t.join();

  int batches = 0;
  int accepted = 0;
  int duplicates = 0;
  std::map<grpc::StatusCode, int> failures;
  for (const ClientLog& log : logs) {
    batches += log.batches;
    accepted += log.accepted;
    duplicates += log.duplicates;
    EXPECT_EQ(log.rejected, 0);
    for (const auto& [code, n] : log.failures) failures[code] += n;
  }
  // The outage was seen by the clients, only ever as UNAVAILABLE.
  EXPECT_GT(failures[grpc::StatusCode::UNAVAILABLE], 0);
  for (const auto& [code, n] : failures) {
    EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE) << n << " calls failed with code " << code;
  }
  // Every batch acknowledged in full; a retry may find its signals stored by an
  // attempt whose answer was lost (DUPLICATE), never twice.
  EXPECT_EQ(accepted + duplicates, batches * kBatch);
  const int64_t stored = SqlNumber(db_->port(), kSchema,
                                   cs::health::CountLoggedSignalsSql(
                                       "account_id LIKE 'outage-%' AND event_id LIKE 'ev-%'"));
  EXPECT_EQ(stored, static_cast<int64_t>(batches) * kBatch);
  const int64_t distinct = SqlNumber(
      db_->port(), kSchema,
      cs::health::CountLoggedSignalsSql("event_id LIKE 'ev-%'",
                                        "COUNT(DISTINCT account_id, event_id)"));
  EXPECT_EQ(distinct, stored);
  // The probe sent during the outage was refused and so is not there.
  EXPECT_EQ(SqlNumber(db_->port(), kSchema,
                      cs::health::CountLoggedSignalsSql("event_id LIKE 'probe-%'")),
            0);
  std::printf("[ outage ] %d batches, %d accepted, %d duplicates, %d UNAVAILABLE attempts\n",
              batches, accepted, duplicates, failures[grpc::StatusCode::UNAVAILABLE]);
}

}  // namespace
}  // namespace cs::testing::faults
