// Signals, scores, alerts, scorecards and overrides against the real MariaDB.
#include <cppconn/connection.h>
#include <cppconn/statement.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/db/event_log.h"
#include "cs/health/v1/health.pb.h"
#include "common/server/common_mapping.h"
#include "services/health/health_db_fixture.h"
#include "services/health/logged_signals_sql.h"

namespace cs::health {
namespace {

using ::cs::testing::IsOkAndHolds;
using ::cs::testing::StatusIs;
using ::testing::DoubleNear;
using ::testing::HasSubstr;

class HealthServiceDbTest : public HealthDbFixture {
 protected:
  Signal MakeSignal(const std::string& account, SignalKind kind, int days_ago,
                    const std::string& feature = "") {
    Signal s;
    s.event_id = absl::StrCat("e", ++next_event_);
    s.account_id = account;
    s.kind = kind;
    s.occurred_at = clock_.Now() - absl::Hours(24) * days_ago;
    s.feature = feature;
    return s;
  }

  std::vector<Signal> Many(const std::string& account, SignalKind kind, int n, int days_ago,
                           const std::string& feature = "") {
    std::vector<Signal> out;
    for (int i = 0; i < n; ++i) out.push_back(MakeSignal(account, kind, days_ago, feature));
    return out;
  }

  absl::StatusOr<IngestResult> Record(const std::vector<Signal>& signals, bool atomic = false) {
    return health_->RecordSignals({"RecordSignals", "", ""}, codec_, signals, {}, atomic);
  }

  // Event kinds in the log after `after`.
  std::vector<std::string> EventKinds(int64_t after = 0) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<db::LoggedEvent>> events = db::ReadEvents(*pool_, after, 1000);
    EXPECT_OK(events);
    if (events.ok()) {
      for (const auto& e : *events) out.push_back(e.kind);
    }
    return out;
  }

  db::ResultCodec<IngestResult> codec_;
  int next_event_ = 0;
};

TEST_F(HealthServiceDbTest, ASignalScoresTheAccountInTheSameCall) {
  AddAccount("a1");
  absl::StatusOr<IngestResult> r = Record(Many("a1", SignalKind::kLogin, 10, 3));
  ASSERT_OK(r);
  EXPECT_EQ(r->accepted, 10);
  absl::StatusOr<HealthView> h = health_->GetHealth("a1", "", std::nullopt);
  ASSERT_OK(h);
  // Default scorecard, hand-computed: usage 10 logins in 30 days = 2.333/week of 20
  // -> 11.67; support 0 tickets -> 100; adoption, engagement, expansion 0; payment
  // has no data, so its 15 % goes to the others (85 % present).
  const double usage = (10 / (30 / 7.0)) / 20 * 100;
  const double expected = (usage * 25 + 100 * 15) / 85.0;
  EXPECT_THAT(h->score, DoubleNear(expected, 1e-9));
  EXPECT_EQ(h->band, Band::kRed);
  EXPECT_EQ(h->computed.scorecard_id, "default");
  EXPECT_EQ(h->computed.scorecard_version, 1);
  ASSERT_EQ(h->computed.components.size(), 6u);
  EXPECT_THAT(h->computed.components[0].normalized, DoubleNear(usage, 1e-9));
  EXPECT_TRUE(h->computed.components[3].missing);  // payment history
  EXPECT_THAT(EventKinds(), ::testing::Contains("SCORE_CHANGED"));
}

TEST_F(HealthServiceDbTest, AResentEventIdIsADuplicateAndCountsOnce) {
  AddAccount("a1");
  std::vector<Signal> batch = Many("a1", SignalKind::kLogin, 5, 1);
  ASSERT_OK(Record(batch));
  const double before = health_->GetHealth("a1", "", std::nullopt)->score;
  absl::StatusOr<IngestResult> again = Record(batch);
  ASSERT_OK(again);
  EXPECT_EQ(again->accepted, 0);
  EXPECT_EQ(again->duplicates, 5);
  EXPECT_EQ(again->acks[2].outcome, RecordOutcome::kDuplicate);
  EXPECT_EQ(health_->GetHealth("a1", "", std::nullopt)->score, before);
  EXPECT_EQ(Count(CountLoggedSignalsSql()), 5);
  EXPECT_EQ(Stored("logins").sum, 5);
}

// New and stored keys in one batch; then another writer (as a second replica does)
// appending the same key to the month, uncommitted: the ingest waits for the month's
// row and, once the writer commits, reads the row its cache has not seen and counts
// the key as stored before.
TEST_F(HealthServiceDbTest, StoredKeysAreToldFromNewOnesAndAConcurrentWriterIsWaitedFor) {
  AddAccount("a1");
  std::vector<Signal> first = Many("a1", SignalKind::kLogin, 3, 1);
  ASSERT_OK(Record(first));
  std::vector<Signal> mixed = {first[1], MakeSignal("a1", SignalKind::kLogin, 1), first[2],
                               MakeSignal("a1", SignalKind::kLogin, 2)};
  absl::StatusOr<IngestResult> r = Record(mixed);
  ASSERT_OK(r);
  EXPECT_EQ(r->accepted, 2);
  EXPECT_EQ(r->duplicates, 2);
  EXPECT_EQ(r->acks[0].outcome, RecordOutcome::kDuplicate);
  EXPECT_EQ(r->acks[1].outcome, RecordOutcome::kAccepted);
  EXPECT_EQ(r->acks[2].outcome, RecordOutcome::kDuplicate);
  EXPECT_EQ(r->acks[3].outcome, RecordOutcome::kAccepted);

  const Signal held = MakeSignal("a1", SignalKind::kLogin, 1);
  const std::string month = absl::FormatCivilTime(absl::CivilDay(
      absl::CivilMonth(absl::ToCivilDay(held.occurred_at, absl::UTCTimeZone()))));
  absl::StatusOr<db::Pool::Lease> other = pool_->Acquire();
  ASSERT_OK(other);
  (*other)->Execute("START TRANSACTION");
  auto& lock = (*other)->Prepare(
      "SELECT log_rows FROM signal_counters WHERE account_id = ? AND month = ? FOR UPDATE");
  lock.setString(1, held.account_id);
  lock.setString(2, month);
  std::unique_ptr<sql::ResultSet> rs(lock.executeQuery());
  ASSERT_TRUE(rs->next());
  const uint32_t rows = rs->getUInt(1);
  EXPECT_EQ(rows, 2u);  // one numbered log row per ingest
  std::string line;
  AppendSignalLine(held, line);
  auto& append = (*other)->Prepare(
      "INSERT INTO signal_log (account_id, month, seq, log_no, recorded_at, signals)"
      " VALUES (?, ?, 7, ?, NOW(6), ?)");
  append.setString(1, held.account_id);
  append.setString(2, month);
  append.setUInt(3, rows + 1);
  append.setString(4, line);
  append.executeUpdate();
  auto& count = (*other)->Prepare(
      "UPDATE signal_counters SET log_rows = ? WHERE account_id = ? AND month = ?");
  count.setUInt(1, rows + 1);
  count.setString(2, held.account_id);
  count.setString(3, month);
  count.executeUpdate();
  absl::StatusOr<IngestResult> waited;
  std::atomic<bool> returned{false};
  std::thread ingest([&] {
    waited = Record({held, MakeSignal("a1", SignalKind::kLogin, 1)});
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(returned.load()) << "the ingest did not wait for the month's row";
  (*other)->Execute("COMMIT");
  ingest.join();
  ASSERT_OK(waited);
  EXPECT_EQ(waited->duplicates, 1);
  EXPECT_EQ(waited->acks[0].outcome, RecordOutcome::kDuplicate);
  EXPECT_EQ(waited->accepted, 1);
  EXPECT_EQ(Count(CountLoggedSignalsSql()), 7);
  EXPECT_EQ(Count("SELECT log_rows FROM signal_counters WHERE account_id = 'a1'"), 4);
  // The held signal was stored outside the ingest, so it has no counter; the
  // accepted ones do.
  EXPECT_EQ(Stored("logins").sum, 6);
}

// Two replicas (each its own cache) writing one account's month in turn: each
// reads the rows the other appended since it last held the month, and tells the
// other's keys as stored; one without a cache reads the whole month every time.
TEST_F(HealthServiceDbTest, ReplicasTellEachOthersKeysThroughTheMonthsLog) {
  AddAccount("a1");
  MySqlHealthRepository other_repo(pool_.get(), &clock_, HealthEncoders());
  HealthService other(&other_repo, &clock_);
  MySqlHealthRepository cold_repo(pool_.get(), &clock_, HealthEncoders());
  cold_repo.SetSignalKeyCacheBytes(0);
  HealthService cold(&cold_repo, &clock_);
  auto record = [&](HealthService& on, const std::vector<Signal>& signals) {
    return on.RecordSignals({"RecordSignals", "", ""}, db::ResultCodec<IngestResult>(), signals,
                            {}, false);
  };
  std::vector<Signal> a = Many("a1", SignalKind::kLogin, 4, 1);
  std::vector<Signal> b = Many("a1", SignalKind::kLogin, 4, 1);
  ASSERT_OK(Record({a[0], a[1]}));                    // this replica: a0 a1
  absl::StatusOr<IngestResult> r = record(other, {a[1], b[0]});  // a1 is this one's
  ASSERT_OK(r);
  EXPECT_EQ(r->duplicates, 1);
  EXPECT_EQ(r->accepted, 1);
  r = Record({b[0], a[2]});  // b0 is the other's: read from the row it appended
  ASSERT_OK(r);
  EXPECT_EQ(r->acks[0].outcome, RecordOutcome::kDuplicate);
  EXPECT_EQ(r->acks[1].outcome, RecordOutcome::kAccepted);
  r = record(other, {a[2], a[0], b[1]});
  ASSERT_OK(r);
  EXPECT_EQ(r->duplicates, 2);
  EXPECT_EQ(r->accepted, 1);
  r = record(cold, {a[0], a[1], a[2], b[0], b[1], b[2]});
  ASSERT_OK(r);
  EXPECT_EQ(r->duplicates, 5);
  EXPECT_EQ(r->accepted, 1);
  r = record(cold, {b[2], a[3]});
  ASSERT_OK(r);
  EXPECT_EQ(r->duplicates, 1);
  EXPECT_EQ(r->accepted, 1);
  EXPECT_EQ(Count(CountLoggedSignalsSql()), 7);
  EXPECT_EQ(Stored("logins").sum, 7);
  EXPECT_GT(repo_->signal_key_cache_stats().entries, 0);
  EXPECT_EQ(cold_repo.signal_key_cache_stats().entries, 0);
}

TEST_F(HealthServiceDbTest, BadRecordsAreRejectedOneByOneAndKeptAsDeadLetters) {
  AddAccount("a1");
  std::vector<Signal> batch = Many("a1", SignalKind::kLogin, 3, 1);
  batch[1].occurred_at = clock_.Now() + absl::Hours(48);
  batch[2].account_id = "nobody";
  // The record's JSON is printed for the two rejected ones only, whichever stage
  // (validation, the account check) rejects it.
  std::vector<int> printed;
  absl::StatusOr<IngestResult> r = health_->RecordSignals(
      {"RecordSignals", "", ""}, codec_, batch,
      [&](int i) {
        printed.push_back(i);
        return absl::StrCat("{\"record\":", i, "}");
      },
      false);
  ASSERT_OK(r);
  EXPECT_THAT(printed, ::testing::UnorderedElementsAre(1, 2));
  EXPECT_EQ(r->accepted, 1);
  EXPECT_EQ(r->rejected, 2);
  EXPECT_EQ(r->acks[1].outcome, RecordOutcome::kRejected);
  EXPECT_THAT(r->acks[1].reason, HasSubstr("signals[1].occurred_at"));
  EXPECT_THAT(r->acks[2].reason, HasSubstr("signals[2].account_id"));
  RejectedQuery q;
  absl::StatusOr<RejectedPage> dead = health_->ListRejectedRecords(q);
  ASSERT_OK(dead);
  ASSERT_EQ(dead->records.size(), 2u);
  EXPECT_EQ(dead->records[0].source, "RecordSignals");
  EXPECT_EQ(dead->records[0].record_json, "{\"record\":2}");  // newest first
  EXPECT_EQ(dead->records[1].record_json, "{\"record\":1}");
}

TEST_F(HealthServiceDbTest, AnAtomicBatchWithABadRecordWritesNothing) {
  AddAccount("a1");
  std::vector<Signal> batch = Many("a1", SignalKind::kLogin, 3, 1);
  batch[2].kind = static_cast<SignalKind>(99);
  EXPECT_THAT(Record(batch, /*atomic=*/true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signals[2].kind")));
  batch[2] = MakeSignal("nobody", SignalKind::kLogin, 1);
  EXPECT_THAT(Record(batch, /*atomic=*/true),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("signals[2].account_id")));
  EXPECT_EQ(Count(CountLoggedSignalsSql()), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM rejected_records"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM account_scores"), 0);
}

TEST_F(HealthServiceDbTest, BatchLimitsAndValuesAreChecked) {
  AddAccount("a1");
  EXPECT_THAT(Record({}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signals")));
  EXPECT_THAT(Record(Many("a1", SignalKind::kLogin, 1001, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 1000")));
  Signal nps = MakeSignal("a1", SignalKind::kNpsResponse, 1);
  nps.value = 11;
  EXPECT_THAT(Record({nps}, true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signals[0].value")));
  Signal feature = MakeSignal("a1", SignalKind::kFeatureUsed, 1);
  EXPECT_THAT(Record({feature}, true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signals[0].feature")));
  EXPECT_EQ(Count(CountLoggedSignalsSql()), 0);
}

TEST_F(HealthServiceDbTest, UsageDeclineOpensAnAlertAndRecoveryResolvesIt) {
  AddAccount("a1");
  // 40 logins in the previous 30 days, 40 in this one: no decline.
  std::vector<Signal> steady = Many("a1", SignalKind::kLogin, 40, 40);
  for (Signal& s : Many("a1", SignalKind::kLogin, 40, 5)) steady.push_back(s);
  ASSERT_OK(Record(steady));
  // Held in a variable: a range-for over *OpenAlerts(...) would walk a vector of a
  // temporary that is already destroyed.
  absl::StatusOr<std::vector<Alert>> steady_alerts = repo_->OpenAlerts("a1", clock_.Now());
  ASSERT_OK(steady_alerts);
  for (const Alert& a : *steady_alerts) {
    EXPECT_NE(a.kind, AlertKind::kUsageDecline);
  }
  // 30 days on, this period has 0 and the previous one 40: -100 %.
  clock_.Advance(absl::Hours(24 * 30));
  ASSERT_OK(Record(Many("a1", SignalKind::kLogin, 5, 0)));  // 5 vs 40: -87.5 %
  AlertQuery q;
  q.account_id = "a1";
  q.kind = AlertKind::kUsageDecline;
  q.open_only = true;
  absl::StatusOr<AlertPage> open = health_->ListAlerts(q);
  ASSERT_OK(open);
  ASSERT_EQ(open->alerts.size(), 1u);
  EXPECT_EQ(open->alerts[0].severity, Severity::kHigh);  // more than twice the 20 %
  EXPECT_THAT(open->alerts[0].evidence.at("previous"), DoubleNear(40, 1e-9));
  EXPECT_THAT(open->alerts[0].evidence.at("current"), DoubleNear(5, 1e-9));
  const int64_t seen = *db::LastSequence(*pool_);
  ASSERT_OK(Record(Many("a1", SignalKind::kLogin, 40, 0)));  // 45 vs 40
  EXPECT_TRUE(health_->ListAlerts(q)->alerts.empty());
  EXPECT_THAT(EventKinds(seen), ::testing::Contains("ALERT_RESOLVED"));
  // The resolution's event carries the alert as it stood, evidence included.
  absl::StatusOr<std::vector<db::LoggedEvent>> events = db::ReadEvents(*pool_, seen, 1000);
  ASSERT_OK(events);
  int resolutions = 0;
  for (const db::LoggedEvent& e : *events) {
    if (e.kind != "ALERT_RESOLVED") continue;
    cs::health::v1::Alert alert;
    ASSERT_TRUE(alert.ParseFromString(e.payload));
    if (alert.kind() != cs::health::v1::ALERT_KIND_USAGE_DECLINE) continue;
    ++resolutions;
    EXPECT_THAT(alert.evidence().at("previous"), DoubleNear(40, 1e-9));
    EXPECT_THAT(alert.evidence().at("current"), DoubleNear(5, 1e-9));
  }
  EXPECT_EQ(resolutions, 1);
  q.open_only = false;
  ASSERT_EQ(health_->ListAlerts(q)->alerts.size(), 1u);
  EXPECT_TRUE(health_->ListAlerts(q)->alerts[0].resolved_at.has_value());
}

class AlertIdsDbTest : public HealthServiceDbTest,
                       public ::testing::WithParamInterface<AlertIds> {};

TEST_P(AlertIdsDbTest, AlertsOpenedTogetherEachAnnounceTheirOwnId) {
  // One batch opens a payment-failure alert on several accounts: the alerts are
  // written with multi-row statements (of 4, 2 and 1 rows), and each ALERT_OPENED
  // event must carry its own row's id, whether the ids come from RETURNING, from
  // LAST_INSERT_ID() or are read back by key.
  repo_->UseAlertIds(GetParam());
  std::vector<Signal> batch;
  for (const std::string id : {"a1", "a2", "a3", "a4", "a5", "a6", "a7"}) {
    AddAccount(id);
    batch.push_back(MakeSignal(id, SignalKind::kPaymentFailed, 1));
  }
  const int64_t seen = *db::LastSequence(*pool_);
  ASSERT_OK(Record(batch));
  absl::StatusOr<std::vector<db::LoggedEvent>> events = db::ReadEvents(*pool_, seen, 1000);
  ASSERT_OK(events);
  std::map<std::string, std::string> announced;
  for (const db::LoggedEvent& e : *events) {
    if (e.kind != "ALERT_OPENED") continue;
    cs::health::v1::Alert alert;
    ASSERT_TRUE(alert.ParseFromString(e.payload));
    if (alert.kind() != cs::health::v1::ALERT_KIND_PAYMENT_FAILURE) continue;
    EXPECT_EQ(alert.account_id(), e.subject_id);
    announced[e.subject_id] = alert.alert_id();
  }
  ASSERT_EQ(announced.size(), 7u);
  for (const auto& [account, alert_id] : announced) {
    AlertQuery q;
    q.account_id = account;
    q.kind = AlertKind::kPaymentFailure;
    q.open_only = true;
    absl::StatusOr<AlertPage> open = health_->ListAlerts(q);
    ASSERT_OK(open);
    ASSERT_EQ(open->alerts.size(), 1u) << account;
    EXPECT_EQ(absl::StrCat(open->alerts[0].id), alert_id) << account;
  }
}

INSTANTIATE_TEST_SUITE_P(IdsFromInsertOrReadBack, AlertIdsDbTest,
                         ::testing::Values(AlertIds::kReturning, AlertIds::kConsecutive,
                                           AlertIds::kReadBack));

TEST_F(HealthServiceDbTest, APaymentFailureStaysOpenUntilAPaymentSucceeds) {
  AddAccount("a1");
  ASSERT_OK(Record({MakeSignal("a1", SignalKind::kPaymentFailed, 2)}));
  std::vector<Alert> open = *repo_->OpenAlerts("a1", clock_.Now());
  auto has = [](const std::vector<Alert>& alerts, AlertKind kind) {
    return std::any_of(alerts.begin(), alerts.end(), [&](const Alert& a) { return a.kind == kind; });
  };
  EXPECT_TRUE(has(open, AlertKind::kPaymentFailure));
  // Late news of an older success does not clear a newer failure.
  ASSERT_OK(Record({MakeSignal("a1", SignalKind::kPaymentSucceeded, 10)}));
  EXPECT_TRUE(has(*repo_->OpenAlerts("a1", clock_.Now()), AlertKind::kPaymentFailure));
  ASSERT_OK(Record({MakeSignal("a1", SignalKind::kPaymentSucceeded, 0)}));
  EXPECT_FALSE(has(*repo_->OpenAlerts("a1", clock_.Now()), AlertKind::kPaymentFailure));
}

TEST_F(HealthServiceDbTest, FallingIntoRedPublishesTheBandChangeAndACriticalAlert) {
  AddAccount("a1");
  // Healthy: plenty of usage, features, engagement, expansion interest, payments.
  std::vector<Signal> good = Many("a1", SignalKind::kLogin, 90, 2);
  for (int f = 0; f < 10; ++f) good.push_back(MakeSignal("a1", SignalKind::kFeatureUsed, 2, absl::StrCat("f", f)));
  for (Signal& s : Many("a1", SignalKind::kEmailClick, 12, 2)) good.push_back(s);
  for (Signal& s : Many("a1", SignalKind::kReferral, 3, 2)) good.push_back(s);
  good.push_back(MakeSignal("a1", SignalKind::kPaymentSucceeded, 2));
  ASSERT_OK(Record(good));
  ASSERT_EQ(health_->GetHealth("a1", "", std::nullopt)->band, Band::kGreen);
  const int64_t seen = *db::LastSequence(*pool_);
  // Then a flood of tickets and a failed payment, 45 days on: usage ages out.
  clock_.Advance(absl::Hours(24 * 45));
  std::vector<Signal> bad = Many("a1", SignalKind::kTicketOpened, 20, 1);
  bad.push_back(MakeSignal("a1", SignalKind::kPaymentFailed, 1));
  ASSERT_OK(Record(bad));
  absl::StatusOr<HealthView> h = health_->GetHealth("a1", "", std::nullopt);
  ASSERT_OK(h);
  EXPECT_EQ(h->band, Band::kRed);
  EXPECT_THAT(EventKinds(seen), ::testing::Contains("BAND_CHANGED"));
  bool critical = false;
  int64_t worsened = 0;
  for (const Alert& a : h->open_alerts) {
    if (a.kind == AlertKind::kBandWorsened) {
      critical = a.severity == Severity::kCritical;
      worsened = a.id;
    }
  }
  EXPECT_TRUE(critical);

  // Rescored while still RED: the alert stays open, as it was, since the band it
  // worsened from (kept in its evidence) is still better than the one now.
  clock_.Advance(absl::Hours(1));
  ASSERT_OK(Record({MakeSignal("a1", SignalKind::kTicketOpened, 0)}));
  absl::StatusOr<std::vector<Alert>> still = repo_->OpenAlerts("a1", clock_.Now());
  ASSERT_OK(still);
  int64_t still_open = 0;
  for (const Alert& a : *still) {
    if (a.kind == AlertKind::kBandWorsened) {
      still_open = a.id;
      EXPECT_EQ(a.summary, "band worsened from GREEN to RED");
    }
  }
  EXPECT_EQ(still_open, worsened);
}

TEST_F(HealthServiceDbTest, AScorecardChangeRescoresEveryAccountInTheBackground) {
  for (const char* id : {"a1", "a2", "a3"}) {
    AddAccount(id);
    ASSERT_OK(Record(Many(id, SignalKind::kLogin, 10, 1)));
  }
  absl::StatusOr<Scorecard> current = health_->GetScorecard("default", 0);
  ASSERT_OK(current);
  Scorecard next = *current;
  next.components = {{Component::kProductUsage, 100,
                      {"logins_per_week", 30, Direction::kHigherIsBetter, 0, 5}}};
  next.version = 1;
  absl::StatusOr<Scorecard> updated = health_->UpdateScorecard({"UpdateScorecard", "", ""},
                                                               db::ResultCodec<Scorecard>(), next);
  ASSERT_OK(updated);
  EXPECT_EQ(updated->version, 2);
  EXPECT_THAT(health_->UpdateScorecard({"UpdateScorecard", "", ""}, db::ResultCodec<Scorecard>(),
                                       next),
              StatusIs(absl::StatusCode::kAborted));
  next.components[0].weight = 90;
  next.version = 2;
  EXPECT_THAT(health_->UpdateScorecard({"UpdateScorecard", "", ""}, db::ResultCodec<Scorecard>(),
                                       next),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("weights sum to 90")));
  int done = 0;
  for (int i = 0; i < 10; ++i) done += *health_->RunRescoreJobs(2);
  EXPECT_GE(done, 3);
  for (const char* id : {"a1", "a2", "a3"}) {
    absl::StatusOr<HealthView> h = health_->GetHealth(id, "", std::nullopt);
    ASSERT_OK(h);
    EXPECT_EQ(h->computed.scorecard_version, 2);
    // 10 logins in 30 days = 2.33/week of 5.
    EXPECT_THAT(h->score, DoubleNear(10 / (30 / 7.0) / 5 * 100, 1e-9));
  }
  // Version 1 is still readable: a score names the version that produced it.
  EXPECT_OK(health_->GetScorecard("default", 1));
}

TEST_F(HealthServiceDbTest, ReplicasShareTheDailyRescoreAndNoAccountIsDoneTwice) {
  for (int i = 0; i < 40; ++i) {
    AddAccount(absl::StrCat("acct", 100 + i));
    ASSERT_OK(Record(Many(absl::StrCat("acct", 100 + i), SignalKind::kLogin, 3, 1)));
  }
  clock_.Advance(absl::Hours(24));
  // Two replicas (two repositories on their own pools) working the same job.
  db::Pool other_pool(db_->config());
  MySqlHealthRepository other_repo(&other_pool, &clock_, HealthEncoders());
  HealthService other(&other_repo, &clock_);
  std::atomic<int> total{0};
  auto work = [&total](HealthService* s) {
    for (int i = 0; i < 50; ++i) {
      absl::StatusOr<int> n = s->RunRescoreJobs(5);
      if (n.ok()) total += *n;
    }
  };
  std::thread t1(work, health_.get());
  std::thread t2(work, &other);
  t1.join();
  t2.join();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM rescore_jobs WHERE kind = 'DAILY' AND finished_at IS NULL"), 0);
  EXPECT_EQ(Count("SELECT SUM(accounts_done) FROM rescore_jobs WHERE kind = 'DAILY'"), 40);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM rescore_jobs WHERE kind = 'DAILY'"), 1);
  // A second pass the same day finds nothing to do.
  EXPECT_EQ(*health_->RunRescoreJobs(5), 0);
}

// The replica remembers the day whose daily job it made, and makes the next day's
// once that day comes.
TEST_F(HealthServiceDbTest, EachDayGetsOneDailyJobFromAReplicaThatRunsAcrossMidnight) {
  AddAccount("acct1");
  ASSERT_OK(Record(Many("acct1", SignalKind::kLogin, 3, 1)));
  for (int day = 0; day < 3; ++day) {
    for (int i = 0; i < 4; ++i) ASSERT_OK(health_->RunRescoreJobs(5));
    EXPECT_EQ(Count("SELECT COUNT(*) FROM rescore_jobs WHERE kind = 'DAILY'"), day + 1);
    EXPECT_EQ(Count("SELECT COUNT(*) FROM rescore_jobs WHERE kind = 'DAILY' AND finished_at IS NULL"),
              0);
    clock_.Advance(absl::Hours(24));
  }
}

TEST_F(HealthServiceDbTest, ASliceLeftByAWorkerIsWorkedByAnotherAndLateAccountsAreIncluded) {
  for (int i = 0; i < 12; ++i) {
    AddAccount(absl::StrCat("acct", 100 + i));
    ASSERT_OK(Record(Many(absl::StrCat("acct", 100 + i), SignalKind::kLogin, 3, 1)));
  }
  clock_.Advance(absl::Hours(24));
  // This replica cuts the first slice of the day's job and stops there, as if it died.
  ASSERT_THAT(health_->RunRescoreJobs(5), IsOkAndHolds(1));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM rescore_job_slices WHERE done_at IS NULL"), 1);
  // Another replica takes the open slice before cutting anything new.
  db::Pool other_pool(db_->config());
  MySqlHealthRepository other_repo(&other_pool, &clock_, HealthEncoders());
  HealthService other(&other_repo, &clock_);
  ASSERT_THAT(other.RunRescoreJobs(5), IsOkAndHolds(5));
  EXPECT_EQ(Count("SELECT accounts_done FROM rescore_jobs WHERE kind = 'DAILY'"), 5);
  // An account created while the job runs, after the cursor, is rescored too.
  AddAccount("acct999");
  ASSERT_OK(Record(Many("acct999", SignalKind::kLogin, 3, 1)));
  int calls = 0;
  while (Count("SELECT COUNT(*) FROM rescore_jobs WHERE kind = 'DAILY' AND finished_at IS NULL") >
             0 &&
         ++calls < 20) {
    ASSERT_OK(other.RunRescoreJobs(5));
  }
  EXPECT_EQ(Count("SELECT accounts_done FROM rescore_jobs WHERE kind = 'DAILY'"), 13);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM rescore_job_slices"), 0);  // forgotten once finished
  EXPECT_THAT(health_->RunRescoreJobs(5), IsOkAndHolds(0));
}

TEST_F(HealthServiceDbTest, TrendsAndAsOfReadTheStoredHistory) {
  AddAccount("a1");
  ASSERT_OK(Record(Many("a1", SignalKind::kLogin, 20, 0)));
  const absl::Time t1 = clock_.Now();
  const double score1 = health_->GetHealth("a1", "", std::nullopt)->score;
  clock_.Advance(absl::Hours(24 * 31));
  ASSERT_OK(Record(Many("a1", SignalKind::kLogin, 60, 0)));
  absl::StatusOr<HealthView> now = health_->GetHealth("a1", "", std::nullopt);
  ASSERT_OK(now);
  ASSERT_TRUE(now->change_30d.has_value());
  EXPECT_THAT(*now->change_30d, DoubleNear(now->score - score1, 1e-9));
  EXPECT_FALSE(now->change_60d.has_value());
  absl::StatusOr<HealthView> then = health_->GetHealth("a1", "", t1 + absl::Seconds(1));
  ASSERT_OK(then);
  EXPECT_EQ(then->score, score1);
  EXPECT_THAT(health_->GetHealth("a1", "", t1 - absl::Hours(1)),
              StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::vector<HealthPoint>> points =
      health_->GetHealthHistory("a1", "", std::nullopt, std::nullopt);
  ASSERT_OK(points);
  EXPECT_EQ(points->size(), 2u);
  absl::StatusOr<ExplainResult> why = health_->ExplainChange("a1", "", t1 + absl::Seconds(1), std::nullopt);
  ASSERT_OK(why);
  EXPECT_EQ(why->components[0].component, Component::kProductUsage);
  ASSERT_EQ(why->signals.size(), 1u);
  EXPECT_EQ(why->signals[0].second, 60);
}

TEST_F(HealthServiceDbTest, AChangedScoreWritesNoDayRowAndItsChangeIsTheDaysPoint) {
  AddAccount("a1");
  auto day_rows = [&] { return Count("SELECT COUNT(*) FROM score_daily WHERE account_id = 'a1'"); };
  auto changes = [&] { return Count("SELECT COUNT(*) FROM score_history WHERE account_id = 'a1'"); };
  ASSERT_OK(Record(Many("a1", SignalKind::kLogin, 20, 0)));
  const double first = health_->GetHealth("a1", "", std::nullopt)->score;
  EXPECT_EQ(day_rows(), 0);
  const int64_t changed = changes();
  EXPECT_GE(changed, 1);
  absl::StatusOr<std::vector<HealthPoint>> points =
      health_->GetHealthHistory("a1", "", std::nullopt, std::nullopt);
  ASSERT_OK(points);
  ASSERT_EQ(points->size(), 1u);
  EXPECT_EQ(points->front().day, DayOf(clock_.Now()));
  EXPECT_EQ(points->front().score, first);

  // The daily rescore finds the score unchanged: a day row, no change.
  for (int i = 0; i < 5 && *health_->RunRescoreJobs(10) > 0; ++i) {
  }
  EXPECT_EQ(day_rows(), 1);
  EXPECT_EQ(changes(), changed);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM score_daily WHERE account_id = 'a1' AND score = "
                  "(SELECT score FROM account_scores WHERE account_id = 'a1')"),
            1);

  // A later change the same day leaves the day row as it was; the change wins.
  ASSERT_OK(Record(Many("a1", SignalKind::kLogin, 40, 0)));
  const double second = health_->GetHealth("a1", "", std::nullopt)->score;
  ASSERT_NE(second, first);
  EXPECT_EQ(day_rows(), 1);
  points = health_->GetHealthHistory("a1", "", std::nullopt, std::nullopt);
  ASSERT_OK(points);
  ASSERT_EQ(points->size(), 1u);
  EXPECT_EQ(points->front().score, second);

  // A month on, the 30-day change is measured from that day's last score.
  clock_.Advance(absl::Hours(24 * 30));
  ASSERT_OK(Record(Many("a1", SignalKind::kLogin, 5, 0)));
  absl::StatusOr<HealthView> now = health_->GetHealth("a1", "", std::nullopt);
  ASSERT_OK(now);
  ASSERT_TRUE(now->change_30d.has_value());
  EXPECT_THAT(*now->change_30d, DoubleNear(now->score - second, 1e-9));
}

// The rules by which a day's point is chosen, on rows written straight into both
// tables, as a service that wrote a day row on every rescore left them too.
TEST_F(HealthServiceDbTest, ADaysPointIsItsLastChangeElseItsDayRow) {
  AddAccount("p1");
  ASSERT_OK(pool_->Run([&](db::Connection& conn) -> absl::Status {
    conn.Execute(
        "INSERT INTO score_history (account_id, score_name, computed_at, scorecard_id,"
        " scorecard_version, score, band, components) VALUES"
        " ('p1', 'health', '2026-11-05 09:00:00', 'default', 1, 40, 'YELLOW', ''),"
        " ('p1', 'health', '2026-11-08 08:00:00', 'default', 1, 55, 'YELLOW', ''),"
        " ('p1', 'health', '2026-11-08 20:00:00', 'default', 2, 60, 'YELLOW', ''),"
        " ('p1', 'health', '2026-11-08 20:00:00', 'default', 2, 61, 'YELLOW', ''),"
        " ('p1', 'health', '2026-11-12 00:00:00', 'default', 2, 20, 'RED', ''),"
        " ('p1', 'other', '2026-11-09 10:00:00', 'default', 2, 99, 'GREEN', '')");
    conn.Execute(
        "INSERT INTO score_daily (account_id, score_name, day, score, band, scorecard_version)"
        " VALUES ('p1', 'health', '2026-11-05', 39, 'YELLOW', 1),"
        " ('p1', 'health', '2026-11-07', 50, 'YELLOW', 1),"
        " ('p1', 'health', '2026-11-10', 70, 'GREEN', 2),"
        " ('p1', 'other', '2026-11-10', 98, 'GREEN', 2)");
    return absl::OkStatus();
  }));
  const absl::CivilDay d5(2026, 11, 5);
  absl::StatusOr<std::vector<HealthPoint>> points =
      repo_->History("p1", "health", d5 - 1, d5 + 6);
  ASSERT_OK(points);
  std::vector<std::pair<absl::CivilDay, double>> got;
  for (const HealthPoint& p : *points) got.emplace_back(p.day, p.score);
  // The 8th: the later of two changes, and of two at the same time the later id.
  EXPECT_EQ(got, (std::vector<std::pair<absl::CivilDay, double>>{
                     {d5, 40}, {d5 + 2, 50}, {d5 + 3, 61}, {d5 + 5, 70}}));
  ASSERT_EQ(points->size(), 4u);
  EXPECT_EQ((*points)[2].scorecard_version, 2);
  EXPECT_EQ((*points)[3].band, Band::kGreen);
  // The 12th's change starts at midnight: outside a range that ends on the 11th.
  points = repo_->History("p1", "health", d5 + 7, d5 + 7);
  ASSERT_OK(points);
  ASSERT_EQ(points->size(), 1u);
  EXPECT_EQ(points->front().score, 20);

  absl::StatusOr<std::vector<std::optional<HealthPoint>>> on_or_before = repo_->PointsOnOrBefore(
      "p1", "health", {d5 - 1, d5, d5 + 1, d5 + 2, d5 + 4, d5 + 6, d5 + 7});
  ASSERT_OK(on_or_before);
  std::vector<std::optional<double>> scores;
  for (const std::optional<HealthPoint>& p : *on_or_before) {
    scores.push_back(p.has_value() ? std::optional<double>(p->score) : std::nullopt);
  }
  EXPECT_EQ(scores, (std::vector<std::optional<double>>{std::nullopt, 40, 40, 50, 61, 70, 20}));
}

// Lists of account ids of every length share a few statement texts: each text is
// prepared and kept on every connection, and the server caps those of all its
// clients together (max_prepared_stmt_count), so one text per length would let a
// long-running service reach the cap. Checked on one connection: once lists of
// 1-20 ids were read, by ListAccounts and by the rescore of an ingest's accounts,
// lists of 21-32 prepare nothing new.
TEST_F(HealthServiceDbTest, IdListsOfAnyLengthShareAFewPreparedStatements) {
  cs::DbConfig config = db_->config();
  config.pool_size = 1;
  db::Pool one(config);
  MySqlAccountRepository accounts(&one, &clock_, EncodeAccountEvent);
  MySqlHealthRepository repo(&one, &clock_, HealthEncoders());
  HealthService health(&repo, &clock_);
  std::vector<std::string> ids;
  for (int i = 0; i < 32; ++i) {
    ids.push_back(absl::StrCat("list-", 100 + i));
    AddAccount(ids.back());
  }
  auto prepared = [&] {
    int64_t n = -1;
    EXPECT_OK(one.Run([&](db::Connection& conn) -> absl::Status {
      std::unique_ptr<sql::Statement> stmt(conn.raw().createStatement());
      std::unique_ptr<sql::ResultSet> rs(
          stmt->executeQuery("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'"));
      if (rs->next()) n = rs->getInt64(2);
      return absl::OkStatus();
    }));
    return n;
  };
  auto read_and_ingest = [&](size_t n) {
    AccountFilter filter;
    filter.account_ids.assign(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n));
    absl::StatusOr<AccountPage> page = accounts.List(filter, "", 1000);
    ASSERT_OK(page);
    ASSERT_EQ(page->accounts.size(), n);
    std::vector<Signal> signals;
    for (size_t i = 0; i < n; ++i) signals.push_back(MakeSignal(ids[i], SignalKind::kLogin, 0));
    absl::StatusOr<IngestResult> r =
        health.RecordSignals({"RecordSignals", "", ""}, codec_, signals, {}, false);
    ASSERT_OK(r);
    ASSERT_EQ(r->accepted, static_cast<int>(n));
  };
  for (size_t n = 1; n <= 20; ++n) read_and_ingest(n);
  const int64_t before = prepared();
  ASSERT_GT(before, 0);
  for (size_t n = 21; n <= 32; ++n) read_and_ingest(n);
  EXPECT_EQ(prepared() - before, 0);
  // Each account was rescored by each ingest that named it.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM account_scores WHERE account_id LIKE 'list-%'"), 32);
}

TEST_F(HealthServiceDbTest, TrackEventsMapsAnalyticsEventsThroughTheEventMap) {
  AddAccount("a1");
  EventMapping m;
  m.event_name = "Report Shared";
  m.kind = SignalKind::kFeatureUsed;
  m.feature_property = "report_type";
  ASSERT_OK(health_->SetEventMapping({"SetEventMapping", "", ""}, db::ResultCodec<EventMapping>(), m));
  TrackEvent shared;
  shared.message_id = "m1";
  shared.event = "Report Shared";
  shared.group_id = "a1";
  shared.timestamp = clock_.Now();
  shared.properties["report_type"] = std::string("pipeline");
  TrackEvent unknown = shared;
  unknown.message_id = "m2";
  unknown.event = "Page Viewed";
  absl::StatusOr<IngestResult> r = health_->TrackEvents({"TrackEvents", "", ""}, codec_,
                                                        {shared, unknown}, false);
  ASSERT_OK(r);
  EXPECT_EQ(r->acks[0].outcome, RecordOutcome::kAccepted);
  EXPECT_EQ(r->acks[1].outcome, RecordOutcome::kRejected);
  EXPECT_THAT(r->acks[1].reason, HasSubstr("events[1].event: no event mapping for 'Page Viewed'"));
  EXPECT_EQ(Stored("feature:pipeline").entries, 1);
}

TEST_F(HealthServiceDbTest, AnOverrideShowsUntilItExpiresAndIsKept) {
  AddAccount("a1");
  ASSERT_OK(Record(Many("a1", SignalKind::kLogin, 5, 0)));
  Override o;
  o.account_id = "a1";
  o.score = 80;
  o.reason = "exec sponsor re-engaged";
  o.set_by = "csm-7";
  o.expires_at = clock_.Now() + absl::Hours(24 * 7);
  ASSERT_OK(health_->SetOverride({"SetOverride", "", ""}, db::ResultCodec<Override>(), o));
  absl::StatusOr<HealthView> h = health_->GetHealth("a1", "", std::nullopt);
  ASSERT_OK(h);
  EXPECT_EQ(h->score, 80);
  EXPECT_EQ(h->band, Band::kGreen);
  EXPECT_LT(h->computed.score, 60);
  clock_.Advance(absl::Hours(24 * 8));
  EXPECT_FALSE(health_->GetHealth("a1", "", std::nullopt)->active_override.has_value());
  EXPECT_EQ(health_->ListOverrides("a1")->size(), 1u);
  o.expires_at = clock_.Now() - absl::Hours(1);
  EXPECT_THAT(health_->SetOverride({"SetOverride", "", ""}, db::ResultCodec<Override>(), o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("override.expires_at")));
  o.expires_at = clock_.Now() + absl::Hours(1);
  o.account_id = "nobody";
  EXPECT_THAT(health_->SetOverride({"SetOverride", "", ""}, db::ResultCodec<Override>(), o),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(HealthServiceDbTest, AtRiskPagesInScoreOrderAndThePortfolioCountsBands) {
  for (int i = 0; i < 7; ++i) {
    const std::string id = absl::StrCat("r", i);
    AddAccount(id, 50 + i * 300);
    ASSERT_OK(Record(Many(id, SignalKind::kLogin, i + 1, 0)));
  }
  AtRiskQuery q;
  q.limit = 3;
  std::vector<double> scores;
  for (int page = 0; page < 5; ++page) {
    absl::StatusOr<AtRiskPage> p = health_->ListAtRisk(q);
    ASSERT_OK(p);
    for (const AtRiskEntry& e : p->entries) scores.push_back(e.score);
    if (p->next_after.empty()) break;
    q.after = p->next_after;
  }
  ASSERT_EQ(scores.size(), 7u);
  EXPECT_TRUE(std::is_sorted(scores.begin(), scores.end()));
  absl::StatusOr<PortfolioSummary> s = health_->GetPortfolioSummary("", 0);
  ASSERT_OK(s);
  EXPECT_EQ(s->overall.accounts, 7);
  EXPECT_EQ(s->overall.red, 7);
  EXPECT_EQ(s->period_days, 30);
  int64_t by_tier = 0;
  for (const BandDistribution& d : s->by_tier) by_tier += d.accounts;
  EXPECT_EQ(by_tier, 7);
}

TEST_F(HealthServiceDbTest, AlertSettingsAreValidatedAndUsed) {
  AlertSettings s;
  s.usage_decline_pct = 0;
  EXPECT_THAT(health_->SetAlertSettings({"SetAlertSettings", "", ""}, db::ResultCodec<AlertSettings>(), s),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("settings.usage_decline_pct")));
  s.usage_decline_pct = 95;
  ASSERT_OK(health_->SetAlertSettings({"SetAlertSettings", "", ""}, db::ResultCodec<AlertSettings>(), s));
  EXPECT_EQ(health_->GetAlertSettings()->usage_decline_pct, 95);
  AddAccount("a1");
  std::vector<Signal> decline = Many("a1", SignalKind::kLogin, 40, 40);
  for (Signal& s : Many("a1", SignalKind::kLogin, 5, 5)) decline.push_back(s);
  ASSERT_OK(Record(decline));  // -87.5 %: under the 95 % now
  AlertQuery q;
  q.kind = AlertKind::kUsageDecline;
  EXPECT_TRUE(health_->ListAlerts(q)->alerts.empty());
}

// The EXPANSION_SIGNAL events in the log after `after`, as a consumer reads them.
std::vector<v1::Event> ExpansionEvents(db::Pool& pool, int64_t after) {
  std::vector<v1::Event> out;
  absl::StatusOr<std::vector<db::LoggedEvent>> events = db::ReadEvents(pool, after, 1000);
  EXPECT_OK(events);
  if (!events.ok()) return out;
  for (const db::LoggedEvent& e : *events) {
    if (e.kind != "EXPANSION_SIGNAL") continue;
    Event event{e.sequence, EventKindFromName(e.kind).value_or(EventKind::kUnspecified),
                e.subject_id, e.occurred_at, e.payload};
    v1::Event p;
    EXPECT_OK(EventToProto(event, &p));
    out.push_back(std::move(p));
  }
  return out;
}

class ExpansionSignalDbTest : public HealthServiceDbTest {
 protected:
  std::vector<Signal> Green(const std::string& id) {
    std::vector<Signal> good = Many(id, SignalKind::kLogin, 90, 2);
    for (int f = 0; f < 10; ++f) {
      good.push_back(MakeSignal(id, SignalKind::kFeatureUsed, 2, absl::StrCat("f", f)));
    }
    for (Signal& s : Many(id, SignalKind::kEmailClick, 12, 2)) good.push_back(s);
    good.push_back(MakeSignal(id, SignalKind::kPaymentSucceeded, 2));
    return good;
  }
};

TEST_F(ExpansionSignalDbTest, EachAcceptedInterestSignalPublishesOneEventWithTheHealthStanding) {
  AddAccount("a1", 40);    // SMB
  AddAccount("a2", 2000);  // enterprise
  const int64_t seen = *db::LastSequence(*pool_);
  std::vector<Signal> batch = Green("a1");
  Signal request = MakeSignal("a1", SignalKind::kFeatureRequest, 1, "sso");
  Signal upsell = MakeSignal("a1", SignalKind::kUpsellInterest, 1);
  upsell.value = 1;  // counting kinds take 0 or 1
  Signal referral = MakeSignal("a2", SignalKind::kReferral, 1);
  Signal integration = MakeSignal("a2", SignalKind::kIntegrationRequest, 1, "salesforce");
  // Interest signals first in the request: the events still carry the score
  // computed with the whole batch.
  batch.insert(batch.begin(), {referral, request, upsell, integration});
  absl::StatusOr<IngestResult> r = Record(batch);
  ASSERT_OK(r);
  for (const RecordAck& ack : r->acks) EXPECT_EQ(ack.reason, "");
  ASSERT_EQ(r->rejected, 0);

  absl::StatusOr<HealthView> h1 = health_->GetHealth("a1", "", std::nullopt);
  absl::StatusOr<HealthView> h2 = health_->GetHealth("a2", "", std::nullopt);
  ASSERT_OK(h1);
  ASSERT_OK(h2);
  ASSERT_EQ(h1->band, Band::kGreen);
  ASSERT_NE(h2->band, Band::kGreen);

  std::vector<v1::Event> events = ExpansionEvents(*pool_, seen);
  ASSERT_EQ(events.size(), 4u);  // logins, features, clicks and payments publish none
  std::map<std::string, v1::ExpansionSignal> by_id;
  for (const v1::Event& e : events) {
    EXPECT_EQ(e.kind(), v1::EVENT_KIND_EXPANSION_SIGNAL);
    ASSERT_TRUE(e.has_expansion_signal());
    by_id[e.expansion_signal().event_id()] = e.expansion_signal();
    EXPECT_EQ(e.account_id(), e.expansion_signal().event_id() == request.event_id ||
                                      e.expansion_signal().event_id() == upsell.event_id
                                  ? "a1"
                                  : "a2");
  }
  const v1::ExpansionSignal& req = by_id.at(request.event_id);
  EXPECT_EQ(req.signal_kind(), v1::SIGNAL_KIND_FEATURE_REQUEST);
  EXPECT_EQ(req.feature(), "sso");
  EXPECT_EQ(req.band(), v1::BAND_GREEN);
  EXPECT_DOUBLE_EQ(req.score(), h1->computed.score);
  EXPECT_EQ(req.tier(), v1::TIER_SMB);
  EXPECT_EQ(FromTimestamp(req.signal_occurred_at()), request.occurred_at);
  EXPECT_EQ(by_id.at(upsell.event_id).signal_kind(), v1::SIGNAL_KIND_UPSELL_INTEREST);
  EXPECT_EQ(by_id.at(upsell.event_id).value(), 1);
  const v1::ExpansionSignal& ref = by_id.at(referral.event_id);
  EXPECT_EQ(ref.signal_kind(), v1::SIGNAL_KIND_REFERRAL);
  EXPECT_EQ(ref.tier(), v1::TIER_ENTERPRISE);
  EXPECT_EQ(ref.band(), static_cast<v1::Band>(h2->band));
  EXPECT_DOUBLE_EQ(ref.score(), h2->computed.score);
  EXPECT_EQ(by_id.at(integration.event_id).feature(), "salesforce");

  // Sent again: every record is a duplicate and nothing more is published.
  const int64_t after_first = *db::LastSequence(*pool_);
  absl::StatusOr<IngestResult> again = Record(batch);
  ASSERT_OK(again);
  EXPECT_EQ(again->duplicates, static_cast<int>(batch.size()));
  EXPECT_TRUE(ExpansionEvents(*pool_, after_first).empty());
  // A new interest signal among duplicates publishes exactly its own event.
  Signal second = MakeSignal("a1", SignalKind::kReferral, 0);
  std::vector<Signal> mixed = {request, second, upsell};
  ASSERT_OK(Record(mixed));
  std::vector<v1::Event> more = ExpansionEvents(*pool_, after_first);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].expansion_signal().event_id(), second.event_id);
}

TEST_F(ExpansionSignalDbTest, ARefusedBatchPublishesNothingAndTrackEventsPublishesToo) {
  AddAccount("a1");
  const int64_t seen = *db::LastSequence(*pool_);
  std::vector<Signal> batch = {MakeSignal("a1", SignalKind::kUpsellInterest, 1),
                               MakeSignal("nobody", SignalKind::kReferral, 1)};
  EXPECT_THAT(Record(batch, /*atomic=*/true), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(*db::LastSequence(*pool_), seen);
  // Not atomic: the unknown account's referral is rejected and publishes nothing.
  ASSERT_OK(Record(batch));
  ASSERT_EQ(ExpansionEvents(*pool_, seen).size(), 1u);
  EXPECT_EQ(ExpansionEvents(*pool_, seen)[0].account_id(), "a1");

  EventMapping m;
  m.event_name = "Upgrade Clicked";
  m.kind = SignalKind::kUpsellInterest;
  ASSERT_OK(health_->SetEventMapping({"SetEventMapping", "", ""}, db::ResultCodec<EventMapping>(), m));
  const int64_t before_track = *db::LastSequence(*pool_);
  TrackEvent click;
  click.message_id = "m-upgrade";
  click.event = "Upgrade Clicked";
  click.group_id = "a1";
  click.timestamp = clock_.Now();
  ASSERT_OK(health_->TrackEvents({"TrackEvents", "", ""}, codec_, {click}, false));
  std::vector<v1::Event> tracked = ExpansionEvents(*pool_, before_track);
  ASSERT_EQ(tracked.size(), 1u);
  EXPECT_EQ(tracked[0].expansion_signal().event_id(), "m-upgrade");
  EXPECT_EQ(tracked[0].expansion_signal().signal_kind(), v1::SIGNAL_KIND_UPSELL_INTEREST);
  EXPECT_NE(tracked[0].expansion_signal().band(), v1::BAND_UNSPECIFIED);
  ASSERT_OK(health_->TrackEvents({"TrackEvents", "", ""}, codec_, {click}, false));
  EXPECT_EQ(ExpansionEvents(*pool_, before_track).size(), 1u);
}

TEST_F(ExpansionSignalDbTest, AnAccountWithoutAHealthScoreStillPublishesWithNoBand) {
  // Enterprise accounts get a health scorecard that reads NPS answers only, so an
  // account that has sent none has nothing to score on yet.
  Scorecard nps;
  nps.scorecard_id = "enterprise-nps";
  nps.components = {{Component::kRelationship, 100,
                     {"avg_nps", 90, Direction::kHigherIsBetter, 0, 10}}};
  nps.tiers = {Tier::kEnterprise};
  ASSERT_OK(health_->CreateScorecard({"CreateScorecard", "", ""}, db::ResultCodec<Scorecard>(), nps));
  AddAccount("big", 5000);
  const int64_t seen = *db::LastSequence(*pool_);
  ASSERT_OK(Record({MakeSignal("big", SignalKind::kReferral, 1)}));
  EXPECT_THAT(health_->GetHealth("big", "", std::nullopt), StatusIs(absl::StatusCode::kNotFound));
  std::vector<v1::Event> events = ExpansionEvents(*pool_, seen);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].expansion_signal().band(), v1::BAND_UNSPECIFIED);
  EXPECT_EQ(events[0].expansion_signal().score(), 0);
  EXPECT_EQ(events[0].expansion_signal().tier(), v1::TIER_ENTERPRISE);
}

TEST_F(ExpansionSignalDbTest, ListAccountsFiltersByHealthBandAndPages) {
  for (const char* id : {"g1", "g2", "r1", "r2", "r3"}) AddAccount(id, 40);
  AddAccount("big-red", 5000);
  AddAccount("unscored", 40);
  for (const char* id : {"g1", "g2"}) ASSERT_OK(Record(Green(id)));
  for (const char* id : {"r1", "r2", "r3", "big-red"}) {
    ASSERT_OK(Record(Many(id, SignalKind::kLogin, 2, 1)));
  }
  auto list = [&](AccountFilter filter, int page_size) {
    std::vector<std::string> ids;
    std::string after;
    for (int page = 0; page < 10; ++page) {
      absl::StatusOr<AccountPage> p = accounts_->ListAccounts(filter, after, page_size);
      EXPECT_OK(p);
      if (!p.ok()) break;
      EXPECT_LE(static_cast<int>(p->accounts.size()), page_size);
      for (const Account& a : p->accounts) ids.push_back(a.account_id);
      if (p->next_after_id.empty()) break;
      after = p->next_after_id;
    }
    return ids;
  };
  AccountFilter red;
  red.band = Band::kRed;
  EXPECT_THAT(list(red, 2), ::testing::ElementsAre("big-red", "r1", "r2", "r3"));
  AccountFilter green;
  green.band = Band::kGreen;
  EXPECT_THAT(list(green, 1), ::testing::ElementsAre("g1", "g2"));
  AccountFilter yellow;
  yellow.band = Band::kYellow;
  EXPECT_TRUE(list(yellow, 50).empty());
  red.tier = Tier::kSmb;
  EXPECT_THAT(list(red, 50), ::testing::ElementsAre("r1", "r2", "r3"));
  EXPECT_EQ(list(AccountFilter(), 3).size(), 7u);  // no band filter: unscored ones too

  v1::ListAccountsRequest bad;
  bad.set_band(static_cast<v1::Band>(9));
  EXPECT_THAT(FilterFromProto(bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("band")));
  v1::ListAccountsRequest ok;
  ok.set_band(v1::BAND_RED);
  absl::StatusOr<AccountFilter> mapped = FilterFromProto(ok);
  ASSERT_OK(mapped);
  EXPECT_EQ(mapped->band, Band::kRed);
}

}  // namespace
}  // namespace cs::health
