// A hung downstream: an in-process cs.health.v1 server that accepts every call and
// never answers stands in for health behind the real playbooks and expansion
// binaries. Their calls to it end at their deadline (the fake sees each one
// cancelled), callers get UNAVAILABLE within a bound, the services' own reads keep
// answering quickly, and their thread counts stay bounded under steady load.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/test_db.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "tests/faults/fault_support.h"
#include "tests/support/process.h"

namespace cs::testing::faults {
namespace {

namespace hv1 = ::cs::health::v1;
namespace pv1 = ::cs::playbooks::v1;
namespace ev1 = ::cs::expansion::v1;

constexpr absl::Duration kPeerTimeout = absl::Seconds(1);

// Holds every call until its caller gives up (the caller's deadline cancels it) or
// the server stops, and records how long each was held.
class HungHealth final : public hv1::AccountHealthService::Service {
 public:
  HungHealth() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~HungHealth() override {
    released_.store(true);
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int calls() const { return calls_.load(); }
  // The longest a caller waited before cancelling; calls still held are not counted.
  absl::Duration longest_hold() {
    std::lock_guard<std::mutex> lock(mu_);
    return longest_;
  }
  int held_now() const { return held_.load(); }

  grpc::Status GetHealth(grpc::ServerContext* ctx, const hv1::GetHealthRequest*,
                         hv1::GetHealthResponse*) override {
    return Hang(ctx);
  }
  grpc::Status GetAccount(grpc::ServerContext* ctx, const hv1::GetAccountRequest*,
                          hv1::GetAccountResponse*) override {
    return Hang(ctx);
  }
  grpc::Status ListEvents(grpc::ServerContext* ctx, const hv1::ListEventsRequest*,
                          hv1::ListEventsResponse*) override {
    return Hang(ctx);
  }
  grpc::Status WatchEvents(grpc::ServerContext* ctx, const hv1::WatchEventsRequest*,
                           grpc::ServerWriter<hv1::WatchEventsResponse>*) override {
    return Hang(ctx);
  }

 private:
  grpc::Status Hang(grpc::ServerContext* ctx) {
    ++calls_;
    ++held_;
    const absl::Time start = absl::Now();
    while (!ctx->IsCancelled() && !released_.load()) absl::SleepFor(absl::Milliseconds(10));
    --held_;
    if (ctx->IsCancelled()) {
      std::lock_guard<std::mutex> lock(mu_);
      longest_ = std::max(longest_, absl::Now() - start);
    }
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "released");
  }

  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<bool> released_{false};
  std::atomic<int> calls_{0};
  std::atomic<int> held_{0};
  std::mutex mu_;
  absl::Duration longest_ = absl::ZeroDuration();
};

// Drives `concurrency` callers of `slow_call` (each ends at the downstream's deadline)
// for `duration`, while sampling the service's thread count and timing `read` (an RPC
// that needs no downstream) every 100 ms.
struct LoadReport {
  int slow_calls = 0;
  int slow_unavailable = 0;
  absl::Duration slowest_call;
  absl::Duration slowest_read;
  int reads = 0;
  int failed_reads = 0;
  int64_t threads_first_half_max = 0;
  int64_t threads_second_half_max = 0;
};

LoadReport DriveHungLoad(pid_t pid, int concurrency, absl::Duration duration,
                         const std::function<grpc::Status(int caller, int n)>& slow_call,
                         const std::function<grpc::Status()>& read) {
  LoadReport report;
  std::mutex mu;
  std::atomic<bool> stop{false};
  std::vector<std::thread> callers;
  for (int c = 0; c < concurrency; ++c) {
    callers.emplace_back([&, c] {
      for (int n = 0; !stop.load(); ++n) {
        const absl::Time start = absl::Now();
        const grpc::Status s = slow_call(c, n);
        const absl::Duration took = absl::Now() - start;
        std::lock_guard<std::mutex> lock(mu);
        ++report.slow_calls;
        if (s.error_code() == grpc::StatusCode::UNAVAILABLE) ++report.slow_unavailable;
        report.slowest_call = std::max(report.slowest_call, took);
      }
    });
  }
  const absl::Time start = absl::Now();
  while (absl::Now() - start < duration) {
    const absl::Time read_start = absl::Now();
    const grpc::Status s = read();
    const absl::Duration took = absl::Now() - read_start;
    ++report.reads;
    if (!s.ok()) ++report.failed_reads;
    report.slowest_read = std::max(report.slowest_read, took);
    const int64_t threads = ThreadCount(pid);
    int64_t& max = (absl::Now() - start < duration / 2) ? report.threads_first_half_max
                                                         : report.threads_second_half_max;
    max = std::max(max, threads);
    absl::SleepFor(absl::Milliseconds(100));
  }
  stop.store(true);
  for (std::thread& t : callers) t.join();
  return report;
}

void PrintReport(const char* name, int64_t baseline, const LoadReport& r) {
  std::printf("[ hung %s ] %d slow calls (%d UNAVAILABLE), slowest %.2f s; %d reads, slowest "
              "%.3f s; threads %lld idle, max %lld then %lld under load\n",
              name, r.slow_calls, r.slow_unavailable, absl::ToDoubleSeconds(r.slowest_call),
              r.reads, absl::ToDoubleSeconds(r.slowest_read), static_cast<long long>(baseline),
              static_cast<long long>(r.threads_first_half_max),
              static_cast<long long>(r.threads_second_half_max));
}

constexpr int kConcurrency = 12;

TEST(HungDownstreamTest, ExpansionGuardTimesOutAndExpansionStaysResponsive) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "fhunge");
  HungHealth health;
  RunningService expansion(
      "expansion", CS_EXPANSION_SERVER, db->uri(), "hung",
      {absl::StrCat("--health_addr=", health.address()),
       absl::StrCat("--health_timeout=", absl::FormatDuration(kPeerTimeout))});
  ASSERT_TRUE(expansion.WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << expansion.Log();
  auto stub = ev1::ExpansionService::NewStub(expansion.channel());

  // One QUALIFIED opportunity per caller: moving it on to PROPOSAL asks health.
  std::vector<std::string> ids;
  for (int c = 0; c < kConcurrency; ++c) {
    ev1::CreateOpportunityRequest create;
    create.set_request_id(absl::StrCat("create-", c));
    ev1::Opportunity* o = create.mutable_opportunity();
    o->set_account_id(absl::StrCat("hung-", c));
    o->set_kind(ev1::OPPORTUNITY_KIND_SEAT_EXPANSION);
    o->mutable_amount()->set_minor_units(500'000);
    o->mutable_amount()->set_currency_code("USD");
    o->set_source(ev1::OPPORTUNITY_SOURCE_MANUAL);
    ev1::CreateOpportunityResponse created;
    grpc::Status s = stub->CreateOpportunity(Context().get(), create, &created);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ev1::AdvanceStageRequest qualify;
    qualify.set_request_id(absl::StrCat("qualify-", c));
    qualify.set_opportunity_id(created.opportunity().opportunity_id());
    qualify.set_to_stage(ev1::STAGE_QUALIFIED);
    ev1::AdvanceStageResponse qualified;
    s = stub->AdvanceStage(Context().get(), qualify, &qualified);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ids.push_back(created.opportunity().opportunity_id());
  }
  EXPECT_EQ(health.calls(), 0) << "nothing up to QUALIFIED should need health";
  absl::SleepFor(absl::Seconds(1));
  const pid_t pid = expansion.process().pid();
  const int64_t baseline = ThreadCount(pid);

  const LoadReport r = DriveHungLoad(
      pid, kConcurrency, absl::Seconds(8),
      [&](int c, int n) {
        ev1::AdvanceStageRequest req;
        req.set_request_id(absl::StrCat("propose-", c, "-", n));
        req.set_opportunity_id(ids[c]);
        req.set_to_stage(ev1::STAGE_PROPOSAL);
        ev1::AdvanceStageResponse resp;
        return stub->AdvanceStage(Context(absl::Seconds(10)).get(), req, &resp);
      },
      [&] {
        ev1::GetOpportunityRequest req;
        req.set_opportunity_id(ids[0]);
        ev1::GetOpportunityResponse resp;
        return stub->GetOpportunity(Context(absl::Seconds(5)).get(), req, &resp);
      });
  PrintReport("expansion", baseline, r);

  // The guard's deadline fires: every move ends UNAVAILABLE after about one timeout.
  EXPECT_GT(r.slow_calls, kConcurrency);
  EXPECT_EQ(r.slow_unavailable, r.slow_calls);
  EXPECT_LT(r.slowest_call, kPeerTimeout + absl::Seconds(2));
  EXPECT_GE(health.calls(), r.slow_calls);
  EXPECT_LT(health.longest_hold(), kPeerTimeout + absl::Seconds(1));
  // Expansion's own reads answer meanwhile.
  EXPECT_EQ(r.failed_reads, 0);
  EXPECT_LT(r.slowest_read, absl::Milliseconds(750));
  // One server thread per waiting caller at most, and no growth as the load goes on.
  EXPECT_LE(r.threads_first_half_max, baseline + 2 * kConcurrency + 4);
  EXPECT_LE(r.threads_second_half_max, r.threads_first_half_max + 4);
  // Nothing moved: the opportunity is still QUALIFIED.
  ev1::GetOpportunityRequest get;
  get.set_opportunity_id(ids[0]);
  ev1::GetOpportunityResponse got;
  ASSERT_TRUE(stub->GetOpportunity(Context().get(), get, &got).ok());
  EXPECT_EQ(got.opportunity().stage(), ev1::STAGE_QUALIFIED);

  expansion.process().Signal(SIGTERM);
  EXPECT_EQ(expansion.process().WaitExit(absl::Seconds(15)), 0) << expansion.Log();
}

TEST(HungDownstreamTest, PlaybooksConsumerAndStartTimeOutAndPlaybooksStaysResponsive) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "fhungp");
  HungHealth health;
  // Expansion is not needed here: nothing reaches the point of opening an opportunity.
  RunningService playbooks(
      "playbooks", CS_PLAYBOOKS_SERVER, db->uri(), "hung",
      {absl::StrCat("--health_addr=", health.address()),
       absl::StrCat("--expansion_addr=127.0.0.1:", FreePort()),
       absl::StrCat("--peer_timeout=", absl::FormatDuration(kPeerTimeout)),
       "--consume_interval=100ms", "--sweep_interval=200ms"});
  ASSERT_TRUE(playbooks.WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << playbooks.Log();
  auto stub = pv1::PlaybookService::NewStub(playbooks.channel());
  // The default playbooks are seeded by the first sweep.
  ASSERT_TRUE(Eventually(
      [&] {
        pv1::GetPlaybookRequest req;
        req.set_playbook_id("onboarding-smb");
        pv1::GetPlaybookResponse resp;
        return stub->GetPlaybook(Context().get(), req, &resp).ok();
      },
      absl::Seconds(30)));

  // The consumer's reads of the event log are cut at the deadline and retried.
  ASSERT_TRUE(Eventually([&] { return health.calls() >= 3; }, absl::Seconds(15)))
      << playbooks.Log();
  EXPECT_GT(health.longest_hold(), absl::ZeroDuration());
  EXPECT_LT(health.longest_hold(), kPeerTimeout + absl::Seconds(1));
  const pid_t pid = playbooks.process().pid();
  const int64_t baseline = ThreadCount(pid);

  const LoadReport r = DriveHungLoad(
      pid, kConcurrency, absl::Seconds(8),
      [&](int c, int n) {
        pv1::StartPlaybookRequest req;
        req.set_request_id(absl::StrCat("start-", c, "-", n));
        req.set_playbook_id("onboarding-smb");
        req.set_account_id(absl::StrCat("hung-", c));
        pv1::StartPlaybookResponse resp;
        return stub->StartPlaybook(Context(absl::Seconds(10)).get(), req, &resp);
      },
      [&] {
        pv1::ListPlaybooksRequest req;
        pv1::ListPlaybooksResponse resp;
        return stub->ListPlaybooks(Context(absl::Seconds(5)).get(), req, &resp);
      });
  PrintReport("playbooks", baseline, r);

  EXPECT_GT(r.slow_calls, kConcurrency);
  EXPECT_EQ(r.slow_unavailable, r.slow_calls);
  EXPECT_LT(r.slowest_call, kPeerTimeout + absl::Seconds(2));
  EXPECT_LT(health.longest_hold(), kPeerTimeout + absl::Seconds(1));
  EXPECT_EQ(r.failed_reads, 0);
  EXPECT_LT(r.slowest_read, absl::Milliseconds(750));
  EXPECT_LE(r.threads_first_half_max, baseline + 2 * kConcurrency + 4);
  EXPECT_LE(r.threads_second_half_max, r.threads_first_half_max + 4);
  // No run was started without the account's context.
  pv1::ListRunsRequest runs;
  runs.set_page_size(10);
  pv1::ListRunsResponse listed;
  ASSERT_TRUE(stub->ListRuns(Context().get(), runs, &listed).ok());
  EXPECT_EQ(listed.runs_size(), 0);
  // Readiness follows the database, not the peer.
  EXPECT_EQ(playbooks.Check(), HealthStatus::SERVING);

  // Stopping while the consumer waits on the hung peer still finishes promptly.
  const absl::Time signalled = absl::Now();
  playbooks.process().Signal(SIGTERM);
  EXPECT_EQ(playbooks.process().WaitExit(absl::Seconds(15)), 0) << playbooks.Log();
  const absl::Duration drain = absl::Now() - signalled;
  std::printf("[ hung playbooks ] SIGTERM to exit %.3f s\n", absl::ToDoubleSeconds(drain));
  EXPECT_LT(drain, kPeerTimeout + absl::Seconds(1));
}

}  // namespace
}  // namespace cs::testing::faults
