// Signals, scores, alerts, scorecards and overrides against the real MariaDB.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cppconn/resultset.h>
#include <cppconn/prepared_statement.h>

#include <memory>
#include <thread>

#include "common/db/event_log.h"
#include "common/db/migrations.h"
#include "common/server/proto_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_db.h"
#include "services/health/account_service.h"
#include "services/health/health_mapping.h"
#include "services/health/health_service.h"
#include "services/health/mysql_account_repository.h"
#include "services/health/mysql_health_repository.h"
#include "services/health/proto_mapping.h"

namespace cs::health {
namespace {

using ::cs::testing::StatusIs;
using ::testing::DoubleNear;
using ::testing::HasSubstr;

class HealthServiceDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "hscores");
    pool_ = std::make_unique<db::Pool>(db_->config());
    ASSERT_OK(db::ApplyMigrations(
        *pool_, {{"common", &common_migrations()}, {"health", &health_migrations()}}));
    accounts_repo_ =
        std::make_unique<MySqlAccountRepository>(pool_.get(), &clock_, EncodeAccountEvent);
    accounts_ = std::make_unique<AccountService>(accounts_repo_.get(), &clock_);
    repo_ = std::make_unique<MySqlHealthRepository>(pool_.get(), &clock_, HealthEncoders());
    ASSERT_OK(repo_->EnsureDefaultScorecard(clock_.Now()));
    health_ = std::make_unique<HealthService>(repo_.get(), &clock_);
    upsert_codec_ = ProtoCodec<UpsertAccountResult, v1::UpsertAccountResponse>(
        UpsertResultToProto, UpsertResultFromProto);
  }

  void AddAccount(const std::string& id, int employees = 40) {
    Account a;
    a.account_id = id;
    a.name = "Name of " + id;
    a.employee_count = employees;
    a.arr = {employees * 1000LL, "USD"};
    ASSERT_OK(accounts_->UpsertAccount({"UpsertAccount", "", ""}, upsert_codec_, a));
  }

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

  int64_t Count(const std::string& sql) {
    int64_t n = -1;
    EXPECT_OK(pool_->Run([&](db::Connection& c) -> absl::Status {
      std::unique_ptr<sql::ResultSet> rs(c.Prepare(sql).executeQuery());
      if (rs->next()) n = rs->getInt64(1);
      return absl::OkStatus();
    }));
    return n;
  }

  std::unique_ptr<cs::testing::TestDatabase> db_;
  std::unique_ptr<db::Pool> pool_;
  FakeClock clock_{absl::FromUnixSeconds(1'795'000'000)};
  std::unique_ptr<MySqlAccountRepository> accounts_repo_;
  std::unique_ptr<AccountService> accounts_;
  std::unique_ptr<MySqlHealthRepository> repo_;
  std::unique_ptr<HealthService> health_;
  db::ResultCodec<UpsertAccountResult> upsert_codec_;
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
  EXPECT_EQ(Count("SELECT COUNT(*) FROM signals"), 5);
  EXPECT_EQ(Count("SELECT SUM(value) FROM signal_daily WHERE counter = 'logins'"), 5);
}

TEST_F(HealthServiceDbTest, BadRecordsAreRejectedOneByOneAndKeptAsDeadLetters) {
  AddAccount("a1");
  std::vector<Signal> batch = Many("a1", SignalKind::kLogin, 3, 1);
  batch[1].occurred_at = clock_.Now() + absl::Hours(48);
  batch[2].account_id = "nobody";
  absl::StatusOr<IngestResult> r = Record(batch);
  ASSERT_OK(r);
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
  EXPECT_EQ(Count("SELECT COUNT(*) FROM signals"), 0);
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
  EXPECT_EQ(Count("SELECT COUNT(*) FROM signals"), 0);
}

TEST_F(HealthServiceDbTest, UsageDeclineOpensAnAlertAndRecoveryResolvesIt) {
  AddAccount("a1");
  // 40 logins in the previous 30 days, 40 in this one: no decline.
  std::vector<Signal> steady = Many("a1", SignalKind::kLogin, 40, 40);
  for (Signal& s : Many("a1", SignalKind::kLogin, 40, 5)) steady.push_back(s);
  ASSERT_OK(Record(steady));
  for (const Alert& a : *repo_->OpenAlerts("a1", clock_.Now())) {
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
  q.open_only = false;
  ASSERT_EQ(health_->ListAlerts(q)->alerts.size(), 1u);
  EXPECT_TRUE(health_->ListAlerts(q)->alerts[0].resolved_at.has_value());
}

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
  for (const Alert& a : h->open_alerts) {
    if (a.kind == AlertKind::kBandWorsened) critical = a.severity == Severity::kCritical;
  }
  EXPECT_TRUE(critical);
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
  EXPECT_EQ(Count("SELECT COUNT(*) FROM signal_daily WHERE counter = 'feature:pipeline'"), 1);
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

}  // namespace
}  // namespace cs::health
