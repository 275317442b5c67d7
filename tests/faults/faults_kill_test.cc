// kill -9 of each service while clients write to it: after a restart on the same
// schema every write that was acknowledged before the kill is there, and a stream
// (health's WatchEvents, playbooks' WatchTasks) resumed from the last sequence the
// client saw delivers the rest of the log with no gap and no duplicate.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
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
#include "services/health/logged_signals_sql.h"

namespace cs::testing::faults {
namespace {

namespace hv1 = ::cs::health::v1;
namespace pv1 = ::cs::playbooks::v1;
namespace ev1 = ::cs::expansion::v1;

// Reads a server stream of sequenced items on its own thread, remembering every
// sequence in the order received, until the stream breaks or Cancel().
class StreamReader {
 public:
  using Start = std::function<void(grpc::ClientContext*, std::vector<int64_t>*, std::mutex*)>;
  explicit StreamReader(Start start) {
    thread_ = std::thread([this, start] { start(&context_, &sequences_, &mu_); });
  }
  ~StreamReader() { Join(); }
  void Cancel() { context_.TryCancel(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  std::vector<int64_t> sequences() {
    std::lock_guard<std::mutex> lock(mu_);
    return sequences_;
  }
  int64_t last() {
    std::lock_guard<std::mutex> lock(mu_);
    return sequences_.empty() ? 0 : sequences_.back();
  }

 private:
  grpc::ClientContext context_;
  std::mutex mu_;
  std::vector<int64_t> sequences_;
  std::thread thread_;
};

StreamReader::Start WatchHealthEvents(hv1::AccountHealthService::Stub* stub, int64_t after) {
  return [stub, after](grpc::ClientContext* ctx, std::vector<int64_t>* out, std::mutex* mu) {
    hv1::WatchEventsRequest req;
    req.set_after_sequence(after);
    req.mutable_heartbeat_interval()->set_nanos(200'000'000);
    auto reader = stub->WatchEvents(ctx, req);
    hv1::WatchEventsResponse item;
    while (reader->Read(&item)) {
      if (!item.has_event()) continue;
      std::lock_guard<std::mutex> lock(*mu);
      out->push_back(item.event().sequence());
    }
    reader->Finish();
  };
}

StreamReader::Start WatchTaskEvents(pv1::PlaybookService::Stub* stub, int64_t after) {
  return [stub, after](grpc::ClientContext* ctx, std::vector<int64_t>* out, std::mutex* mu) {
    pv1::WatchTasksRequest req;
    req.set_after_sequence(after);
    req.mutable_heartbeat_interval()->set_nanos(200'000'000);
    auto reader = stub->WatchTasks(ctx, req);
    pv1::WatchTasksResponse item;
    while (reader->Read(&item)) {
      if (!item.has_event()) continue;
      std::lock_guard<std::mutex> lock(*mu);
      out->push_back(item.event().sequence());
    }
    reader->Finish();
  };
}

// The stream before the kill and the resumed one, together, are exactly the log:
// every sequence it holds up to the last one received, once each, in order.
void ExpectWholeLogOnce(const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                        const std::vector<int64_t>& log) {
  std::vector<int64_t> received = before;
  received.insert(received.end(), after.begin(), after.end());
  ASSERT_FALSE(received.empty());
  std::vector<int64_t> expected;
  for (int64_t s : log) {
    if (s <= received.back()) expected.push_back(s);
  }
  EXPECT_EQ(received, expected) << "received " << received.size() << " sequences, the log holds "
                                << expected.size() << " up to " << received.back();
  const std::set<int64_t> distinct(received.begin(), received.end());
  EXPECT_EQ(distinct.size(), received.size()) << "a sequence was delivered twice";
}

std::vector<int64_t> HealthLog(hv1::AccountHealthService::Stub* stub) {
  std::vector<int64_t> out;
  hv1::ListEventsRequest req;
  req.set_page_size(1000);
  while (true) {
    hv1::ListEventsResponse resp;
    grpc::Status s = stub->ListEvents(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok() || resp.events().empty()) return out;
    for (const hv1::Event& e : resp.events()) out.push_back(e.sequence());
    req.set_after_sequence(out.back());
  }
}

std::vector<int64_t> TaskLog(pv1::PlaybookService::Stub* stub) {
  std::vector<int64_t> out;
  pv1::ListTaskEventsRequest req;
  req.set_page_size(1000);
  while (true) {
    pv1::ListTaskEventsResponse resp;
    grpc::Status s = stub->ListTaskEvents(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok() || resp.events().empty()) return out;
    for (const pv1::TaskEvent& e : resp.events()) out.push_back(e.sequence());
    req.set_after_sequence(out.back());
  }
}

void Kill(RunningService& service) {
  service.process().Signal(SIGKILL);
  EXPECT_EQ(service.process().WaitExit(absl::Seconds(10)), 128 + SIGKILL);
}

void Stop(RunningService& service) {
  if (!service.process().running()) return;
  service.process().Signal(SIGTERM);
  EXPECT_EQ(service.process().WaitExit(absl::Seconds(20)), 0) << service.Log();
}

TEST(KillTest, HealthKilledUnderIngestKeepsEveryAcknowledgedSignalAndItsStreamResumes) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "fkillh");
  auto first = std::make_unique<RunningService>("health", CS_HEALTH_SERVER, db->uri(), "kill-a");
  ASSERT_TRUE(first->WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << first->Log();
  auto stub = hv1::AccountHealthService::NewStub(first->channel());
  constexpr int kWriters = 4;
  for (int w = 0; w < kWriters; ++w) {
    ASSERT_TRUE(UpsertAccount(stub.get(), absl::StrCat("k-", w)).ok());
  }

  StreamReader watch(WatchHealthEvents(stub.get(), 0));
  std::atomic<int> acknowledged_batches{0};
  std::mutex mu;
  int acknowledged_signals = 0;
  std::vector<std::string> acknowledged_accounts;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto client = hv1::AccountHealthService::NewStub(first->channel());
      // Each writer stops at its first failure: the kill. What it was told before
      // that is what must survive.
      for (int b = 0;; ++b) {
        hv1::RecordSignalsResponse resp;
        const grpc::Status s = client->RecordSignals(
            Context().get(),
            SignalBatch(absl::StrCat("kb-", w, "-", b), absl::StrCat("k-", w),
                        absl::StrCat("kill-", w, "-", b), 25),
            &resp);
        if (!s.ok()) return;
        // New accounts too: each one's creation is an event of the log.
        const std::string account = absl::StrCat("k-", w, "-", b);
        const bool created = UpsertAccount(client.get(), account).ok();
        std::lock_guard<std::mutex> lock(mu);
        acknowledged_signals += resp.accepted() + resp.duplicates();
        if (created) acknowledged_accounts.push_back(account);
        ++acknowledged_batches;
        if (!created) return;
      }
    });
  }
  ASSERT_TRUE(Eventually([&] { return acknowledged_batches.load() >= 20 && watch.last() > 10; },
                         absl::Seconds(60)));
  Kill(*first);
  for (std::thread& t : writers) t.join();
  watch.Join();
  const std::vector<int64_t> before = watch.sequences();

  RunningService second("health", CS_HEALTH_SERVER, db->uri(), "kill-b");
  ASSERT_TRUE(second.WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << second.Log();
  auto stub2 = hv1::AccountHealthService::NewStub(second.channel());

  // Nothing acknowledged is lost.
  const int64_t stored = SqlNumber(UriPort(db->uri()), db->config().schema,
                                   cs::health::CountLoggedSignalsSql("event_id LIKE 'kill-%'"));
  EXPECT_GE(stored, acknowledged_signals);
  for (const std::string& account : acknowledged_accounts) {
    hv1::GetAccountRequest req;
    req.set_account_id(account);
    hv1::GetAccountResponse resp;
    EXPECT_TRUE(stub2->GetAccount(Context().get(), req, &resp).ok()) << account;
  }

  // The stream resumes from the last sequence seen and catches up with the log.
  const std::vector<int64_t> log = HealthLog(stub2.get());
  ASSERT_FALSE(log.empty());
  StreamReader resumed(WatchHealthEvents(stub2.get(), before.empty() ? 0 : before.back()));
  EXPECT_TRUE(Eventually([&] { return resumed.last() >= log.back(); }, absl::Seconds(20)));
  resumed.Cancel();
  resumed.Join();
  ExpectWholeLogOnce(before, resumed.sequences(), HealthLog(stub2.get()));
  std::printf("[ kill health ] %d signals and %zu accounts acknowledged, %lld stored; stream "
              "%zu events before the kill, %zu after\n",
              acknowledged_signals, acknowledged_accounts.size(),
              static_cast<long long>(stored), before.size(), resumed.sequences().size());
  Stop(second);
}

TEST(KillTest, PlaybooksKilledUnderLoadKeepsAcknowledgedWritesAndItsTaskStreamResumes) {
  std::unique_ptr<TestDatabase> health_db, playbooks_db;
  CS_TEST_DATABASE_OR_SKIP(health_db, "fkillph");
  playbooks_db = TestDatabase::Create("fkillpp");
  ASSERT_NE(playbooks_db, nullptr);
  RunningService health("health", CS_HEALTH_SERVER, health_db->uri(), "killp");
  ASSERT_TRUE(health.WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << health.Log();
  const std::vector<std::string> playbooks_args{
      absl::StrCat("--health_addr=", health.address()),
      absl::StrCat("--expansion_addr=127.0.0.1:", FreePort()), "--consume_interval=100ms",
      "--sweep_interval=200ms", "--peer_timeout=2s"};
  auto first = std::make_unique<RunningService>("playbooks", CS_PLAYBOOKS_SERVER,
                                                playbooks_db->uri(), "kill-a", playbooks_args);
  ASSERT_TRUE(first->WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << first->Log();
  auto pb = pv1::PlaybookService::NewStub(first->channel());

  // Health produces new accounts all along; playbooks turns each into an onboarding
  // run whose tasks are events of its task stream.
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    auto h = hv1::AccountHealthService::NewStub(health.channel());
    for (int i = 0; !stop.load() && i < 400; ++i) {
      (void)UpsertAccount(h.get(), absl::StrCat("pk-", i));
      absl::SleepFor(absl::Milliseconds(30));
    }
  });
  StreamReader watch(WatchTaskEvents(pb.get(), 0));
  std::mutex mu;
  std::vector<std::string> acknowledged_chains;
  std::thread writer([&] {
    auto client = pv1::PlaybookService::NewStub(first->channel());
    for (int i = 0;; ++i) {
      pv1::UpsertEscalationChainRequest req;
      req.set_request_id(absl::StrCat("chain-req-", i));
      req.mutable_chain()->set_chain_id(absl::StrCat("chain-", i));
      req.mutable_chain()->add_levels()->set_role(pv1::ROLE_CSM);
      req.mutable_chain()->add_levels()->set_role(pv1::ROLE_CS_MANAGER);
      pv1::UpsertEscalationChainResponse resp;
      if (!client->UpsertEscalationChain(Context().get(), req, &resp).ok()) return;
      std::lock_guard<std::mutex> lock(mu);
      acknowledged_chains.push_back(req.chain().chain_id());
    }
  });
  ASSERT_TRUE(Eventually(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return acknowledged_chains.size() >= 10 && watch.sequences().size() >= 5;
      },
      absl::Seconds(60)))
      << first->Log();
  Kill(*first);
  writer.join();
  watch.Join();
  const std::vector<int64_t> before = watch.sequences();
  absl::SleepFor(absl::Milliseconds(500));  // health goes on without its consumer
  stop.store(true);
  producer.join();

  RunningService second("playbooks", CS_PLAYBOOKS_SERVER, playbooks_db->uri(), "kill-b",
                        playbooks_args);
  ASSERT_TRUE(second.WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << second.Log();
  auto pb2 = pv1::PlaybookService::NewStub(second.channel());
  for (const std::string& id : acknowledged_chains) {
    pv1::GetEscalationChainRequest req;
    req.set_chain_id(id);
    pv1::GetEscalationChainResponse resp;
    EXPECT_TRUE(pb2->GetEscalationChain(Context().get(), req, &resp).ok()) << id;
  }

  // The consumer catches up with health (the task log stops growing), and the task
  // stream resumed from the last sequence seen delivers the rest of it.
  StreamReader resumed(WatchTaskEvents(pb2.get(), before.empty() ? 0 : before.back()));
  int64_t settled = -1;
  EXPECT_TRUE(Eventually(
      [&] {
        const std::vector<int64_t> log = TaskLog(pb2.get());
        const int64_t last = log.empty() ? 0 : log.back();
        const bool same = last == settled;
        settled = last;
        return same && resumed.last() >= last;
      },
      absl::Seconds(40)));
  resumed.Cancel();
  resumed.Join();
  ExpectWholeLogOnce(before, resumed.sequences(), TaskLog(pb2.get()));
  std::printf("[ kill playbooks ] %zu chains acknowledged; task stream %zu events before the "
              "kill, %zu after\n",
              acknowledged_chains.size(), before.size(), resumed.sequences().size());
  Stop(second);
  Stop(health);
}

TEST(KillTest, ExpansionKilledUnderLoadKeepsEveryAcknowledgedOpportunity) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "fkille");
  const std::vector<std::string> args{absl::StrCat("--health_addr=127.0.0.1:", FreePort())};
  auto first = std::make_unique<RunningService>("expansion", CS_EXPANSION_SERVER, db->uri(),
                                                "kill-a", args);
  ASSERT_TRUE(first->WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << first->Log();

  std::mutex mu;
  std::map<std::string, std::string> acknowledged;  // request id -> opportunity id
  auto create = [](ev1::ExpansionService::Stub* stub, const std::string& request_id,
                   std::string* id) {
    ev1::CreateOpportunityRequest req;
    req.set_request_id(request_id);
    ev1::Opportunity* o = req.mutable_opportunity();
    o->set_account_id(absl::StrCat("acct-", request_id));
    o->set_kind(ev1::OPPORTUNITY_KIND_SEAT_EXPANSION);
    o->mutable_amount()->set_minor_units(250'000);
    o->mutable_amount()->set_currency_code("USD");
    o->set_source(ev1::OPPORTUNITY_SOURCE_MANUAL);
    ev1::CreateOpportunityResponse resp;
    const grpc::Status s = stub->CreateOpportunity(Context().get(), req, &resp);
    *id = resp.opportunity().opportunity_id();
    return s;
  };
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      auto stub = ev1::ExpansionService::NewStub(first->channel());
      for (int i = 0;; ++i) {
        const std::string request_id = absl::StrCat("opp-", w, "-", i);
        std::string id;
        if (!create(stub.get(), request_id, &id).ok()) return;
        std::lock_guard<std::mutex> lock(mu);
        acknowledged[request_id] = id;
      }
    });
  }
  ASSERT_TRUE(Eventually(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return acknowledged.size() >= 40;
      },
      absl::Seconds(60)));
  Kill(*first);
  for (std::thread& t : writers) t.join();

  RunningService second("expansion", CS_EXPANSION_SERVER, db->uri(), "kill-b", args);
  ASSERT_TRUE(second.WaitFor(HealthStatus::SERVING, absl::Seconds(60))) << second.Log();
  auto stub = ev1::ExpansionService::NewStub(second.channel());
  int found = 0;
  for (const auto& [request_id, id] : acknowledged) {
    ev1::GetOpportunityRequest get;
    get.set_opportunity_id(id);
    ev1::GetOpportunityResponse got;
    if (stub->GetOpportunity(Context().get(), get, &got).ok()) ++found;
    // The stored answer survived too: a retry returns the same opportunity.
    std::string replayed;
    EXPECT_TRUE(create(stub.get(), request_id, &replayed).ok()) << request_id;
    EXPECT_EQ(replayed, id) << request_id;
  }
  EXPECT_EQ(found, static_cast<int>(acknowledged.size()));
  std::printf("[ kill expansion ] %zu opportunities acknowledged, %d found after restart\n",
              acknowledged.size(), found);
  Stop(second);
}

}  // namespace
}  // namespace cs::testing::faults
