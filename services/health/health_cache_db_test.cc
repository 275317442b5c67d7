// The GetHealth view cache against the real MariaDB: two replicas (two services
// with their own repositories and caches) on one schema.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "services/health/health_db_fixture.h"
#include "services/health/mysql_event_repository.h"

namespace cs::health {
namespace {

class HealthCacheDbTest : public HealthDbFixture {
 protected:
  void SetUp() override {
    HealthDbFixture::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    health_->EnableViewCache(100);
    other_repo_ = std::make_unique<MySqlHealthRepository>(pool_.get(), &clock_, HealthEncoders());
    other_ = std::make_unique<HealthService>(other_repo_.get(), &clock_);
    other_->EnableViewCache(100);
    // The first step of each tail only finds the log's end.
    ASSERT_OK(health_->PollCacheInvalidations());
    ASSERT_OK(other_->PollCacheInvalidations());
  }

  std::vector<Signal> Logins(const std::string& account, int n) {
    std::vector<Signal> out;
    for (int i = 0; i < n; ++i) {
      Signal s;
      s.event_id = absl::StrCat("e", ++next_event_);
      s.account_id = account;
      s.kind = SignalKind::kLogin;
      s.occurred_at = clock_.Now() - absl::Hours(2);
      out.push_back(s);
    }
    return out;
  }

  double ScoreVia(HealthService& service, const std::string& account) {
    absl::StatusOr<HealthView> h = service.GetHealth(account, "", std::nullopt);
    EXPECT_OK(h);
    return h.ok() ? h->score : -1;
  }

  std::set<std::string> Regulated(HealthService& service, const std::vector<std::string>& ids) {
    absl::StatusOr<std::set<std::string>> out = service.RegulatedAccounts(ids);
    EXPECT_OK(out);
    return out.ok() ? *out : std::set<std::string>{"(error)"};
  }

  int64_t Hits(HealthService& service) { return service.view_cache()->stats().hits; }

  // Creates or rewrites the account with this industry.
  void SetIndustry(const std::string& id, Industry industry) {
    Account a;
    a.account_id = id;
    a.name = "Name of " + id;
    a.industry = industry;
    ASSERT_OK(accounts_->UpsertAccount({"UpsertAccount", "", ""}, upsert_codec_, a));
  }

  // A third replica with the view cache and the regulated index, its tail stepped
  // once (which loads the index).
  HealthService& IndexedReplica() {
    indexed_repo_ = std::make_unique<MySqlHealthRepository>(pool_.get(), &clock_, HealthEncoders());
    indexed_ = std::make_unique<HealthService>(indexed_repo_.get(), &clock_);
    indexed_->EnableViewCache(100);
    indexed_->EnableRegulatedIndex();
    EXPECT_OK(indexed_->PollCacheInvalidations());
    return *indexed_;
  }

  // The newest event of the log, which must be an ACCOUNT_UPSERTED of a1.
  Event LastEvent() {
    MySqlEventRepository log(pool_.get());
    absl::StatusOr<std::vector<Event>> events = log.After(0, 1000);
    EXPECT_OK(events);
    if (!events.ok() || events->empty()) return Event();
    EXPECT_EQ(events->back().kind, EventKind::kAccountUpserted);
    EXPECT_EQ(events->back().account_id, "a1");
    return events->back();
  }

  std::unique_ptr<MySqlHealthRepository> other_repo_;
  std::unique_ptr<HealthService> other_;
  std::unique_ptr<MySqlHealthRepository> indexed_repo_;
  std::unique_ptr<HealthService> indexed_;
  db::ResultCodec<IngestResult> codec_;
  int next_event_ = 0;
};

TEST_F(HealthCacheDbTest, OwnWritesDropTheViewAtOnce) {
  AddAccount("a1");
  ASSERT_OK(health_->RecordSignals({"RecordSignals", "", ""}, codec_, Logins("a1", 2), {}, false));
  const double first = ScoreVia(*health_, "a1");
  EXPECT_EQ(ScoreVia(*health_, "a1"), first);
  EXPECT_EQ(Hits(*health_), 1);  // the second read came from memory

  // No tail step in between: the replica's own write is enough.
  ASSERT_OK(health_->RecordSignals({"RecordSignals", "", ""}, codec_, Logins("a1", 30), {}, false));
  const double second = ScoreVia(*health_, "a1");
  EXPECT_GT(second, first);
  EXPECT_EQ(Hits(*health_), 1);

  Override o;
  o.account_id = "a1";
  o.score = 93;
  o.reason = "renewal signed early";
  o.set_by = "csm-1";
  o.expires_at = clock_.Now() + absl::Hours(5);
  ASSERT_OK(health_->SetOverride({"SetOverride", "", ""}, db::ResultCodec<Override>(), o));
  EXPECT_EQ(ScoreVia(*health_, "a1"), 93);
}

TEST_F(HealthCacheDbTest, AnotherReplicasWritesShowAfterItsTailStep) {
  AddAccount("a1");
  ASSERT_OK(health_->RecordSignals({"RecordSignals", "", ""}, codec_, Logins("a1", 2), {}, false));
  ASSERT_OK(other_->PollCacheInvalidations());  // a fresh tail: the cache is in use
  const double first = ScoreVia(*other_, "a1");
  EXPECT_EQ(ScoreVia(*other_, "a1"), first);
  EXPECT_EQ(Hits(*other_), 1);

  // Written through the first replica: the second one serves its cached view until
  // its tail reads the SCORE_CHANGED event.
  ASSERT_OK(health_->RecordSignals({"RecordSignals", "", ""}, codec_, Logins("a1", 30), {}, false));
  EXPECT_EQ(ScoreVia(*other_, "a1"), first);
  ASSERT_OK(other_->PollCacheInvalidations());
  EXPECT_GT(ScoreVia(*other_, "a1"), first);

  // An override publishes no event; the tail reads new override rows.
  Override o;
  o.account_id = "a1";
  o.score = 12;
  o.reason = "champion left";
  o.set_by = "csm-1";
  o.expires_at = clock_.Now() + absl::Hours(5);
  ASSERT_OK(health_->SetOverride({"SetOverride", "", ""}, db::ResultCodec<Override>(), o));
  ASSERT_NE(ScoreVia(*other_, "a1"), 12);
  ASSERT_OK(other_->PollCacheInvalidations());
  EXPECT_EQ(ScoreVia(*other_, "a1"), 12);
  EXPECT_EQ(ScoreVia(*other_, "a1"), 12);

  // An override's view ends at its expiry even without any write.
  clock_.Advance(absl::Hours(6));
  ASSERT_OK(other_->PollCacheInvalidations());
  EXPECT_NE(ScoreVia(*other_, "a1"), 12);
}

TEST_F(HealthCacheDbTest, RegulatedAccountsFollowIndustryChangesOfAnyReplica) {
  AddAccount("a1");
  AddAccount("a2");
  ASSERT_OK(other_->PollCacheInvalidations());
  using Ids = std::vector<std::string>;
  using Set = std::set<std::string>;
  EXPECT_EQ(Regulated(*other_, Ids{"a1", "a2", "nobody"}), (Set{}));
  // Asked again: from memory.
  const int64_t hits = Hits(*other_);
  EXPECT_EQ(Regulated(*other_, Ids{"a1", "a2", "nobody"}), (Set{}));
  EXPECT_EQ(Hits(*other_), hits + 3);

  // The first replica moves a2 into healthcare: the second one sees it after its
  // tail reads the ACCOUNT_UPSERTED event, and a new account as soon as it exists.
  SetIndustry("a2", Industry::kHealthcare);
  SetIndustry("nobody", Industry::kHealthcare);
  ASSERT_OK(other_->PollCacheInvalidations());
  EXPECT_EQ(Regulated(*other_, Ids{"a1", "a2", "nobody"}), (Set{"a2", "nobody"}));
  // Without a fresh tail the store answers.
  MySqlHealthRepository repo(pool_.get(), &clock_, HealthEncoders());
  HealthService untailed(&repo, &clock_);
  untailed.EnableViewCache(100);
  EXPECT_EQ(Regulated(untailed, Ids{"a1", "a2"}), (Set{"a2"}));
  EXPECT_EQ(untailed.view_cache()->stats().fills, 0);
}

// With the regulated index a replica answers accounts it never read before from
// memory (the view cache is not asked: neither hits nor fills move), follows another
// replica's industry changes after its tail step, and asks the store about an
// account it wrote itself until its next step.
TEST_F(HealthCacheDbTest, TheRegulatedIndexAnswersAccountsNeverReadBefore) {
  using Ids = std::vector<std::string>;
  using Set = std::set<std::string>;
  AddAccount("a1");
  SetIndustry("r1", Industry::kHealthcare);
  SetIndustry("r2", Industry::kFinancialServices);

  MySqlHealthRepository repo(pool_.get(), &clock_, HealthEncoders());
  HealthService replica(&repo, &clock_);
  replica.EnableViewCache(100);
  replica.EnableRegulatedIndex();
  EXPECT_FALSE(replica.regulated_index()->loaded());
  ASSERT_OK(replica.PollCacheInvalidations());  // finds the log's end, then loads
  ASSERT_TRUE(replica.regulated_index()->loaded());
  EXPECT_EQ(replica.regulated_index()->size(), 2u);
  auto untouched = [&] {
    const HealthViewCache::Stats st = replica.view_cache()->stats();
    return st.hits + st.misses + st.fills;
  };
  EXPECT_EQ(Regulated(replica, Ids{"a1", "r1", "r2", "nobody"}), (Set{"r1", "r2"}));
  EXPECT_EQ(untouched(), 0);

  // Another replica moves a1 into healthcare: seen after this replica's tail step.
  SetIndustry("a1", Industry::kHealthcare);
  ASSERT_OK(replica.PollCacheInvalidations());
  EXPECT_EQ(Regulated(replica, Ids{"a1", "r1", "r2"}), (Set{"a1", "r1", "r2"}));
  EXPECT_EQ(untouched(), 0);

  // This replica moves r1 out of healthcare: the very next read asks the store (a
  // miss and a fill of the view cache) ...
  SetIndustry("r1", Industry::kSaas);
  replica.InvalidateCachedViews("r1");
  EXPECT_EQ(Regulated(replica, Ids{"r1", "r2"}), (Set{"r2"}));
  EXPECT_EQ(replica.view_cache()->stats().fills, 1);
  // ... and after the next tail step the index answers again.
  ASSERT_OK(replica.PollCacheInvalidations());
  const int64_t before = untouched();
  EXPECT_EQ(Regulated(replica, Ids{"r1", "r2", "a1"}), (Set{"r2", "a1"}));
  EXPECT_EQ(untouched(), before);
  EXPECT_EQ(replica.regulated_index()->size(), 2u);
}

// This replica's own write: its event can reach a stream between the commit and the
// handler dropping the account's views. The event drops them first, for the index
// and for a flag the view cache holds from before the write alike.
TEST_F(HealthCacheDbTest, AnOwnWritesEventReadBeforeItsViewsDropIsAskedOfTheStore) {
  using Ids = std::vector<std::string>;
  using Set = std::set<std::string>;
  AddAccount("a1");
  AddAccount("a2");
  HealthService& indexed = IndexedReplica();
  ASSERT_TRUE(indexed.regulated_index()->loaded());
  ASSERT_OK(other_->PollCacheInvalidations());
  EXPECT_EQ(Regulated(indexed, Ids{"a1", "a2"}), (Set{}));
  EXPECT_EQ(Regulated(*other_, Ids{"a1", "a2"}), (Set{}));
  EXPECT_EQ(other_->view_cache()->stats().fills, 2);  // the cache holds both flags

  SetIndustry("a1", Industry::kHealthcare);  // committed, the views not yet dropped
  const Event upserted = LastEvent();
  indexed.EventAboutToBeRead(upserted);
  other_->EventAboutToBeRead(upserted);
  EXPECT_EQ(Regulated(indexed, Ids{"a1", "a2"}), (Set{"a1"}));
  EXPECT_EQ(Regulated(*other_, Ids{"a1", "a2"}), (Set{"a1"}));
  EXPECT_EQ(Regulated(*other_, Ids{"a1"}), (Set{"a1"}));
  // The handler's drop, and the tail's step, change nothing of that.
  indexed.InvalidateCachedViews("a1");
  other_->InvalidateCachedViews("a1");
  EXPECT_EQ(Regulated(indexed, Ids{"a1", "a2"}), (Set{"a1"}));
  EXPECT_EQ(Regulated(*other_, Ids{"a1", "a2"}), (Set{"a1"}));
  ASSERT_OK(indexed.PollCacheInvalidations());
  EXPECT_EQ(Regulated(indexed, Ids{"a1", "a2"}), (Set{"a1"}));
}

// Another replica's industry change reaches a read of the event log (a stream, a
// page) before this replica's tail step: the event drops the account's flag, so the
// audit of that read asks the store. Events the tail has read already drop nothing.
TEST_F(HealthCacheDbTest, AnIndustryChangeReadBeforeTheTailStepIsAskedOfTheStore) {
  using Ids = std::vector<std::string>;
  using Set = std::set<std::string>;
  AddAccount("a1");
  HealthService& replica = IndexedReplica();
  EXPECT_EQ(Regulated(replica, Ids{"a1"}), (Set{}));

  SetIndustry("a1", Industry::kHealthcare);  // through another replica
  const Event upserted = LastEvent();
  EXPECT_EQ(Regulated(replica, Ids{"a1"}), (Set{}));  // the index before its step
  Event behind = upserted;
  behind.sequence = 1;
  replica.EventAboutToBeRead(behind);
  EXPECT_EQ(Regulated(replica, Ids{"a1"}), (Set{}));
  replica.EventAboutToBeRead(upserted);
  EXPECT_EQ(Regulated(replica, Ids{"a1"}), (Set{"a1"}));

  // Once the tail has read it, reading the event again drops nothing.
  ASSERT_OK(replica.PollCacheInvalidations());
  const int64_t fills = replica.view_cache()->stats().fills;
  replica.EventAboutToBeRead(upserted);
  EXPECT_EQ(Regulated(replica, Ids{"a1"}), (Set{"a1"}));
  EXPECT_EQ(replica.view_cache()->stats().fills, fills);
}

TEST_F(HealthCacheDbTest, AStaleTailMeansReadingThrough) {
  AddAccount("a1");
  ASSERT_OK(health_->RecordSignals({"RecordSignals", "", ""}, codec_, Logins("a1", 2), {}, false));
  // A replica whose tail never ran (or stopped) does not cache at all.
  MySqlHealthRepository repo(pool_.get(), &clock_, HealthEncoders());
  HealthService untailed(&repo, &clock_);
  untailed.EnableViewCache(100);
  const double first = ScoreVia(untailed, "a1");
  ASSERT_OK(health_->RecordSignals({"RecordSignals", "", ""}, codec_, Logins("a1", 30), {}, false));
  EXPECT_GT(ScoreVia(untailed, "a1"), first);
  EXPECT_EQ(untailed.view_cache()->stats().hits, 0);
  EXPECT_EQ(untailed.view_cache()->stats().fills, 0);
}

}  // namespace
}  // namespace cs::health
