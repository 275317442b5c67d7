// The suite's load generator. It measures, against running binaries on loopback:
//   ingest    durable RecordSignals throughput (signals/s) with concurrent clients,
//             freshness probes under that load (write -> visible in GetHealth, and
//             band change to RED -> the playbook run it triggers, when
//             --playbooks_addr is set), and the baseline of the same rows written
//             straight into MariaDB with multi-row INSERTs from one client;
//   read      GetHealth peak QPS (closed loop) and p50/p99 at 50 % and 90 % of that
//             peak (open loop), next to a trivial gRPC echo server measured the
//             same way;
//   rescore   a full rescore after a scorecard change over N seeded accounts with
//             90 days of history: wall time, accounts/s, the CPU health, playbooks
//             and MariaDB used per account, and the health process's peak RSS;
//   analytics GetPortfolioSummary, GetRetentionMetrics and GetPipelineSummary over a
//             seeded book (1M accounts, 10M ledger rows by default; opt-in, as
//             seeding takes minutes): p50/p90/max per RPC (bench/analytics.cc).
// `cs_bench --serve_echo=ADDR` is the echo server itself (same build, same sync
// server threading as the services). bench/run starts everything; see BENCHMARKS.md.

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/analytics.h"
#include "bench/bench_util.h"
#include "bench/cpu_sample.h"
#include "common/config.h"
#include "common/db/pool.h"
#include "common/server/runtime.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, serve_echo, "", "Serve the echo baseline on this address and do nothing else");
ABSL_FLAG(std::string, scenarios, "ingest,read,rescore",
          "Comma-separated: ingest, read, rescore, analytics");
ABSL_FLAG(std::string, health_addr, "127.0.0.1:50051", "The health service");
ABSL_FLAG(std::string, playbooks_addr, "",
          "The playbooks service, consuming the health service's events (band change -> "
          "playbook run probes of the ingest scenario; none when empty)");
ABSL_FLAG(std::string, expansion_addr, "127.0.0.1:50053", "The expansion service (analytics)");
ABSL_FLAG(std::string, echo_addr, "", "The echo baseline server (read scenario)");
ABSL_FLAG(std::string, db_uri, "mysql://root@127.0.0.1:3407",
          "The database server the health service uses (no schema)");
ABSL_FLAG(std::string, health_schema, "cs_health", "The health service's schema");
ABSL_FLAG(std::string, expansion_schema, "cs_expansion", "The expansion service's schema");
ABSL_FLAG(std::string, playbooks_schema, "cs_playbooks",
          "The playbooks service's schema (rescore: its health consumer's cursor)");
ABSL_FLAG(int, health_pid, 0,
          "Process id of the health service, for its peak RSS and CPU (rescore.cpu_us_per_account)");
ABSL_FLAG(int, playbooks_pid, 0, "Process id of the playbooks service, for its CPU");
ABSL_FLAG(int, mariadb_pid, 0, "Process id of the database server, for its CPU");
ABSL_FLAG(int, echo_pid, 0, "Process id of the echo baseline server, for its CPU per call");
ABSL_FLAG(int, accounts, 2000, "Accounts the ingest and read scenarios spread over");
ABSL_FLAG(int, concurrency, 16, "Concurrent clients (closed loop)");
ABSL_FLAG(int, batch, 500, "Signals per RecordSignals request");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Length of each measured phase");
ABSL_FLAG(int, baseline_rows, 200000, "Rows the INSERT baseline writes");
ABSL_FLAG(int, rescore_accounts, 100000, "Accounts seeded for the rescore scenario");
ABSL_FLAG(int, rescore_passes, 2,
          "Scorecard changes timed in turn: the first scores the seeded accounts for the"
          " first time (rescore.first_scoring.*), each later one rescores scored accounts"
          " (rescore.wall_seconds, the last pass's)");
ABSL_FLAG(absl::Duration, rescore_settle_max, absl::Minutes(30),
          "Longest wait after a rescore pass for the playbooks consumer to apply its events"
          " (rescore.consumer_caught_up_seconds), and between passes for the database to go"
          " quiet");
ABSL_FLAG(int, peak_rounds, 3,
          "Read scenario: alternating closed-loop rounds of GetHealth and echo; each peak is "
          "the median of its rounds");
ABSL_FLAG(std::vector<std::string>, read_load_fractions, std::vector<std::string>({"0.5", "0.8", "0.9"}),
          "Read scenario: the fractions of each peak at which an open-loop phase runs");
ABSL_FLAG(int, read_lane_in_flight, 50,
          "Read scenario: calls each of the 4 open-loop connections may have out at once; a "
          "call due beyond it waits in the client, late (latency counts from its schedule)");
ABSL_FLAG(absl::Duration, settle_max, absl::Seconds(120),
          "Read scenario: longest wait for the database to go quiet after the set-up (0: none)");
ABSL_FLAG(double, quiet_statements_per_s, 200,
          "Read scenario: the database is quiet below this many statements per second");
ABSL_FLAG(int, playbook_probes, 20,
          "Band change -> playbook run probes during the ingest load, one fresh account each");
ABSL_FLAG(absl::Duration, playbook_probe_interval, absl::Milliseconds(300),
          "Time between the starts of two band change -> playbook run probes");

namespace cs::bench {
namespace {

namespace hv1 = cs::health::v1;
namespace pv1 = cs::playbooks::v1;

// ---------------------------------------------------------------------------
// Echo baseline server

class Echo final : public grpc::health::v1::Health::Service {
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override {
    response->set_status(request->service().empty()
                             ? grpc::health::v1::HealthCheckResponse::SERVING
                             : grpc::health::v1::HealthCheckResponse::UNKNOWN);
    return grpc::Status::OK;
  }
};

int ServeEcho(const std::string& addr) {
  Echo echo;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(addr, grpc::InsecureServerCredentials());
  // The services' thread settings, so the baseline differs only in the work done.
  cs::ServerConfig defaults;
  defaults.service_name = "echo";
  cs::ApplySyncServerSettings(builder, defaults);
  builder.RegisterService(&echo);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "echo: cannot listen on %s\n", addr.c_str());
    return 1;
  }
  server->Wait();
  return 0;
}

// ---------------------------------------------------------------------------
// Set-up through the public API

bool UpsertAccounts(hv1::AccountHealthService::Stub& stub, const std::string& prefix, int n) {
  static const hv1::Tier kTiers[] = {hv1::TIER_ENTERPRISE, hv1::TIER_MID_MARKET, hv1::TIER_SMB,
                                     hv1::TIER_SOLO};
  for (int i = 0; i < n; ++i) {
    hv1::UpsertAccountRequest request;
    request.set_request_id(absl::StrCat("bench-upsert-", prefix, "-", i));
    hv1::Account* a = request.mutable_account();
    a->set_account_id(AccountId(prefix, i));
    a->set_name(absl::StrCat("Bench account ", i));
    a->set_tier(kTiers[i % 4]);
    a->set_employee_count(50);
    a->set_industry(hv1::INDUSTRY_SAAS);
    a->set_owner_id("csm-bench");
    a->mutable_arr()->set_minor_units(1200000);
    a->mutable_arr()->set_currency_code("USD");
    hv1::UpsertAccountResponse response;
    grpc::Status s = stub.UpsertAccount(Context().get(), request, &response);
    if (!s.ok()) return Fail("UpsertAccount", s);
  }
  return true;
}

// One login per account, so every account has a score before reads start.
bool ScoreEveryAccount(hv1::AccountHealthService::Stub& stub, int n) {
  const std::string tag = absl::StrCat(absl::ToUnixMicros(absl::Now()));
  for (int first = 0; first < n; first += 500) {
    hv1::RecordSignalsRequest request;
    request.set_request_id(absl::StrCat("bench-warm-", tag, "-", first));
    for (int i = first; i < std::min(n, first + 500); ++i) {
      hv1::Signal* s = request.add_signals();
      s->set_event_id(absl::StrCat("warm-", tag, "-", i));
      s->set_account_id(AccountId("bench", i));
      s->set_kind(hv1::SIGNAL_KIND_LOGIN);
      SetTimestamp(absl::Now() - absl::Hours(1), s->mutable_occurred_at());
    }
    hv1::RecordSignalsResponse response;
    grpc::Status s = stub.RecordSignals(Context().get(), request, &response);
    if (!s.ok()) return Fail("RecordSignals (warm-up)", s);
  }
  return true;
}

// One signal of a mix that touches several components.
void FillSignal(std::mt19937_64& rng, const std::string& account, const std::string& event_id,
                absl::Time now, hv1::Signal* s) {
  static const hv1::SignalKind kKinds[] = {
      hv1::SIGNAL_KIND_LOGIN,       hv1::SIGNAL_KIND_LOGIN,         hv1::SIGNAL_KIND_FEATURE_USED,
      hv1::SIGNAL_KIND_EMAIL_OPEN,  hv1::SIGNAL_KIND_SESSION_MINUTES, hv1::SIGNAL_KIND_TICKET_OPENED,
      hv1::SIGNAL_KIND_PAYMENT_SUCCEEDED, hv1::SIGNAL_KIND_WEBINAR_ATTENDED};
  const hv1::SignalKind kind = kKinds[rng() % (sizeof(kKinds) / sizeof(kKinds[0]))];
  s->set_event_id(event_id);
  s->set_account_id(account);
  s->set_kind(kind);
  SetTimestamp(now - absl::Minutes(static_cast<int64_t>(rng() % (60 * 24 * 20))),
               s->mutable_occurred_at());
  if (kind == hv1::SIGNAL_KIND_SESSION_MINUTES) s->set_value(static_cast<double>(rng() % 120 + 1));
  if (kind == hv1::SIGNAL_KIND_FEATURE_USED) s->set_feature(absl::StrCat("feature-", rng() % 12));
}

// ---------------------------------------------------------------------------
// Ingest

struct IngestResult {
  int64_t accepted = 0;
  int64_t requests = 0;
  int64_t errors = 0;
  double seconds = 0;
  Latencies latency;
};

// The load runs until `hold` returns; `hold` is given the count of signals accepted
// so far, which the clients keep current.
IngestResult RunIngest(const std::string& addr, int accounts, int concurrency, int batch,
                       const std::function<void(const std::atomic<int64_t>&)>& hold,
                       const std::string& run_tag) {
  IngestResult total;
  std::atomic<int64_t> accepted{0};
  std::mutex mu;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const Clock::time_point start = Clock::now();
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&, t] {
      auto stub = hv1::AccountHealthService::NewStub(Channel(addr, t));
      std::mt19937_64 rng(1234 + t);
      IngestResult mine;
      for (int64_t seq = 0; !stop.load(); ++seq) {
        hv1::RecordSignalsRequest request;
        request.set_request_id(absl::StrCat("bench-", run_tag, "-", t, "-", seq));
        const absl::Time now = absl::Now();
        // One caller's batch covers a handful of accounts, as an integration's would.
        const int base = static_cast<int>(rng() % accounts);
        for (int i = 0; i < batch; ++i) {
          FillSignal(rng, AccountId("bench", (base + i % 8) % accounts),
                     absl::StrCat(run_tag, "-", t, "-", seq, "-", i), now,
                     request.add_signals());
        }
        hv1::RecordSignalsResponse response;
        const Clock::time_point sent = Clock::now();
        grpc::Status s = stub->RecordSignals(Context().get(), request, &response);
        mine.latency.Add(Seconds(Clock::now() - sent) * 1e6);
        ++mine.requests;
        if (!s.ok()) {
          ++mine.errors;
          if (mine.errors == 1) Fail("RecordSignals", s);
          continue;
        }
        mine.accepted += response.accepted();
        accepted.fetch_add(response.accepted(), std::memory_order_relaxed);
      }
      std::lock_guard<std::mutex> lock(mu);
      total.accepted += mine.accepted;
      total.requests += mine.requests;
      total.errors += mine.errors;
      total.latency.Merge(mine.latency);
    });
  }
  hold(accepted);
  stop = true;
  for (auto& th : threads) th.join();
  total.seconds = Seconds(Clock::now() - start);
  return total;
}

// Time from RecordSignals returning to GetHealth showing the rescored account, while
// `keep_going` holds.
Latencies RunFreshnessProbes(const std::string& addr, const std::atomic<bool>& keep_going,
                             const std::string& run_tag) {
  Latencies out;
  auto stub = hv1::AccountHealthService::NewStub(Channel(addr, 1000));
  const std::string account = AccountId("bench", 0);
  std::mt19937_64 rng(99);
  for (int i = 0; keep_going.load(); ++i) {
    hv1::RecordSignalsRequest request;
    request.set_request_id(absl::StrCat("bench-fresh-", run_tag, "-", i));
    FillSignal(rng, account, absl::StrCat("fresh-", run_tag, "-", i), absl::Now(),
               request.add_signals());
    hv1::RecordSignalsResponse response;
    if (!stub->RecordSignals(Context().get(), request, &response).ok() ||
        response.accepted() != 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    const Clock::time_point returned = Clock::now();
    const absl::Time recorded = absl::Now();
    // Visible once the stored score was computed at or after the signal's commit.
    bool seen = false;
    while (!seen && Seconds(Clock::now() - returned) < 10) {
      hv1::GetHealthRequest get;
      get.set_account_id(account);
      hv1::GetHealthResponse health;
      if (stub->GetHealth(Context().get(), get, &health).ok()) {
        const absl::Time computed =
            absl::FromUnixSeconds(health.health().computed_at().seconds()) +
            absl::Nanoseconds(health.health().computed_at().nanos());
        seen = computed + absl::Seconds(1) >= recorded;  // DATETIME(6) vs. this clock
      }
    }
    out.Add(Seconds(Clock::now() - returned) * 1e6);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Band change -> playbook run

// The playbook DOMAIN's default set opens when an account enters RED.
constexpr char kRedPlaybook[] = "red-emergency-response";
// A probe whose run has not appeared by then counts as timed out, at this value.
constexpr absl::Duration kPlaybookProbeCap = absl::Seconds(10);

// `count` signals of `kind` for `account`, one a day over the `spread_days` days
// before `from_days_ago` (and an hour more, so none is in the future).
void AddSignals(hv1::RecordSignalsRequest& request, const std::string& account,
                hv1::SignalKind kind, int count, int spread_days, int from_days_ago = 0,
                bool distinct_features = false) {
  const absl::Time now = absl::Now();
  for (int i = 0; i < count; ++i) {
    hv1::Signal* s = request.add_signals();
    s->set_event_id(absl::StrCat(request.request_id(), "-", request.signals_size()));
    s->set_account_id(account);
    s->set_kind(kind);
    SetTimestamp(now - absl::Hours(24) * (from_days_ago + i % spread_days) - absl::Hours(1),
                 s->mutable_occurred_at());
    if (distinct_features) s->set_feature(absl::StrCat("feature-", i));
  }
}

// By DOMAIN's default scorecard (GREEN above 75, RED below 60; usage 25, adoption 20,
// support 15, payment 15, engagement 15, expansion interest 10): daily logins, four
// of ten features, one paid invoice, no tickets and a dozen email opens a month
// score 25 + 8 + 15 + 15 + 15 = 78, GREEN, with no expansion interest.
hv1::RecordSignalsRequest GreenStart(const std::string& account) {
  hv1::RecordSignalsRequest request;
  request.set_request_id(absl::StrCat(account, "-green"));
  AddSignals(request, account, hv1::SIGNAL_KIND_LOGIN, 90, 27);
  AddSignals(request, account, hv1::SIGNAL_KIND_FEATURE_USED, 4, 27, 0, true);
  AddSignals(request, account, hv1::SIGNAL_KIND_PAYMENT_SUCCEEDED, 1, 1, 40);
  AddSignals(request, account, hv1::SIGNAL_KIND_EMAIL_OPEN, 12, 27);
  return request;
}

// Signals can only lower support and payment: nine failed invoices (on-time ratio
// 0.1, under the 0.5 floor) and forty tickets in the 90-day window (over 10 a month)
// take both to 0, 78 - 30 = 48, RED.
hv1::RecordSignalsRequest FallIntoRed(const std::string& account) {
  hv1::RecordSignalsRequest request;
  request.set_request_id(absl::StrCat(account, "-red"));
  AddSignals(request, account, hv1::SIGNAL_KIND_PAYMENT_FAILED, 9, 20);
  AddSignals(request, account, hv1::SIGNAL_KIND_TICKET_OPENED, 40, 25);
  return request;
}

// Whether playbooks already has a run for `account` (of `playbook_id` when set).
bool HasRun(pv1::PlaybookService::Stub& playbooks, const std::string& account,
            const std::string& playbook_id) {
  pv1::ListRunsRequest request;
  request.set_account_id(account);
  request.set_playbook_id(playbook_id);
  request.set_page_size(1);
  pv1::ListRunsResponse response;
  return playbooks.ListRuns(Context().get(), request, &response).ok() && response.runs_size() > 0;
}

bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const Clock::time_point start = Clock::now();
  while (!done()) {
    if (Seconds(Clock::now() - start) > absl::ToDoubleSeconds(timeout)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

// Creates the probe accounts and scores each GREEN (BAND_CHANGED is published only
// between two scores, so a probe needs a scored start), then waits until playbooks
// has the RED playbook and has consumed the set-up's events (the last account's
// onboarding run exists), so the probes measure the load, not the set-up backlog.
bool PrepareProbeAccounts(hv1::AccountHealthService::Stub& health,
                          pv1::PlaybookService::Stub& playbooks, const std::string& prefix,
                          int n) {
  pv1::GetPlaybookRequest get_playbook;
  get_playbook.set_playbook_id(kRedPlaybook);
  if (!WaitFor([&] {
        pv1::GetPlaybookResponse response;
        return playbooks.GetPlaybook(Context().get(), get_playbook, &response).ok();
      }, absl::Seconds(60))) {
    std::fprintf(stderr, "playbooks: no %s playbook after 60 s\n", kRedPlaybook);
    return false;
  }
  if (!UpsertAccounts(health, prefix, n)) return false;
  for (int i = 0; i < n; ++i) {
    const std::string account = AccountId(prefix, i);
    hv1::RecordSignalsResponse recorded;
    if (grpc::Status s = health.RecordSignals(Context().get(), GreenStart(account), &recorded);
        !s.ok()) {
      return Fail("RecordSignals (probe start)", s);
    }
    hv1::GetHealthRequest get;
    get.set_account_id(account);
    hv1::GetHealthResponse response;
    if (grpc::Status s = health.GetHealth(Context().get(), get, &response); !s.ok()) {
      return Fail("GetHealth (probe start)", s);
    }
    if (response.health().band() != hv1::BAND_GREEN) {
      std::fprintf(stderr, "probe account %s starts %s, not GREEN\n", account.c_str(),
                   hv1::Band_Name(response.health().band()).c_str());
      return false;
    }
  }
  if (!WaitFor([&] { return HasRun(playbooks, AccountId(prefix, n - 1), ""); },
               absl::Seconds(120))) {
    std::fprintf(stderr, "playbooks: the set-up's events not consumed after 120 s\n");
    return false;
  }
  return true;
}

struct PlaybookProbeResult {
  Latencies latency;  // timed-out probes at the cap
  int timed_out = 0;
  int failed = 0;
};

// Probe i starts i * `interval` after the first: it pushes its account into RED and
// polls ListRuns for the RED playbook's run from the moment RecordSignals returns.
// Each probe waits on its own thread, so a slow one does not delay the next.
PlaybookProbeResult RunPlaybookProbes(hv1::AccountHealthService::Stub& health,
                                      pv1::PlaybookService::Stub& playbooks,
                                      const std::string& prefix, int n, absl::Duration interval) {
  PlaybookProbeResult result;
  std::mutex mu;
  std::vector<std::thread> probes;
  const Clock::time_point first = Clock::now();
  for (int i = 0; i < n; ++i) {
    std::this_thread::sleep_until(
        first + std::chrono::microseconds(absl::ToInt64Microseconds(interval * i)));
    probes.emplace_back([&, i] {
      const std::string account = AccountId(prefix, i);
      hv1::RecordSignalsRequest request = FallIntoRed(account);
      hv1::RecordSignalsResponse response;
      grpc::Status s = health.RecordSignals(Context().get(), request, &response);
      if (!s.ok() || response.accepted() != request.signals_size()) {
        if (!s.ok()) Fail("RecordSignals (probe)", s);
        std::lock_guard<std::mutex> lock(mu);
        ++result.failed;
        return;
      }
      const Clock::time_point returned = Clock::now();
      bool seen = false;
      while (!(seen = HasRun(playbooks, account, kRedPlaybook)) &&
             Seconds(Clock::now() - returned) < absl::ToDoubleSeconds(kPlaybookProbeCap)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
      }
      const double us = seen ? Seconds(Clock::now() - returned) * 1e6
                             : absl::ToDoubleMicroseconds(kPlaybookProbeCap);
      std::lock_guard<std::mutex> lock(mu);
      result.latency.Add(us);
      if (!seen) ++result.timed_out;
    });
  }
  for (std::thread& t : probes) t.join();
  return result;
}

// The same signals written the naive way: one row per signal in a table keyed by
// (account_id, event_id) with an index on (account_id, occurred_at), the layout the
// health schema itself used up to migration 010, by one client with multi-row
// INSERTs of 1000 rows, each statement committed (autocommit), into a scratch schema.
absl::StatusOr<double> InsertBaseline(const cs::DbConfig& base, int rows) {
  cs::DbConfig config = base;
  config.schema = "cs_bench_baseline";
  config.pool_size = 1;
  cs::db::Pool pool(config);
  if (absl::Status s = pool.EnsureSchema(); !s.ok()) return s;
  double seconds = 0;
  absl::Status s = pool.Run([&](cs::db::Connection& conn) -> absl::Status {
    conn.Execute("DROP TABLE IF EXISTS signals");
    conn.Execute(
        "CREATE TABLE signals (account_id VARCHAR(128) NOT NULL, event_id VARCHAR(128) NOT NULL,"
        " kind VARCHAR(32) NOT NULL, occurred_at DATETIME(6) NOT NULL,"
        " recorded_at DATETIME(6) NOT NULL, value DOUBLE NOT NULL,"
        " feature VARCHAR(64) NOT NULL DEFAULT '', csat DOUBLE NOT NULL DEFAULT 0,"
        " PRIMARY KEY (account_id, event_id), KEY signals_time (account_id, occurred_at))"
        " ENGINE=InnoDB");
    constexpr int kRowsPerStatement = 1000;
    std::string sql = "INSERT INTO signals (account_id, event_id, kind, occurred_at, recorded_at,"
                      " value, feature, csat) VALUES ";
    for (int i = 0; i < kRowsPerStatement; ++i) {
      absl::StrAppend(&sql, i == 0 ? "" : ",", "(?, ?, ?, ?, ?, ?, ?, ?)");
    }
    auto& stmt = conn.Prepare(sql);
    std::mt19937_64 rng(7);
    const absl::Time now = absl::Now();
    const std::string now_text = absl::FormatTime("%Y-%m-%d %H:%M:%E6S", now, absl::UTCTimeZone());
    const Clock::time_point start = Clock::now();
    for (int done = 0; done + kRowsPerStatement <= rows; done += kRowsPerStatement) {
      for (int i = 0; i < kRowsPerStatement; ++i) {
        const int p = i * 8;
        const int row = done + i;
        stmt.setString(p + 1, AccountId("bench", row % 2000));
        stmt.setString(p + 2, absl::StrCat("base-", row));
        stmt.setString(p + 3, "LOGIN");
        stmt.setString(p + 4, absl::FormatTime(
                                  "%Y-%m-%d %H:%M:%E6S",
                                  now - absl::Minutes(static_cast<int64_t>(rng() % 28800)),
                                  absl::UTCTimeZone()));
        stmt.setString(p + 5, now_text);
        stmt.setDouble(p + 6, 1);
        stmt.setString(p + 7, "");
        stmt.setDouble(p + 8, 0);
      }
      stmt.executeUpdate();
    }
    seconds = Seconds(Clock::now() - start);
    conn.Execute("DROP TABLE signals");
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return (rows / 1000 * 1000) / seconds;
}

// The services' processes the ingest and rescore scenarios sample the CPU of.
std::map<std::string, int> ServicePids() {
  return {{"health", absl::GetFlag(FLAGS_health_pid)},
          {"playbooks", absl::GetFlag(FLAGS_playbooks_pid)},
          {"mariadb", absl::GetFlag(FLAGS_mariadb_pid)}};
}

// Reports `name`: the CPU health, playbooks and the database server used between
// two samples (the `span` the note names) per unit of work (an account rescored, a
// signal accepted), with each one's share and the whole machine's busy time in the
// note.
void ReportCpuPer(const CpuSample& from, const CpuSample& to, int64_t units,
                  const std::string& figure, const std::string& span) {
  const std::map<std::string, double> per = CpuMicrosPer(from, to, static_cast<double>(units));
  double sum = 0;
  std::vector<std::string> parts;
  for (const auto& [name, pid] : ServicePids()) {
    auto it = per.find(name);
    if (it == per.end()) continue;
    sum += it->second;
    parts.push_back(absl::StrFormat("%s %.1f", name, it->second));
  }
  if (parts.empty()) return;  // no process ids given
  if (auto machine = per.find(""); machine != per.end()) {
    parts.push_back(absl::StrFormat("machine busy %.1f", machine->second));
  }
  Report(figure, sum, "us",
         absl::StrCat(absl::StrJoin(parts, ", "), " (", span, ")"));
}

bool IngestScenario(const cs::DbConfig& db) {
  std::printf("ingest: durable RecordSignals, %d clients, batches of %d, %s\n",
              absl::GetFlag(FLAGS_concurrency), absl::GetFlag(FLAGS_batch),
              absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str());
  const std::string addr = absl::GetFlag(FLAGS_health_addr);
  const std::string tag = absl::StrCat(absl::ToUnixMicros(absl::Now()));
  const std::string playbooks_addr = absl::GetFlag(FLAGS_playbooks_addr);
  const int playbook_probes = playbooks_addr.empty() ? 0 : absl::GetFlag(FLAGS_playbook_probes);
  const std::string probe_prefix = absl::StrCat("bench-pb-", tag);
  auto probe_health = hv1::AccountHealthService::NewStub(Channel(addr, 1001));
  std::unique_ptr<pv1::PlaybookService::Stub> playbooks;
  if (playbook_probes > 0) {
    playbooks = pv1::PlaybookService::NewStub(Channel(playbooks_addr, 1002));
    if (!PrepareProbeAccounts(*probe_health, *playbooks, probe_prefix, playbook_probes)) {
      return false;
    }
  }
  std::atomic<bool> probing{true};
  Latencies fresh;
  std::thread prober([&] { fresh = RunFreshnessProbes(addr, probing, tag); });
  PlaybookProbeResult band_to_run;
  CpuSample cpu_from;
  CpuSample cpu_to;
  int64_t cpu_signals = 0;
  // The load lasts --duration, or longer until the last playbook probe is done.
  IngestResult r = RunIngest(
      addr, absl::GetFlag(FLAGS_accounts), absl::GetFlag(FLAGS_concurrency),
      absl::GetFlag(FLAGS_batch),
      [&](const std::atomic<int64_t>& accepted) {
        std::thread playbook_prober;
        if (playbooks != nullptr) {
          playbook_prober = std::thread([&] {
            band_to_run = RunPlaybookProbes(*probe_health, *playbooks, probe_prefix,
                                            playbook_probes,
                                            absl::GetFlag(FLAGS_playbook_probe_interval));
          });
        }
        cpu_from = SampleCpu(ServicePids());
        const int64_t accepted_from = accepted.load();
        absl::SleepFor(absl::GetFlag(FLAGS_duration));
        cpu_to = SampleCpu(ServicePids());
        cpu_signals = accepted.load() - accepted_from;
        if (playbook_prober.joinable()) playbook_prober.join();
      },
      tag);
  probing = false;
  prober.join();
  const double rate = r.accepted / r.seconds;
  Report("ingest.service_signals_per_s", rate, "signals/s",
         absl::StrFormat("%d signals, %d requests, %d errors", r.accepted, r.requests, r.errors));
  if (cpu_signals > 0) {
    ReportCpuPer(cpu_from, cpu_to, cpu_signals, "ingest.cpu_us_per_signal",
                 "per signal accepted while the load ran for --duration");
  }
  Report("ingest.request_p50_ms", r.latency.Percentile(50) / 1000, "ms");
  Report("ingest.request_p99_ms", r.latency.Percentile(99) / 1000, "ms");
  Report("freshness.visible_p50_ms", fresh.Percentile(50) / 1000, "ms",
         absl::StrFormat("%d probes", fresh.count()));
  Report("freshness.visible_p99_ms", fresh.Percentile(99) / 1000, "ms");
  if (playbook_probes > 0) {
    Report("freshness.band_to_playbook_run_p50_ms", band_to_run.latency.Percentile(50) / 1000,
           "ms", absl::StrFormat("%d probes, %d timed out (counted at %s), %d failed",
                           band_to_run.latency.count(), band_to_run.timed_out,
                           absl::FormatDuration(kPlaybookProbeCap), band_to_run.failed));
    Report("freshness.band_to_playbook_run_p99_ms", band_to_run.latency.Percentile(99) / 1000,
           "ms");
    Report("freshness.band_to_playbook_run_max_ms", band_to_run.latency.Percentile(100) / 1000,
           "ms");
    Report("freshness.band_to_playbook_run_timeouts", band_to_run.timed_out, "probes");
  }
  absl::StatusOr<double> baseline =
      InsertBaseline(db, absl::GetFlag(FLAGS_baseline_rows));
  if (!baseline.ok()) {
    std::fprintf(stderr, "baseline: %s\n", std::string(baseline.status().message()).c_str());
    return false;
  }
  Report("ingest.baseline_multirow_insert_rows_per_s", *baseline, "rows/s");
  Report("ingest.ratio_service_to_baseline", rate / *baseline, "x");
  const bool playbook_probes_ok =
      band_to_run.failed == 0 && band_to_run.timed_out < std::max(1, playbook_probes);
  return r.errors == 0 && r.accepted > 0 && fresh.count() > 0 && playbook_probes_ok;
}

// ---------------------------------------------------------------------------
// Read path

// Closed loop: `concurrency` callers back to back; returns calls/s and sets `done`
// to the calls answered.
double ClosedLoop(int concurrency, absl::Duration duration,
                  const std::function<std::function<bool()>(int)>& make_caller, int64_t* done) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&, t] {
      std::function<bool()> call = make_caller(t);
      while (!stop.load()) {
        if (call()) calls.fetch_add(1);
      }
    });
  }
  const Clock::time_point start = Clock::now();
  std::this_thread::sleep_for(std::chrono::microseconds(absl::ToInt64Microseconds(duration)));
  stop = true;
  for (auto& th : threads) th.join();
  *done = calls.load();
  return calls.load() / Seconds(Clock::now() - start);
}

// One asynchronous call in flight; latency counts from its scheduled start, so a
// server that falls behind shows it (no coordinated omission).
struct PendingCall {
  virtual ~PendingCall() = default;
  grpc::ClientContext context;
  grpc::Status status;
  Clock::time_point scheduled;
};

template <typename Response>
struct TypedCall : PendingCall {
  Response response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;
};

// Starts call `index` on `lane`'s connection, scheduled at the given time.
using StartFn =
    std::function<PendingCall*(int lane, grpc::CompletionQueue*, Clock::time_point, int64_t index)>;
constexpr int kLanes = 4;

struct OpenLoopResult {
  Latencies latency;
  int64_t errors = 0;
  std::map<grpc::StatusCode, int64_t> errors_by_code;
  int64_t waited_for_slot = 0;  // calls held in the client by --read_lane_in_flight
  double achieved_rate = 0;
};

// "0 errors", or "12 errors (10 DEADLINE_EXCEEDED, 2 RESOURCE_EXHAUSTED)".
std::string DescribeErrors(const OpenLoopResult& r) {
  std::vector<std::string> parts;
  for (const auto& [code, n] : r.errors_by_code) {
    parts.push_back(absl::StrCat(n, " ", absl::StatusCodeToString(static_cast<absl::StatusCode>(code))));
  }
  return parts.empty() ? absl::StrCat(r.errors, " errors")
                       : absl::StrCat(r.errors, " errors (", absl::StrJoin(parts, ", "), ")");
}

// One sender and one completion queue at `rate`; OpenLoop runs several. At most
// --read_lane_in_flight calls are out at once: a call due while that many are
// waits in the sender until one ends (and the calls after it are late), as a
// client with a fixed number of connections would (latency still counts from the
// scheduled time). Without the cap, a server that fell behind left thousands of
// calls queued in the client's transport, and the client's own CPU a call tripled,
// taking the cores from the servers it measured.
OpenLoopResult OpenLoopLane(int lane, double rate, absl::Duration duration,
                            const StartFn& start) {
  OpenLoopResult result;
  grpc::CompletionQueue cq;
  const int64_t cap = std::max(1, absl::GetFlag(FLAGS_read_lane_in_flight));  // 0 would never send
  std::atomic<int64_t> outstanding{0};
  std::atomic<bool> sender_waiting{false};
  std::mutex mu;
  std::condition_variable slot_freed;
  std::thread collector([&] {
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
      std::unique_ptr<PendingCall> call(static_cast<PendingCall*>(tag));
      if (call->status.ok()) {
        result.latency.Add(Seconds(Clock::now() - call->scheduled) * 1e6);
      } else {
        ++result.errors;
        ++result.errors_by_code[call->status.error_code()];
      }
      outstanding.fetch_sub(1);
      if (sender_waiting.load()) {
        std::lock_guard<std::mutex> lock(mu);
        slot_freed.notify_one();
      }
    }
  });
  const Clock::time_point begin = Clock::now();
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const int64_t total = static_cast<int64_t>(rate * absl::ToDoubleSeconds(duration));
  for (int64_t i = 0; i < total; ++i) {
    const Clock::time_point when =
        begin + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i));
    std::this_thread::sleep_until(when);
    if (outstanding.load() >= cap) {
      ++result.waited_for_slot;
      std::unique_lock<std::mutex> lock(mu);
      sender_waiting.store(true);
      slot_freed.wait(lock, [&] { return outstanding.load() < cap; });
      sender_waiting.store(false);
    }
    outstanding.fetch_add(1);
    start(lane, &cq, when, int64_t{lane} * 100000000 + i);
  }
  const double elapsed = Seconds(Clock::now() - begin);
  while (outstanding.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  cq.Shutdown();
  collector.join();
  result.achieved_rate = total / elapsed;
  return result;
}

// Open loop at `rate` calls/s over several lanes, so one sending thread is not
// what limits the rate.
OpenLoopResult OpenLoop(double rate, absl::Duration duration, const StartFn& start) {
  std::vector<OpenLoopResult> lanes(kLanes);
  std::vector<std::thread> threads;
  for (int l = 0; l < kLanes; ++l) {
    threads.emplace_back([&, l] {
      lanes[l] = OpenLoopLane(l, rate / kLanes, duration, start);
    });
  }
  for (auto& t : threads) t.join();
  OpenLoopResult total;
  for (const OpenLoopResult& lane : lanes) {
    total.latency.Merge(lane.latency);
    total.errors += lane.errors;
    for (const auto& [code, n] : lane.errors_by_code) total.errors_by_code[code] += n;
    total.waited_for_slot += lane.waited_for_slot;
    total.achieved_rate += lane.achieved_rate;
  }
  return total;
}

std::vector<double> ReadLoadFractions() {
  std::vector<double> out;
  for (const std::string& text : absl::GetFlag(FLAGS_read_load_fractions)) {
    double f = 0;
    if (!absl::SimpleAtod(text, &f) || !(f > 0)) {
      std::fprintf(stderr, "--read_load_fractions: %s is not a positive number\n", text.c_str());
      std::exit(2);
    }
    out.push_back(f);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The median of a series of figures.
double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// The processes one side of the read scenario runs on: its server and this client.
std::map<std::string, int> ReadPids(int server_pid) {
  return {{"server", server_pid}, {"bench", static_cast<int>(getpid())}};
}

// The CPU per call of the server and of this client, "server 41.2 + bench 38.0 us"
// ("" without the server's pid).
std::string CpuPerCallNote(const CpuSample& from, const CpuSample& to, int64_t calls) {
  if (from.process_ticks.count("server") == 0 || calls <= 0) return "";
  const std::map<std::string, double> per = CpuMicrosPer(from, to, static_cast<double>(calls));
  const auto get = [&](const char* name) {
    auto it = per.find(name);
    return it == per.end() ? 0.0 : it->second;
  };
  return absl::StrFormat("server %.1f + bench %.1f us", get("server"), get("bench"));
}

// One side of the read scenario: how to make closed-loop callers, how to start an
// open-loop call, and the server's pid (0: not sampled).
struct ReadTarget {
  std::function<std::function<bool()>(int)> caller;
  StartFn start;
  int pid = 0;
};

// Peak QPS of the service and of the baseline, measured in alternating rounds so that
// a change in the machine's state (another process's burst, the page cache, a CPU's
// clock) falls on both alike; each peak is the median of its rounds.
std::pair<double, double> InterleavedPeaks(int rounds, int concurrency, absl::Duration duration,
                                           const ReadTarget& service,
                                           const ReadTarget* baseline) {
  std::vector<double> s;
  std::vector<double> b;
  std::vector<std::string> cpu;
  const auto round = [&](const ReadTarget& target, std::vector<double>& peaks, const char* side) {
    const std::map<std::string, int> pids = ReadPids(target.pid);
    const CpuSample from = SampleCpu(pids);
    int64_t calls = 0;
    peaks.push_back(ClosedLoop(concurrency, duration, target.caller, &calls));
    const std::string note = CpuPerCallNote(from, SampleCpu(pids), calls);
    if (!note.empty()) cpu.push_back(absl::StrCat(side, " ", note));
  };
  for (int r = 0; r < rounds; ++r) {
    round(service, s, "service");
    if (baseline != nullptr) round(*baseline, b, "baseline");
  }
  const auto joined = [](const std::vector<double>& v) {
    std::vector<std::string> parts;
    for (double x : v) parts.push_back(absl::StrFormat("%.0f", x));
    return absl::StrJoin(parts, " / ");
  };
  std::printf("  (peak rounds: service %s; baseline %s)\n", joined(s).c_str(), joined(b).c_str());
  if (!cpu.empty()) std::printf("  (CPU a call: %s)\n", absl::StrJoin(cpu, "; ").c_str());
  return {Median(s), Median(b)};
}

// One side's open-loop phase at `fraction` of its peak, reported as
// `label`.atNN_p50_ms and _p99_ms; the note says the rate reached, the errors by
// code, the calls held for a free slot and the CPU a call took in the server and in
// this client.
OpenLoopResult OpenLoopPhase(const std::string& label, double peak, double fraction,
                             absl::Duration duration, const ReadTarget& target) {
  const std::map<std::string, int> pids = ReadPids(target.pid);
  const CpuSample from = SampleCpu(pids);
  OpenLoopResult r = OpenLoop(peak * fraction, duration, target.start);
  const std::string cpu = CpuPerCallNote(from, SampleCpu(pids), r.latency.count() + r.errors);
  const std::string name = absl::StrCat(label, ".at", std::lround(fraction * 100));
  Report(name + "_p50_ms", r.latency.Percentile(50) / 1000, "ms",
         absl::StrFormat("open loop %.0f calls/s, %s, %d held for a free slot%s", r.achieved_rate,
                         DescribeErrors(r), r.waited_for_slot,
                         cpu.empty() ? "" : absl::StrCat("; CPU a call ", cpu)));
  Report(name + "_p99_ms", r.latency.Percentile(99) / 1000, "ms");
  return r;
}

// Waits until the database sees fewer than --quiet_statements_per_s statements per
// second (its global Questions counter, sampled every 500 ms, twice in a row), so a
// read phase does not run while the services still work off the set-up (scoring the
// bench accounts publishes band changes, which playbooks turns into runs and tasks).
// Gives up after `max` and says so, as the figure `figure`.
void WaitForQuiet(const cs::DbConfig& base, absl::Duration max, const char* figure) {
  if (max <= absl::ZeroDuration()) return;
  cs::DbConfig config = base;
  config.schema = absl::GetFlag(FLAGS_health_schema);
  config.pool_size = 1;
  cs::db::Pool pool(config);
  const auto questions = [&]() -> int64_t {
    int64_t n = -1;
    absl::Status s = pool.Run([&](cs::db::Connection& conn) -> absl::Status {
      std::unique_ptr<sql::ResultSet> rs(
          conn.Prepare("SHOW GLOBAL STATUS LIKE 'Questions'").executeQuery());
      if (rs->next()) n = rs->getInt64(2);
      return absl::OkStatus();
    });
    return s.ok() ? n : -1;
  };
  const Clock::time_point start = Clock::now();
  int64_t last = questions();
  int quiet = 0;
  double rate = 0;
  while (last >= 0 && quiet < 2 && Seconds(Clock::now() - start) < absl::ToDoubleSeconds(max)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const int64_t now = questions();
    if (now < 0) break;
    rate = (now - last - 1) / 0.5;  // less this probe's own statement
    last = now;
    quiet = rate < absl::GetFlag(FLAGS_quiet_statements_per_s) ? quiet + 1 : 0;
  }
  Report(figure, Seconds(Clock::now() - start), "s",
         absl::StrFormat("set-up, not a figure: %s at %.0f statements/s",
                         quiet >= 2 ? "quiet" : "gave up waiting", rate));
}

bool ReadScenario(const cs::DbConfig& db) {
  const std::string health = absl::GetFlag(FLAGS_health_addr);
  const std::string echo = absl::GetFlag(FLAGS_echo_addr);
  const int accounts = absl::GetFlag(FLAGS_accounts);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  std::printf("read: GetHealth over %d accounts vs. the echo baseline, %s per phase\n", accounts,
              absl::FormatDuration(duration).c_str());

  std::vector<std::unique_ptr<hv1::AccountHealthService::Stub>> health_stubs;
  for (int l = 0; l < kLanes; ++l) {
    health_stubs.push_back(hv1::AccountHealthService::NewStub(Channel(health, 2000 + l)));
  }
  {
    // What one answer weighs on the wire, next to the echo's (grpc.health.v1 Check).
    hv1::GetHealthRequest request;
    request.set_account_id(AccountId("bench", 0));
    hv1::GetHealthResponse response;
    if (health_stubs[0]->GetHealth(Context().get(), request, &response).ok()) {
      grpc::health::v1::HealthCheckResponse echo_answer;
      echo_answer.set_status(grpc::health::v1::HealthCheckResponse::SERVING);
      Report("read.gethealth.response_bytes", static_cast<double>(response.ByteSizeLong()), "B",
             absl::StrCat("echo answer ", echo_answer.ByteSizeLong(), " B"));
    }
  }
  const auto health_caller = [&](int t) -> std::function<bool()> {
    auto stub = std::shared_ptr<hv1::AccountHealthService::Stub>(
        hv1::AccountHealthService::NewStub(Channel(health, t)));
    auto rng = std::make_shared<std::mt19937_64>(t);
    return [stub, rng, accounts] {
      hv1::GetHealthRequest request;
      request.set_account_id(AccountId("bench", static_cast<int>((*rng)() % accounts)));
      hv1::GetHealthResponse response;
      return stub->GetHealth(Context().get(), request, &response).ok();
    };
  };
  const StartFn health_start = [&](int lane, grpc::CompletionQueue* cq, Clock::time_point when,
                                   int64_t i) -> PendingCall* {
    auto* call = new TypedCall<hv1::GetHealthResponse>;
    call->scheduled = when;
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    hv1::GetHealthRequest request;
    request.set_account_id(AccountId("bench", static_cast<int>(i % accounts)));
    call->reader = health_stubs[lane]->AsyncGetHealth(&call->context, request, cq);
    call->reader->Finish(&call->response, &call->status, call);
    return call;
  };
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> echo_stubs;
  std::function<std::function<bool()>(int)> echo_caller;
  if (!echo.empty()) {
    for (int l = 0; l < kLanes; ++l) {
      echo_stubs.push_back(grpc::health::v1::Health::NewStub(Channel(echo, 2000 + l)));
    }
    echo_caller = [&](int t) -> std::function<bool()> {
      auto stub = std::shared_ptr<grpc::health::v1::Health::Stub>(
          grpc::health::v1::Health::NewStub(Channel(echo, t)));
      return [stub] {
        grpc::health::v1::HealthCheckResponse response;
        return stub->Check(Context().get(), {}, &response).ok();
      };
    };
  }
  const StartFn echo_start = [&](int lane, grpc::CompletionQueue* cq, Clock::time_point when,
                                 int64_t) -> PendingCall* {
    auto* call = new TypedCall<grpc::health::v1::HealthCheckResponse>;
    call->scheduled = when;
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    call->reader = echo_stubs[lane]->AsyncCheck(&call->context, {}, cq);
    call->reader->Finish(&call->response, &call->status, call);
    return call;
  };

  WaitForQuiet(db, absl::GetFlag(FLAGS_settle_max), "read.settle_seconds");
  // One read of every account first: views the set-up invalidated are loaded from
  // the database once, as in a replica that has been serving for a while.
  for (int i = 0; i < accounts; ++i) {
    hv1::GetHealthRequest request;
    request.set_account_id(AccountId("bench", i));
    hv1::GetHealthResponse response;
    if (grpc::Status s = health_stubs[i % kLanes]->GetHealth(Context().get(), request, &response);
        !s.ok()) {
      return Fail("GetHealth (warm-up)", s);
    }
  }
  const ReadTarget health_target{health_caller, health_start, absl::GetFlag(FLAGS_health_pid)};
  const ReadTarget echo_target{echo_caller, echo_start, absl::GetFlag(FLAGS_echo_pid)};
  const auto [health_peak, echo_peak] =
      InterleavedPeaks(absl::GetFlag(FLAGS_peak_rounds), concurrency, duration, health_target,
                       echo.empty() ? nullptr : &echo_target);
  const std::string closed = absl::StrFormat("closed loop, %d clients, median of %d rounds",
                                             concurrency, absl::GetFlag(FLAGS_peak_rounds));
  Report("read.gethealth.peak_qps", health_peak, "calls/s", closed);
  if (!echo.empty()) Report("read.echo.peak_qps", echo_peak, "calls/s", closed);
  // The open-loop phases from the lightest up, the service's and the echo's in turn,
  // so a heavy phase that leaves a server behind falls on neither side's lighter ones.
  std::vector<OpenLoopResult> phases;
  for (double fraction : ReadLoadFractions()) {
    phases.push_back(OpenLoopPhase("read.gethealth", health_peak, fraction, duration, health_target));
    if (!echo.empty()) OpenLoopPhase("read.echo", echo_peak, fraction, duration, echo_target);
  }
  // The first phase (50 % of the peak unless told) must be served without errors.
  const bool served = health_peak > 0 && !phases.empty() && phases.front().errors == 0;
  if (echo.empty()) return served;
  Report("read.ratio_gethealth_to_echo_qps", health_peak / echo_peak, "x");
  return served && echo_peak > 0;
}

// ---------------------------------------------------------------------------
// Rescore at scale

int64_t PeakRssKiB(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

// Accounts and 90 days of daily counters written straight into the health schema
// (the API would take longer to load them than the rescore takes to run): weekly
// points of logins, feature use, tickets, payments and email opens, varied per
// account so scores spread over the bands, packed per account and month in the
// grouped format the service writes (packed_rows.h), 50,000 accounts per statement.
absl::Status SeedRescoreAccounts(cs::db::Pool& pool, int n) {
  return pool.Run([&](cs::db::Connection& conn) -> absl::Status {
    conn.Execute("DELETE FROM signal_counters WHERE account_id LIKE 'bench-rs-%'");
    conn.Execute("DELETE FROM account_scores WHERE account_id LIKE 'bench-rs-%'");
    conn.Execute("DELETE FROM accounts WHERE account_id LIKE 'bench-rs-%'");
    const std::string seq = absl::StrCat("seq_1_to_", n);
    conn.Execute(absl::StrCat(
        "INSERT INTO accounts (account_id, name, tier, employee_count, industry, owner_id,"
        " lifecycle, arr_minor, arr_currency, created_at, updated_at, version)"
        " SELECT CONCAT('bench-rs-', LPAD(seq, 7, '0')), CONCAT('Rescore ', seq),"
        " ELT(1 + seq % 4, 'ENTERPRISE', 'MID_MARKET', 'SMB', 'SOLO'), 50, 'SAAS', 'csm-bench',"
        " 'ADOPTING', 1200000, 'USD', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), 1 FROM ", seq));
    constexpr int kChunk = 50000;
    for (int first = 1; first <= n; first += kChunk) {
      conn.Execute(absl::StrCat(
          "INSERT INTO signal_counters (account_id, month, counters)"
          " SELECT account_id, month,"
          "  CONCAT('#2\\n', GROUP_CONCAT(line ORDER BY CAST(counter AS BINARY) SEPARATOR '\\n'))"
          " FROM (SELECT account_id, month, counter,"
          "  CONCAT(counter, GROUP_CONCAT('\\t', DAYOFMONTH(day), '\\t', value"
          "   ORDER BY day SEPARATOR '')) line"
          " FROM (SELECT CONCAT('bench-rs-', LPAD(a.seq, 7, '0')) account_id,"
          "  UTC_DATE() - INTERVAL (w.seq * 7) DAY day,"
          "  DATE_FORMAT(UTC_DATE() - INTERVAL (w.seq * 7) DAY, '%Y-%m-01') month, c.counter,"
          "  1 + (a.seq * 7 + w.seq * 3 + c.k) % c.spread value"
          "  FROM seq_", first, "_to_", std::min(n, first + kChunk - 1),
          "  a JOIN seq_0_to_12 w JOIN ("
          "  SELECT 'logins' counter, 1 k, 30 spread UNION ALL SELECT 'feature_uses', 2, 10"
          "  UNION ALL SELECT CONCAT('feature:f', 1), 3, 4 UNION ALL SELECT 'tickets_opened', 4, 5"
          "  UNION ALL SELECT 'payments_succeeded', 5, 2 UNION ALL SELECT 'email_opens', 6, 12) c) d"
          " GROUP BY account_id, month, counter) l"
          " GROUP BY account_id, month"));
    }
    return absl::OkStatus();
  });
}

// Waits, after a rescore job ended, for the playbooks service's health consumer to
// apply every event health had published by then, and reports that moment, from
// the same start as the job, as `prefix`.consumer_caught_up_seconds. The consumer
// works alongside the job on the same machine, so the job's wall time alone
// rewards a consumer that falls behind; this figure counts the work of both.
bool ConsumerCaughtUp(cs::db::Pool& health, Clock::time_point start, const std::string& prefix) {
  if (absl::GetFlag(FLAGS_playbooks_addr).empty()) return true;  // no consumer running
  const std::string cursor_sql =
      absl::StrCat("SELECT last_sequence FROM ", absl::GetFlag(FLAGS_playbooks_schema),
                   ".consumer_cursors WHERE consumer = 'health'");
  // -1 until read; the cursor row is made by the consumer's first page.
  auto read = [&](const std::string& sql, int64_t& out) {
    absl::Status s = health.Run([&](cs::db::Connection& conn) -> absl::Status {
      std::unique_ptr<sql::ResultSet> rs(conn.Prepare(sql).executeQuery());
      if (rs->next()) out = rs->getInt64(1);
      return absl::OkStatus();
    });
    if (!s.ok()) std::fprintf(stderr, "%s: %s\n", sql.c_str(), std::string(s.message()).c_str());
    return s.ok();
  };
  int64_t head = -1;
  int64_t cursor = -1;
  if (!read("SELECT last_sequence FROM event_log_head WHERE id = 1", head) || head < 0 ||
      !read(cursor_sql, cursor)) {
    return false;
  }
  const int64_t behind = head - std::max<int64_t>(cursor, 0);
  const absl::Duration limit = absl::GetFlag(FLAGS_rescore_settle_max);
  const Clock::time_point job_end = Clock::now();
  while (cursor < head && Seconds(Clock::now() - job_end) < absl::ToDoubleSeconds(limit)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!read(cursor_sql, cursor)) return false;
  }
  if (cursor < head) {
    std::fprintf(stderr, "the playbooks consumer did not catch up within %s\n",
                 absl::FormatDuration(limit).c_str());
    return false;
  }
  Report(prefix + ".consumer_caught_up_seconds", Seconds(Clock::now() - start), "s",
         absl::StrFormat("%d events behind health when the job ended", behind));
  return true;
}

// One scorecard change, timed from UpdateScorecard to the end of the rescore job it
// queues; reports `prefix`.wall_seconds and `prefix`.accounts_per_s, then
// `prefix`.consumer_caught_up_seconds (ConsumerCaughtUp) and, given the processes'
// ids, `prefix`.cpu_us_per_account over the same span (ReportCpuPer).
bool TimedScorecardChange(hv1::AccountHealthService::Stub& stub, cs::db::Pool& pool, int n,
                          const std::string& prefix) {
  hv1::GetScorecardRequest get;
  get.set_scorecard_id("default");
  hv1::GetScorecardResponse current;
  if (grpc::Status s = stub.GetScorecard(Context().get(), get, &current); !s.ok()) {
    return Fail("GetScorecard", s);
  }
  // Move five points of weight between the first two components: every covered
  // account's score changes version and must be recomputed.
  hv1::UpdateScorecardRequest update;
  update.set_request_id(absl::StrCat("bench-rescore-", absl::ToUnixMicros(absl::Now())));
  *update.mutable_scorecard() = current.scorecard();
  auto* components = update.mutable_scorecard()->mutable_components();
  if (components->size() < 2) return false;
  const int shift = (*components)[0].weight() > 20 ? -5 : 5;
  (*components)[0].set_weight((*components)[0].weight() + shift);
  (*components)[1].set_weight((*components)[1].weight() - shift);
  hv1::UpdateScorecardResponse updated;
  const CpuSample cpu_start = SampleCpu(ServicePids());
  const Clock::time_point start = Clock::now();
  if (grpc::Status s = stub.UpdateScorecard(Context().get(), update, &updated); !s.ok()) {
    return Fail("UpdateScorecard", s);
  }
  int64_t done = 0;
  bool finished = false;
  while (!finished && Seconds(Clock::now() - start) < 3600) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    absl::Status s = pool.Run([&](cs::db::Connection& conn) -> absl::Status {
      std::unique_ptr<sql::ResultSet> rs(
          conn.Prepare("SELECT accounts_done, finished_at IS NOT NULL FROM rescore_jobs"
                       " WHERE kind = 'SCORECARD' ORDER BY job_id DESC LIMIT 1")
              .executeQuery());
      if (rs->next()) {
        done = rs->getInt64(1);
        finished = rs->getBoolean(2);
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return false;
  }
  const double seconds = Seconds(Clock::now() - start);
  Report(prefix + ".wall_seconds", seconds, "s",
         absl::StrFormat("%d accounts rescored (includes the worker's pick-up delay)", done));
  Report(prefix + ".accounts_per_s", done / seconds, "accounts/s");
  if (!finished || done < n) return false;
  if (!ConsumerCaughtUp(pool, start, prefix)) return false;
  ReportCpuPer(cpu_start, SampleCpu(ServicePids()), done, prefix + ".cpu_us_per_account",
                absl::GetFlag(FLAGS_playbooks_addr).empty() ? "to the job's end"
                                                             : "to the consumer's catch-up");
  return true;
}

bool RescoreScenario(const cs::DbConfig& base) {
  const int n = absl::GetFlag(FLAGS_rescore_accounts);
  std::printf("rescore: scorecard change over %d seeded accounts with 90 days of history\n", n);
  cs::DbConfig config = base;
  config.schema = absl::GetFlag(FLAGS_health_schema);
  config.pool_size = 2;
  config.io_timeout = absl::Minutes(30);
  cs::db::Pool pool(config);
  const Clock::time_point seed_start = Clock::now();
  if (absl::Status s = SeedRescoreAccounts(pool, n); !s.ok()) {
    std::fprintf(stderr, "seed: %s\n", std::string(s.message()).c_str());
    return false;
  }
  Report("rescore.seed_seconds", Seconds(Clock::now() - seed_start), "s", "(set-up, not a figure)");

  auto stub = hv1::AccountHealthService::NewStub(Channel(absl::GetFlag(FLAGS_health_addr), 3000));
  const int passes = std::max(1, absl::GetFlag(FLAGS_rescore_passes));
  bool ok = true;
  for (int pass = 1; pass <= passes && ok; ++pass) {
    if (pass > 1) {
      // As in production, where a scored account's events were consumed long ago:
      // the consumers finish the last pass's events before the next change.
      WaitForQuiet(base, absl::GetFlag(FLAGS_rescore_settle_max), "rescore.settle_seconds");
    }
    ok = TimedScorecardChange(*stub, pool, n, pass == 1 ? "rescore.first_scoring" : "rescore");
  }
  const int pid = absl::GetFlag(FLAGS_health_pid);
  if (pid > 0) Report("rescore.health_peak_rss_mib", PeakRssKiB(pid) / 1024.0, "MiB");
  return ok;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage("The customer-success suite's load generator; see BENCHMARKS.md.");
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_serve_echo).empty()) return ServeEcho(absl::GetFlag(FLAGS_serve_echo));
  // The client's gRPC calls lock absl::Mutex as the servers' do, and Debian's Abseil
  // tracks every acquisition unless told not to (see ApplySyncServerSettings):
  // GraphCycles took 3.9 % of this client's CPU in the open-loop read phases.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  absl::StatusOr<cs::DbConfig> db = cs::ParseDbUri(absl::GetFlag(FLAGS_db_uri), [] {
    cs::DbConfig d;
    d.schema = "cs_bench_baseline";
    return d;
  }());
  if (!db.ok()) {
    std::fprintf(stderr, "--db_uri: %s\n", std::string(db.status().message()).c_str());
    return 2;
  }
  const std::vector<std::string> scenarios = absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',');
  const auto wants = [&](const std::string& s) {
    return std::find(scenarios.begin(), scenarios.end(), s) != scenarios.end();
  };
  bool ok = true;
  if (wants("ingest") || wants("read")) {
    auto stub = hv1::AccountHealthService::NewStub(Channel(absl::GetFlag(FLAGS_health_addr), 0));
    if (!UpsertAccounts(*stub, "bench", absl::GetFlag(FLAGS_accounts)) ||
        !ScoreEveryAccount(*stub, absl::GetFlag(FLAGS_accounts))) {
      return 1;
    }
  }
  if (wants("ingest")) ok = IngestScenario(*db) && ok;
  if (wants("read")) ok = ReadScenario(*db) && ok;
  if (wants("rescore")) ok = RescoreScenario(*db) && ok;
  // Last: the rescore scenario would otherwise rescore the whole seeded book.
  if (wants("analytics")) {
    ok = AnalyticsScenario({absl::GetFlag(FLAGS_health_addr), absl::GetFlag(FLAGS_expansion_addr),
                            *db, absl::GetFlag(FLAGS_health_schema),
                            absl::GetFlag(FLAGS_expansion_schema)}) &&
         ok;
  }
  std::printf(ok ? "bench: done\n" : "bench: FAILED\n");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace cs::bench

int main(int argc, char** argv) { return cs::bench::Main(argc, argv); }
