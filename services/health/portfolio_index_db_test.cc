// The in-memory portfolio (PortfolioTracker) against the SQL it replaces, on the
// real MariaDB, through every way the rows it reads change: another replica's
// ingest, churn, a tier change, history written straight into the database, a
// history row that commits after a later one, a new account, and time passing.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "services/health/health_db_fixture.h"

namespace cs::health {
namespace {

using ::testing::DoubleNear;

class PortfolioIndexDbTest : public HealthDbFixture {
 protected:
  void SetUp() override {
    HealthDbFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    indexed_ = std::make_unique<HealthService>(repo_.get(), &clock_);
    indexed_->EnablePortfolioIndex();
  }

  static constexpr char kUpsertScore[] =
      "INSERT INTO account_scores (account_id, score_name, scorecard_id, scorecard_version,"
      " score, band, components, computed_at, published_score)"
      " VALUES (?, 'health', 'default', 1, ?, ?, '', ?, ?)"
      " ON DUPLICATE KEY UPDATE score = VALUES(score), band = VALUES(band),"
      " computed_at = VALUES(computed_at), published_score = VALUES(published_score)";
  static constexpr char kInsertHistory[] =
      "INSERT INTO score_history (account_id, score_name, computed_at, scorecard_id,"
      " scorecard_version, score, band, components) VALUES (?, 'health', ?, 'default', 1, ?, ?, '')";

  // A score written straight into the tables, as no service would: no event.
  static void WriteScore(db::Connection& c, const std::string& id, double score,
                         const std::string& band, absl::Time at) {
    const std::string when = db::ToSqlDatetime(at);
    auto& upsert = c.Prepare(kUpsertScore);
    upsert.setString(1, id);
    upsert.setDouble(2, score);
    upsert.setString(3, band);
    upsert.setString(4, when);
    upsert.setDouble(5, score);
    upsert.executeUpdate();
    auto& history = c.Prepare(kInsertHistory);
    history.setString(1, id);
    history.setString(2, when);
    history.setDouble(3, score);
    history.setString(4, band);
    history.executeUpdate();
  }
  void SetScore(const std::string& id, double score, const std::string& band, absl::Time at) {
    ASSERT_OK(pool_->Run([&](db::Connection& c) -> absl::Status {
      WriteScore(c, id, score, band, at);
      return absl::OkStatus();
    }));
  }

  // The indexed answer equals the database's for several periods.
  void ExpectSameAsDatabase(const std::string& step) {
    SCOPED_TRACE(step);
    for (int days : {1, 30, 60, 365}) {
      SCOPED_TRACE(absl::StrCat(days, " days"));
      absl::StatusOr<PortfolioSummary> fast = indexed_->GetPortfolioSummary("", days);
      absl::StatusOr<PortfolioSummary> sql =
          repo_->Portfolio("health", clock_.Now() - absl::Hours(24) * days);
      ASSERT_OK(fast);
      ASSERT_OK(sql);
      auto same = [](const BandDistribution& a, const BandDistribution& b) {
        EXPECT_EQ(a.tier, b.tier);
        EXPECT_EQ(a.accounts, b.accounts);
        EXPECT_EQ(a.green, b.green);
        EXPECT_EQ(a.yellow, b.yellow);
        EXPECT_EQ(a.red, b.red);
        EXPECT_THAT(a.average_score, DoubleNear(b.average_score, 1e-9));
      };
      same(fast->overall, sql->overall);
      ASSERT_EQ(fast->by_tier.size(), sql->by_tier.size());
      for (size_t i = 0; i < sql->by_tier.size(); ++i) same(fast->by_tier[i], sql->by_tier[i]);
      ASSERT_EQ(fast->movements.size(), sql->movements.size());
      for (size_t i = 0; i < sql->movements.size(); ++i) {
        EXPECT_EQ(fast->movements[i].from, sql->movements[i].from);
        EXPECT_EQ(fast->movements[i].to, sql->movements[i].to);
        EXPECT_EQ(fast->movements[i].accounts, sql->movements[i].accounts);
      }
    }
  }

  std::unique_ptr<HealthService> indexed_;
};

TEST_F(PortfolioIndexDbTest, SummaryFromMemoryEqualsTheDatabaseThroughEveryChange) {
  const absl::Time now = clock_.Now();
  const char* bands[] = {"GREEN", "YELLOW", "RED"};
  // Tiers by employees: 5 solo, 40 SMB, 300 mid-market, 3000 enterprise.
  const int employees[] = {5, 40, 300, 3000};
  for (int i = 0; i < 12; ++i) {
    const std::string id = absl::StrCat("p", i);
    AddAccount(id, employees[i % 4]);
    // A history before every period, one inside the longer ones, and a current score.
    SetScore(id, 40 + i, bands[i % 3], now - absl::Hours(24 * 400));
    SetScore(id, 50 + i, bands[(i / 2) % 3], now - absl::Hours(24 * 45));
    SetScore(id, 60 + i * 2.5, bands[(i / 3) % 3], now - absl::Hours(12));
  }
  ExpectSameAsDatabase("built");
  const PortfolioTracker::Stats built = indexed_->portfolio_tracker()->stats("health");
  EXPECT_EQ(built.builds, 1);
  EXPECT_EQ(built.accounts, 12u);
  EXPECT_GT(built.points, 12u);

  // Another replica (health_) ingests: scores and bands move with events.
  db::ResultCodec<IngestResult> codec;
  std::vector<Signal> signals;
  for (int n = 0; n < 30; ++n) {
    Signal s;
    s.event_id = absl::StrCat("login-", n);
    s.account_id = n % 2 == 0 ? "p0" : "p4";
    s.kind = SignalKind::kLogin;
    s.occurred_at = now - absl::Hours(n);
    signals.push_back(s);
  }
  ASSERT_OK(health_->RecordSignals({"RecordSignals", "", ""}, codec, signals, {}, false));
  ExpectSameAsDatabase("ingest on another replica");

  ASSERT_OK(accounts_->MarkChurned({"MarkChurned", "", ""}, db::ResultCodec<Account>(), "p1",
                                   absl::ToCivilDay(now, absl::UTCTimeZone()),
                                   "went elsewhere"));
  ExpectSameAsDatabase("churned");

  AddAccount("p2", 3000);  // SMB -> enterprise
  ExpectSameAsDatabase("tier changed");

  SetScore("p3", 12.5, "RED", now);  // no event: found by the history tail
  ExpectSameAsDatabase("written straight into the tables");

  // A history row whose id is taken before a later row's but commits after it.
  {
    absl::StatusOr<db::Pool::Lease> slow = pool_->Acquire();
    ASSERT_OK(slow);
    (*slow)->Execute("START TRANSACTION");
    WriteScore(**slow, "p5", 97, "GREEN", now);
    SetScore("p6", 31, "RED", now);
    ExpectSameAsDatabase("a later row committed first");
    (*slow)->Execute("COMMIT");
  }
  ExpectSameAsDatabase("the earlier row committed");

  AddAccount("p12", 300);
  SetScore("p12", 88, "GREEN", now);
  ExpectSameAsDatabase("a new account");

  clock_.Advance(absl::Hours(24 * 20));
  ExpectSameAsDatabase("twenty days later");

  const PortfolioTracker::Stats after = indexed_->portfolio_tracker()->stats("health");
  EXPECT_EQ(after.builds, 1) << "every change was applied account by account";
  EXPECT_GE(after.refreshed_accounts, 8);
  EXPECT_EQ(after.accounts, 13u);
}

TEST_F(PortfolioIndexDbTest, ASkippedTailRebuildsAndScoreNamesPastTheLimitUseTheDatabase) {
  AddAccount("q1", 40);
  SetScore("q1", 70, "YELLOW", clock_.Now() - absl::Hours(1));
  ExpectSameAsDatabase("built");
  indexed_->portfolio_tracker()->MarkAllDirty();
  SetScore("q1", 90, "GREEN", clock_.Now());
  ExpectSameAsDatabase("rebuilt");
  EXPECT_EQ(indexed_->portfolio_tracker()->stats("health").builds, 2);

  for (int i = 0; i < static_cast<int>(PortfolioTracker::kMaxScoreNames) + 2; ++i) {
    EXPECT_OK(indexed_->GetPortfolioSummary(absl::StrCat("name", i), 30));
  }
  EXPECT_EQ(indexed_->portfolio_tracker()->stats("name9").builds, 0) << "answered by SQL";
}

TEST_F(PortfolioIndexDbTest, AWarmBuildServesTheFirstSummaryAndAStoppedOneKeepsNothing) {
  for (int i = 0; i < 6; ++i) {
    const std::string id = absl::StrCat("w", i);
    AddAccount(id, 40);
    SetScore(id, 30 + i * 10, i < 2 ? "RED" : "GREEN", clock_.Now() - absl::Hours(24 * 3));
  }
  PortfolioTracker* tracker = indexed_->portfolio_tracker();
  ASSERT_OK(tracker->Warm("health"));
  EXPECT_EQ(tracker->stats("health").builds, 1);
  EXPECT_EQ(tracker->stats("health").accounts, 6u);
  ExpectSameAsDatabase("after the warm build");
  EXPECT_EQ(tracker->stats("health").builds, 1) << "the first summary used the warm index";

  // Shutdown before or during a warm build: nothing is kept, and a summary (which
  // is not stopped) still builds and answers.
  HealthService other(repo_.get(), &clock_);
  other.EnablePortfolioIndex();
  other.portfolio_tracker()->Stop();
  EXPECT_TRUE(absl::IsCancelled(other.portfolio_tracker()->Warm("health")));
  EXPECT_EQ(other.portfolio_tracker()->stats("health").builds, 0);
  EXPECT_EQ(other.portfolio_tracker()->stats("health").accounts, 0u);
  absl::StatusOr<PortfolioSummary> answered = other.GetPortfolioSummary("", 30);
  ASSERT_OK(answered);
  EXPECT_EQ(answered->overall.accounts, 6);
}

TEST_F(PortfolioIndexDbTest, AScanEndsWhenItsVisitorSaysStop) {
  for (int i = 0; i < 5; ++i) {
    const std::string id = absl::StrCat("s", i);
    AddAccount(id, 40);
    SetScore(id, 50, "YELLOW", clock_.Now() - absl::Hours(24 * 2));
    SetScore(id, 80, "GREEN", clock_.Now() - absl::Hours(1));
  }
  int accounts = 0;
  EXPECT_TRUE(absl::IsCancelled(repo_->ScanPortfolioAccounts(
      "health", nullptr, [&](PortfolioAccount&&) { return ++accounts < 2; })));
  EXPECT_EQ(accounts, 2);
  int points = 0;
  EXPECT_TRUE(absl::IsCancelled(repo_->ScanBandPoints(
      "health", nullptr, 0, /*with_earlier=*/true, [&](BandPoint&&) { return ++points < 3; })));
  EXPECT_EQ(points, 3);
  // The same scans to the end.
  accounts = 0;
  ASSERT_OK(repo_->ScanPortfolioAccounts("health", nullptr, [&](PortfolioAccount&&) {
    ++accounts;
    return true;
  }));
  EXPECT_EQ(accounts, 5);
}

}  // namespace
}  // namespace cs::health
