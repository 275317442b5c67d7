// Group commit of concurrent RecordSignals calls against the real MariaDB: calls
// that queue behind each other run as one transaction, and each still gets the
// answer it would have got alone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/db/event_log.h"
#include "services/health/health_db_fixture.h"
#include "services/health/logged_signals_sql.h"

namespace cs::health {
namespace {

using ::cs::testing::StatusIs;

class IngestGroupDbTest : public HealthDbFixture {
 protected:
  void SetUp() override {
    HealthDbFixture::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    // A long linger so that calls started together land in one group.
    repo_->SetIngestGroupCommit(100000, absl::Milliseconds(400));
  }

  std::vector<Signal> Logins(const std::string& account, const std::string& prefix, int first,
                             int last) {
    std::vector<Signal> out;
    for (int i = first; i <= last; ++i) {
      Signal s;
      s.event_id = absl::StrCat(prefix, i);
      s.account_id = account;
      s.kind = SignalKind::kLogin;
      s.occurred_at = clock_.Now() - absl::Hours(3);
      out.push_back(s);
    }
    return out;
  }

  struct Tally {
    int accepted = 0;
    int duplicates = 0;
    int failed = 0;
  };
  using Record = std::function<void(const std::vector<Signal>&)>;
  // Runs `calls(replica, thread, record)` on `threads` threads of each of two
  // replicas (this fixture's repository, and a second one with its own pool), both
  // committing in groups, `groups` at a time; `record` sends a batch to the
  // thread's replica and counts what came back.
  Tally OnTwoReplicas(int threads, int groups,
                      const std::function<void(int, int, Record)>& calls) {
    db::Pool other_pool(db_->config());
    MySqlHealthRepository other_repo(&other_pool, &clock_, HealthEncoders());
    other_repo.SetIngestGroupCommit(100000, absl::Milliseconds(5), groups);
    repo_->SetIngestGroupCommit(100000, absl::Milliseconds(5), groups);
    HealthService other(&other_repo, &clock_);
    std::atomic<int> accepted{0};
    std::atomic<int> duplicates{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> running;
    for (int replica = 0; replica < 2; ++replica) {
      for (int t = 0; t < threads; ++t) {
        HealthService& service = replica == 0 ? *health_ : other;
        running.emplace_back([&, replica, t] {
          calls(replica, t, [&](const std::vector<Signal>& batch) {
            absl::StatusOr<IngestResult> r =
                service.RecordSignals({"RecordSignals", "", ""}, codec_, batch, {}, false);
            if (!r.ok()) {
              ++failed;
              return;
            }
            accepted += r->accepted;
            duplicates += r->duplicates;
          });
        });
      }
    }
    for (std::thread& t : running) t.join();
    return Tally{accepted.load(), duplicates.load(), failed.load()};
  }

  // One RecordSignals call of a test and what it got.
  struct Call {
    db::WriteKey key;
    std::vector<Signal> signals;
    bool atomic = false;
    absl::StatusOr<IngestResult> out = absl::UnknownError("not run");
  };

  // The service's own: stored answers keep only the acks of records not accepted.
  db::ResultCodec<IngestResult> codec_ = ProtoCodec<IngestResult, v1::RecordSignalsResponse>(
      IngestResultToStored, IngestResultFromProto);
};

TEST_F(IngestGroupDbTest, ConcurrentCallsCommitTogetherWithTheirOwnAnswers) {
  for (const char* id : {"a1", "a2", "a3"}) AddAccount(id);
  std::vector<Call> calls(5);
  calls[0].key = {"RecordSignals", "r0", "same"};
  calls[0].signals = Logins("a1", "x", 0, 4);
  calls[1].key = {"RecordSignals", "r1", "other"};
  calls[1].signals = Logins("a1", "x", 3, 7);  // x3 and x4 are also in call 0
  calls[2].key = {"RecordSignals", "r2", "atomic"};
  calls[2].signals = Logins("nobody", "n", 0, 2);
  calls[2].atomic = true;
  calls[3].key = {"RecordSignals", "r0", "same"};  // a retry of call 0
  calls[3].signals = Logins("a1", "x", 0, 4);
  calls[4].key = {"RecordSignals", "", ""};
  calls[4].signals = Logins("a3", "y", 0, 9);

  std::vector<std::thread> threads;
  for (Call& c : calls) {
    threads.emplace_back([&, call = &c] {
      call->out = health_->RecordSignals(call->key, codec_, call->signals, {}, call->atomic);
    });
  }
  for (std::thread& t : threads) t.join();

  const MySqlHealthRepository::GroupStats stats = repo_->group_stats();
  EXPECT_EQ(stats.requests, 5);
  EXPECT_LT(stats.groups, stats.requests) << "no two calls shared a transaction";

  ASSERT_OK(calls[0].out);
  ASSERT_OK(calls[1].out);
  ASSERT_OK(calls[3].out);
  ASSERT_OK(calls[4].out);
  // The atomic batch fails alone and writes nothing.
  EXPECT_THAT(calls[2].out, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(Count(CountLoggedSignalsSql("event_id LIKE 'n%'")), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM rejected_records"), 0);

  // x3 and x4 count once: accepted by whichever of calls 0 and 1 ran first.
  EXPECT_EQ(calls[0].out->accepted + calls[1].out->accepted, 8);
  EXPECT_EQ(calls[0].out->duplicates + calls[1].out->duplicates, 2);
  // The retry got the first answer back, whichever of the two ran first.
  ASSERT_EQ(calls[3].out->acks.size(), calls[0].out->acks.size());
  for (size_t i = 0; i < calls[0].out->acks.size(); ++i) {
    EXPECT_EQ(calls[3].out->acks[i].outcome, calls[0].out->acks[i].outcome) << i;
  }
  EXPECT_EQ(calls[4].out->accepted, 10);
  EXPECT_EQ(Count(CountLoggedSignalsSql()), 18);
  EXPECT_EQ(Stored("logins").sum, 18);
  // The group added its calls' counters into one packed row per account and month.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM signal_counters"), 2);

  // Every touched account is scored when its call returns.
  absl::StatusOr<HealthView> a1 = health_->GetHealth("a1", "", std::nullopt);
  ASSERT_OK(a1);
  absl::StatusOr<HealthView> a3 = health_->GetHealth("a3", "", std::nullopt);
  ASSERT_OK(a3);
  EXPECT_GT(a3->score, 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM account_scores WHERE account_id IN ('a1', 'a3')"), 2);
  EXPECT_THAT(health_->GetHealth("a2", "", std::nullopt), StatusIs(absl::StatusCode::kNotFound));
}

// Request ids inside one group: the group reads the answers stored before it at once
// and stores its own after its last call, so a call repeating an id a call before it
// in the same group staged must get what it would have got run after it: that
// call's answer (not a second run, whose signals would all be duplicates), or
// INVALID_ARGUMENT for a different request. An id whose first call failed stored
// nothing and runs again.
TEST_F(IngestGroupDbTest, RequestIdsRepeatedInsideOneGroupAnswerAsOneByOne) {
  AddAccount("a1");
  absl::StatusOr<IngestResult> old = health_->RecordSignals(
      {"RecordSignals", "r-old", "fp-old"}, codec_, Logins("a1", "old", 0, 2), {}, false);
  ASSERT_OK(old);
  ASSERT_EQ(old->accepted, 3);

  std::vector<Call> calls(7);
  calls[0] = {{"RecordSignals", "r-old", "fp-old"}, Logins("a1", "old", 0, 2)};
  calls[1] = {{"RecordSignals", "r-old", "fp-other"}, Logins("a1", "other", 0, 0)};
  calls[2] = {{"RecordSignals", "r-new", "fp-new"}, Logins("a1", "new", 0, 4)};
  calls[3] = {{"RecordSignals", "r-new", "fp-new"}, Logins("a1", "new", 0, 4)};
  calls[4] = {{"RecordSignals", "r-new", "fp-changed"}, Logins("a1", "changed", 0, 1)};
  calls[5] = {{"RecordSignals", "r-fail", "fp-fail"}, Logins("nobody", "f", 0, 1), true};
  calls[6] = {{"RecordSignals", "r-fail", "fp-fail"}, Logins("nobody", "f", 0, 1), true};
  size_t signals = 0;
  for (const Call& c : calls) signals += c.signals.size();
  // One group of all seven, in this order: the leader lingers until every signal is
  // queued, and each call is queued before the next starts.
  repo_->SetIngestGroupCommit(static_cast<int>(signals), absl::Seconds(60));
  const MySqlHealthRepository::GroupStats before = repo_->group_stats();
  std::vector<std::thread> threads;
  for (size_t i = 0; i < calls.size(); ++i) {
    threads.emplace_back([&, call = &calls[i]] {
      call->out = health_->RecordSignals(call->key, codec_, call->signals, {}, call->atomic);
    });
    // Queued, or taken by the group (the last call completes it).
    auto taken = [&] {
      const MySqlHealthRepository::GroupStats now = repo_->group_stats();
      return now.queued + (now.requests - before.requests) >= static_cast<int64_t>(i + 1);
    };
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (!taken() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  }
  for (std::thread& t : threads) t.join();
  repo_->SetIngestGroupCommit(100000);
  const MySqlHealthRepository::GroupStats after = repo_->group_stats();
  EXPECT_EQ(after.groups - before.groups, 1);
  EXPECT_EQ(after.requests - before.requests, 7);
  // Answered by the group itself, not by running each call again after it failed.
  EXPECT_EQ(after.alone - before.alone, 0);

  // Stored before the group: replayed, or refused for a different request.
  ASSERT_OK(calls[0].out);
  EXPECT_EQ(calls[0].out->accepted, 3);
  EXPECT_EQ(calls[0].out->duplicates, 0);
  EXPECT_THAT(calls[1].out, StatusIs(absl::StatusCode::kInvalidArgument));
  // Staged earlier in the group: the same answer, not a second run.
  ASSERT_OK(calls[2].out);
  EXPECT_EQ(calls[2].out->accepted, 5);
  ASSERT_OK(calls[3].out);
  EXPECT_EQ(calls[3].out->accepted, 5);
  EXPECT_EQ(calls[3].out->duplicates, 0);
  ASSERT_EQ(calls[3].out->acks.size(), calls[2].out->acks.size());
  EXPECT_THAT(calls[4].out, StatusIs(absl::StatusCode::kInvalidArgument));
  // Failed: nothing stored, so the repeat runs and fails the same way.
  EXPECT_THAT(calls[5].out, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(calls[6].out, StatusIs(absl::StatusCode::kNotFound));

  EXPECT_EQ(Count("SELECT COUNT(*) FROM idempotency_keys"), 2);
  EXPECT_EQ(Count(CountLoggedSignalsSql()), 8);
  EXPECT_EQ(Count(CountLoggedSignalsSql("event_id LIKE 'other%' OR event_id LIKE 'changed%'")), 0);
  // A retry after the group is answered from what the group stored.
  const std::vector<Signal> sent = Logins("a1", "new", 0, 4);
  absl::StatusOr<IngestResult> again =
      health_->RecordSignals({"RecordSignals", "r-new", "fp-new"}, codec_, sent, {}, false);
  ASSERT_OK(again);
  EXPECT_EQ(again->accepted, 5);
  // Every record's ack, as the first answer had it.
  ASSERT_EQ(again->acks.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(again->acks[i].index, static_cast<int>(i));
    EXPECT_EQ(again->acks[i].event_id, sent[i].event_id);
    EXPECT_EQ(again->acks[i].outcome, RecordOutcome::kAccepted);
    EXPECT_EQ(again->acks[i].event_id, calls[3].out->acks[i].event_id);
  }
}

TEST_F(IngestGroupDbTest, ASingleCallRunsAloneAsBefore) {
  AddAccount("a1");
  absl::StatusOr<IngestResult> r =
      health_->RecordSignals({"RecordSignals", "", ""}, codec_, Logins("a1", "z", 0, 3), {}, false);
  ASSERT_OK(r);
  EXPECT_EQ(r->accepted, 4);
  EXPECT_EQ(repo_->group_stats().groups, 1);
  EXPECT_OK(health_->GetHealth("a1", "", std::nullopt));
}

// The group publishes its calls' expansion and NPS events in one pass: every
// accepted interest signal and NPS answer of every call gets its event, and each
// account's expansion events are together.
TEST_F(IngestGroupDbTest, EveryCallsExpansionAndNpsEventsArePublishedOnce) {
  for (const char* id : {"a1", "a2"}) AddAccount(id);
  const int64_t seen = *db::LastSequence(*pool_);
  auto call = [&](const std::string& account, const std::string& prefix) {
    std::vector<Signal> batch = Logins(account, prefix + "l", 0, 2);
    Signal upsell = batch[0];
    upsell.event_id = prefix + "u";
    upsell.kind = SignalKind::kUpsellInterest;
    upsell.value = 1;
    Signal nps = batch[0];
    nps.event_id = prefix + "n";
    nps.kind = SignalKind::kNpsResponse;
    nps.value = 9;
    batch.insert(batch.begin() + 1, {upsell, nps});
    return batch;
  };
  const std::vector<std::vector<Signal>> calls = {call("a2", "p"), call("a1", "q"),
                                                  call("a2", "r")};
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (const std::vector<Signal>& batch : calls) {
    threads.emplace_back([&, b = &batch] {
      absl::StatusOr<IngestResult> r =
          health_->RecordSignals({"RecordSignals", "", ""}, codec_, *b, {}, false);
      if (r.ok()) accepted += r->accepted;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 15);
  EXPECT_LT(repo_->group_stats().groups, 3) << "the calls did not share a transaction";
  absl::StatusOr<std::vector<db::LoggedEvent>> events = db::ReadEvents(*pool_, seen, 1000);
  ASSERT_OK(events);
  std::vector<std::string> expansion_accounts;
  std::map<std::string, int> nps;
  for (const db::LoggedEvent& e : *events) {
    if (e.kind == "EXPANSION_SIGNAL") expansion_accounts.push_back(e.subject_id);
    if (e.kind == "NPS_RECORDED") ++nps[e.subject_id];
  }
  std::vector<std::string> sorted = expansion_accounts;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<std::string>{"a1", "a2", "a2"}));
  // a2's two events are next to each other, whichever call came first.
  EXPECT_TRUE(expansion_accounts[0] == expansion_accounts[1] ||
              expansion_accounts[1] == expansion_accounts[2]);
  EXPECT_EQ(nps["a1"], 1);
  EXPECT_EQ(nps["a2"], 2);
}

// Two replicas (each its own repository and pool) adding to the same packed counter
// rows at once: each merge reads the row locked, so no replica's counts are lost.
// Each round of calls writes a month of its own, so the four threads race to create
// that month's rows twelve times: a row that did not exist yet used to lose the
// counts of whichever replica wrote it first (READ COMMITTED locks no missing row).
TEST_F(IngestGroupDbTest, TwoReplicasAddingToOneMonthLoseNoCount) {
  for (const char* id : {"a1", "a2"}) AddAccount(id);
  constexpr int kCalls = 12;
  const Tally tally = OnTwoReplicas(2, /*groups=*/1, [&](int replica, int t, Record record) {
    for (int i = 0; i < kCalls; ++i) {
      const std::string prefix = absl::StrCat("r", replica, "t", t, "c", i, "-");
      std::vector<Signal> batch = Logins("a1", prefix, 0, 4);
      for (Signal& s : Logins("a2", prefix, 0, 2)) batch.push_back(s);
      for (Signal& s : batch) s.occurred_at -= absl::Hours(24 * 32 * i);
      record(batch);
    }
  });
  EXPECT_EQ(tally.failed, 0);
  EXPECT_EQ(tally.accepted, 2 * 2 * kCalls * 8);
  EXPECT_EQ(Stored("logins").sum, tally.accepted);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM signal_counters"), 2 * kCalls);
}

// Two groups at a time on each of two replicas, every call sent twice (the second
// time all duplicates), months and accounts shared between them: the groups lock
// the months in key order, so none deadlocks for long, none loses or repeats a count.
TEST_F(IngestGroupDbTest, GroupsRunningAtOnceLoseAndRepeatNothing) {
  for (const char* id : {"a1", "a2", "a3"}) AddAccount(id);
  constexpr int kCalls = 6;
  const Tally tally = OnTwoReplicas(3, /*groups=*/2, [&](int replica, int t, Record record) {
    for (int i = 0; i < kCalls; ++i) {
      const std::string prefix = absl::StrCat("r", replica, "t", t, "c", i, "-");
      // Accounts in another order per thread; months shared across calls.
      std::vector<Signal> batch;
      for (int k = 0; k < 3; ++k) {
        const std::string account = absl::StrCat("a", 1 + (t + k) % 3);
        for (Signal& s : Logins(account, absl::StrCat(prefix, k, "-"), 0, 2)) {
          s.occurred_at -= absl::Hours(24 * 32 * ((i + k) % 3));
          batch.push_back(s);
        }
      }
      record(batch);
      record(batch);
    }
  });
  EXPECT_EQ(tally.failed, 0);
  const int sent = 2 * 3 * kCalls * 9;  // each call: three accounts, three logins
  EXPECT_EQ(tally.accepted, sent);
  EXPECT_EQ(tally.duplicates, sent);
  EXPECT_EQ(Stored("logins").sum, sent);
  EXPECT_EQ(Count(CountLoggedSignalsSql()), sent);
}

}  // namespace
}  // namespace cs::health
