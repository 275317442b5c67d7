// SIGTERM to the real binaries: idle, each of the three exits in well under a
// second; under ingest load, health lets the calls in flight finish OK, refuses new
// ones with UNAVAILABLE, exits 0 within --drain_timeout, and every acknowledged
// signal is stored.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
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

// Time from SIGTERM to the process's exit (it must exit 0).
absl::Duration TimeToExit(RunningService& service) {
  const absl::Time start = absl::Now();
  service.process().Signal(SIGTERM);
  const std::optional<int> code = service.process().WaitExit(absl::Seconds(30));
  EXPECT_EQ(code, 0) << service.Log();
  return absl::Now() - start;
}

TEST(SigtermTest, IdleServicesExitWellUnderASecond) {
  std::unique_ptr<TestDatabase> health_db, playbooks_db, expansion_db;
  CS_TEST_DATABASE_OR_SKIP(health_db, "fsigh");
  playbooks_db = TestDatabase::Create("fsigp");
  expansion_db = TestDatabase::Create("fsige");
  ASSERT_NE(playbooks_db, nullptr);
  ASSERT_NE(expansion_db, nullptr);
  RunningService health("health", CS_HEALTH_SERVER, health_db->uri(), "idle");
  ASSERT_TRUE(health.WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << health.Log();
  RunningService expansion("expansion", CS_EXPANSION_SERVER, expansion_db->uri(), "idle",
                           {absl::StrCat("--health_addr=", health.address())});
  RunningService playbooks("playbooks", CS_PLAYBOOKS_SERVER, playbooks_db->uri(), "idle",
                           {absl::StrCat("--health_addr=", health.address()),
                            absl::StrCat("--expansion_addr=", expansion.address())});
  ASSERT_TRUE(expansion.WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << expansion.Log();
  ASSERT_TRUE(playbooks.WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << playbooks.Log();
  // Let the background loops reach their idle waits, and /metrics be scraped once.
  absl::SleepFor(absl::Seconds(2));
  EXPECT_THAT(playbooks.Metrics(), ::testing::HasSubstr("grpc"));

  // Consumers first, so each one's peers are still up while it stops.
  const absl::Duration p = TimeToExit(playbooks);
  const absl::Duration e = TimeToExit(expansion);
  const absl::Duration h = TimeToExit(health);
  std::printf("[ idle drain ] playbooks %.3f s, expansion %.3f s, health %.3f s\n",
              absl::ToDoubleSeconds(p), absl::ToDoubleSeconds(e), absl::ToDoubleSeconds(h));
  EXPECT_LT(p, absl::Milliseconds(1000)) << playbooks.Log();
  EXPECT_LT(e, absl::Milliseconds(1000)) << expansion.Log();
  EXPECT_LT(h, absl::Milliseconds(1000)) << health.Log();
}

// One RecordSignals call as a client saw it.
struct Call {
  absl::Time start;
  absl::Time end;
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  int accepted = 0;
  bool server_running_at_start = true;
};

TEST(SigtermTest, InFlightCallsFinishNewOnesAreRefusedAndNothingAcknowledgedIsLost) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "fsigload");
  constexpr absl::Duration kDrain = absl::Seconds(8);
  RunningService health("health", CS_HEALTH_SERVER, db->uri(), "load",
                        {absl::StrCat("--drain_timeout=", absl::FormatDuration(kDrain))});
  ASSERT_TRUE(health.WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << health.Log();
  {
    auto stub = hv1::AccountHealthService::NewStub(health.channel());
    for (int a = 0; a < 4; ++a) ASSERT_TRUE(UpsertAccount(stub.get(), absl::StrCat("t-", a)).ok());
  }

  std::mutex mu;
  std::vector<Call> calls;
  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0};
  // Large batches, so a call takes long enough to be caught in flight.
  std::vector<std::thread> load;
  for (int c = 0; c < 4; ++c) {
    load.emplace_back([&, c] {
      auto stub = hv1::AccountHealthService::NewStub(health.channel());
      for (int b = 0; !stop.load(); ++b) {
        const hv1::RecordSignalsRequest req =
            SignalBatch(absl::StrCat("sig-", c, "-", b), absl::StrCat("t-", c),
                        absl::StrCat("load-", c, "-", b), 1000);
        Call call;
        call.start = absl::Now();
        call.server_running_at_start = health.process().running();
        hv1::RecordSignalsResponse resp;
        const grpc::Status s =
            stub->RecordSignals(Context(absl::Seconds(30)).get(), req, &resp);
        call.end = absl::Now();
        call.code = s.error_code();
        call.accepted = s.ok() ? resp.accepted() : 0;
        if (s.ok()) ++acknowledged;
        std::lock_guard<std::mutex> lock(mu);
        calls.push_back(call);
      }
    });
  }
  ASSERT_TRUE(Eventually([&] { return acknowledged.load() >= 4; }, absl::Seconds(60)));
  // Hold the four accounts' rows for 2 s from another connection: ingest locks the
  // accounts it rescores, so every batch sent now stays in flight until the lock goes,
  // whatever the build or the machine's speed. The signal comes while they wait.
  std::thread locker([&] {
    RunCommand(absl::StrCat("mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P", UriPort(db->uri()),
                            " -uroot ", db->config().schema,
                            " -e 'BEGIN; SELECT account_id FROM accounts WHERE account_id LIKE \"t-%\" "
                            "FOR UPDATE; DO SLEEP(2); COMMIT;'"));
  });
  // The lock is held once the client's session reaches its SLEEP: starting the
  // client can take longer than the window below on a loaded machine.
  ASSERT_TRUE(Eventually(
      [&] {
        return SqlNumber(UriPort(db->uri()), db->config().schema,
                         "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                         " WHERE INFO LIKE 'DO SLEEP%'") == 1;
      },
      absl::Seconds(10)));
  constexpr absl::Duration kInFlight = absl::Milliseconds(300);
  absl::SleepFor(kInFlight + absl::Milliseconds(100));

  const absl::Time signalled = absl::Now();
  health.process().Signal(SIGTERM);
  // New calls while the in-flight ones drain: a cheap read every 50 ms, from 200 ms
  // after the signal (so it cannot have raced ahead of it) until the process is gone.
  std::vector<Call> probes;
  std::thread prober([&] {
    auto stub = hv1::AccountHealthService::NewStub(health.channel());
    absl::SleepFor(absl::Milliseconds(200));
    while (!stop.load()) {
      Call call;
      call.start = absl::Now();
      call.server_running_at_start = health.process().running();
      hv1::GetAccountRequest req;
      req.set_account_id("t-0");
      hv1::GetAccountResponse resp;
      call.code = stub->GetAccount(Context(absl::Seconds(2)).get(), req, &resp).error_code();
      call.end = absl::Now();
      probes.push_back(call);
      if (!call.server_running_at_start) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
  });
  const std::optional<int> code = health.process().WaitExit(kDrain + absl::Seconds(5));
  const absl::Duration exit_after = absl::Now() - signalled;
  stop.store(true);
  prober.join();
  for (std::thread& t : load) t.join();
  locker.join();
  EXPECT_EQ(code, 0) << health.Log();
  EXPECT_LT(exit_after, kDrain + absl::Seconds(1)) << health.Log();

  int in_flight = 0, in_flight_ok = 0, refused_during_drain = 0, stored_acknowledged = 0;
  for (const Call& c : calls) {
    // Only two outcomes exist: done, or refused so the client may retry elsewhere.
    EXPECT_TRUE(c.code == grpc::StatusCode::OK || c.code == grpc::StatusCode::UNAVAILABLE)
        << "a call ended with code " << c.code;
    stored_acknowledged += c.accepted;
    // Sent well before the signal and not answered by then: in flight at SIGTERM.
    if (c.start < signalled - kInFlight && c.end > signalled) {
      ++in_flight;
      if (c.code == grpc::StatusCode::OK) ++in_flight_ok;
    }
    // Sent well after the signal: refused, whether the process still drained or not.
    if (c.start > signalled + absl::Milliseconds(200)) {
      EXPECT_EQ(c.code, grpc::StatusCode::UNAVAILABLE);
    }
  }
  for (const Call& c : probes) {
    EXPECT_EQ(c.code, grpc::StatusCode::UNAVAILABLE) << "a read sent during the drain was served";
    if (c.server_running_at_start && c.code == grpc::StatusCode::UNAVAILABLE) {
      ++refused_during_drain;
    }
  }
  std::printf("[ sigterm ] exit after %.3f s; %d calls in flight at SIGTERM, %d finished OK; "
              "%d new calls refused while draining\n",
              absl::ToDoubleSeconds(exit_after), in_flight, in_flight_ok, refused_during_drain);
  EXPECT_GT(in_flight, 0) << "the signal caught no call in flight";
  EXPECT_EQ(in_flight_ok, in_flight);
  // The calls in flight outlast the first probe, so the refusal was seen while the
  // process was still draining, not only once it was gone.
  EXPECT_GT(refused_during_drain, 0);

  // Nothing acknowledged was lost.
  const int64_t stored = SqlNumber(UriPort(db->uri()), db->config().schema,
                                   cs::health::CountLoggedSignalsSql("event_id LIKE 'load-%'"));
  EXPECT_EQ(stored, stored_acknowledged);
}

}  // namespace
}  // namespace cs::testing::faults
