// BacktestScorecard, TrainChurnModel and the churn probability in GetHealth,
// against the real MariaDB with cohorts whose numbers are worked out by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "services/health/health_db_fixture.h"

namespace cs::health {
namespace {

using ::cs::testing::StatusIs;
using ::testing::DoubleNear;
using ::testing::HasSubstr;

class ChurnDbTest : public HealthDbFixture {
 protected:
  absl::CivilDay Today() const { return DayOf(clock_.Now()); }
  absl::Time Noon(absl::CivilDay day) const {
    return absl::FromCivil(day, absl::UTCTimeZone()) + absl::Hours(12);
  }

  // `n` logins of the account on `day`.
  void Logins(const std::string& id, int n, absl::CivilDay day) {
    std::vector<Signal> batch;
    for (int i = 0; i < n; ++i) {
      Signal s;
      s.event_id = absl::StrCat("e", ++next_event_);
      s.account_id = id;
      s.kind = SignalKind::kLogin;
      s.occurred_at = Noon(day);
      batch.push_back(s);
    }
    absl::StatusOr<IngestResult> r = health_->RecordSignals(
        {"RecordSignals", "", ""}, db::ResultCodec<IngestResult>(), batch, {}, true);
    ASSERT_OK(r);
    ASSERT_EQ(r->accepted, n);
  }

  void Churn(const std::string& id, absl::CivilDay day) {
    ASSERT_OK(accounts_->MarkChurned({"MarkChurned", "", ""}, db::ResultCodec<Account>(), id, day,
                                     "left for a competitor"));
  }

  // Usage only: logins per week over 30 days, 0 at none and 100 at 10 a week;
  // SMB accounts only.
  static Scorecard UsageOnly() {
    Scorecard s;
    s.scorecard_id = "usage-only";
    s.components = {{Component::kProductUsage, 100,
                     {"logins_per_week", 30, Direction::kHigherIsBetter, 0, 10}}};
    s.tiers = {Tier::kSmb};
    return s;
  }

  // The backtest day D: far enough back that a churn after the horizon is in the
  // past too (MarkChurned takes no future date).
  absl::CivilDay CohortDay() const { return Today() - 120; }

  // The backtest cohort, replayed on day D with a 90-day horizon.
  // Logins on D - 5, all inside the 30-day window ending on D:
  //   60 logins = 14/week -> 100 GREEN;  30 = 7/week -> 70 YELLOW;  6 = 1.4/week -> 14 RED.
  // GREEN g1-g4 and l1 (g1 churns on D+30; l1 on D+100, after the horizon: it stayed),
  // YELLOW y1 y2 (y1 churns on D+10), RED r1 r2 r3 (r1 on D+1, r2 on D+90: the last
  // day of the horizon still counts). Left out: x1 churned on D-1, n1's first
  // signal is after D, e1 is an enterprise account the scorecard does not cover.
  void BuildBacktestCohort() {
    const absl::CivilDay d = CohortDay();
    for (const char* id : {"g1", "g2", "g3", "g4", "l1", "y1", "y2", "r1", "r2", "r3", "x1", "n1"}) {
      AddAccount(id);
    }
    AddAccount("e1", 5000);
    for (const char* id : {"g1", "g2", "g3", "g4", "l1", "e1"}) Logins(id, 60, d - 5);
    for (const char* id : {"y1", "y2"}) Logins(id, 30, d - 5);
    for (const char* id : {"r1", "r2", "r3", "x1"}) Logins(id, 6, d - 5);
    Logins("n1", 60, d + 5);
    Churn("g1", d + 30);
    Churn("l1", d + 100);
    Churn("y1", d + 10);
    Churn("r1", d + 1);
    Churn("r2", d + 90);
    Churn("x1", d - 1);
  }

  // Expects the hand-computed figures of BuildBacktestCohort on day D.
  static void ExpectCohortFigures(const BacktestReport& r) {
    EXPECT_EQ(r.accounts, 10);
    EXPECT_EQ(r.churned, 4);
    ASSERT_EQ(r.bands.size(), 3u);
    EXPECT_EQ(r.bands[0].band, static_cast<int>(Band::kGreen));
    EXPECT_EQ(r.bands[0].accounts, 5);
    EXPECT_EQ(r.bands[0].churned, 1);
    EXPECT_DOUBLE_EQ(r.bands[0].churn_rate, 0.2);
    EXPECT_EQ(r.bands[1].accounts, 2);
    EXPECT_EQ(r.bands[1].churned, 1);
    EXPECT_DOUBLE_EQ(r.bands[1].churn_rate, 0.5);
    EXPECT_EQ(r.bands[2].accounts, 3);
    EXPECT_EQ(r.bands[2].churned, 2);
    EXPECT_DOUBLE_EQ(r.bands[2].churn_rate, 2.0 / 3);
    EXPECT_THAT(r.red_over_green_lift, DoubleNear((2.0 / 3) / 0.2, 1e-12));
    // AUC over the 4 x 6 (churned, stayed) pairs, a lower score counting as the
    // better churn prediction and ties as half:
    //   GREEN churner (100): ties with 4 GREEN stayers            = 2
    //   YELLOW churner (70): below 4 GREEN, ties 1 YELLOW         = 4.5
    //   2 RED churners (14): below 4 GREEN and 1 YELLOW, tie 1 RED = 2 x 5.5
    // (2 + 4.5 + 11) / 24.
    EXPECT_THAT(r.auc, DoubleNear(17.5 / 24, 1e-12));
  }

  db::ResultCodec<StoredChurnModel> model_codec_ =
      ProtoCodec<StoredChurnModel, v1::ChurnModel>(ChurnModelToProto, ChurnModelFromProto);
  int next_event_ = 0;
};

TEST_F(ChurnDbTest, BacktestOfADraftMatchesTheHandComputedCohort) {
  BuildBacktestCohort();
  BacktestQuery q;
  q.draft = UsageOnly();
  q.as_of = {CohortDay()};
  absl::StatusOr<BacktestResult> r = health_->BacktestScorecard(q);
  ASSERT_OK(r);
  EXPECT_EQ(r->scorecard_id, "usage-only");
  EXPECT_EQ(r->scorecard_version, 0);
  EXPECT_EQ(r->horizon_days, 90);
  ASSERT_EQ(r->by_date.size(), 1u);
  EXPECT_EQ(r->by_date[0].as_of, CohortDay());
  ExpectCohortFigures(r->overall.report);
  ExpectCohortFigures(r->by_date[0].report);
  EXPECT_EQ(r->overall.skipped_already_churned, 1);
  EXPECT_EQ(r->overall.skipped_no_data, 1);
  EXPECT_EQ(r->overall.skipped_not_covered, 1);
}

TEST_F(ChurnDbTest, BacktestOfAStoredScorecardOverSeveralDays) {
  BuildBacktestCohort();
  Scorecard card = UsageOnly();
  ASSERT_OK(health_->CreateScorecard({"CreateScorecard", "", ""}, db::ResultCodec<Scorecard>(),
                                     card));
  const absl::CivilDay d = CohortDay();
  BacktestQuery q;
  q.scorecard_id = "usage-only";
  q.as_of = {d, d - 30};
  absl::StatusOr<BacktestResult> r = health_->BacktestScorecard(q);
  ASSERT_OK(r);
  EXPECT_EQ(r->scorecard_version, 1);
  ASSERT_EQ(r->by_date.size(), 2u);
  // Oldest first. On D-30 no account had a signal yet.
  EXPECT_EQ(r->by_date[0].as_of, d - 30);
  EXPECT_EQ(r->by_date[0].report.accounts, 0);
  EXPECT_TRUE(std::isnan(r->by_date[0].report.auc));
  EXPECT_EQ(r->by_date[0].skipped_no_data, 12);
  EXPECT_EQ(r->by_date[0].skipped_not_covered, 1);
  EXPECT_EQ(r->by_date[1].as_of, d);
  ExpectCohortFigures(r->by_date[1].report);
  // Together: D's accounts once each, D-30 adds none.
  ExpectCohortFigures(r->overall.report);
  EXPECT_EQ(r->overall.skipped_no_data, 13);
  EXPECT_EQ(r->overall.skipped_not_covered, 2);
  EXPECT_FALSE(r->overall.as_of.has_value());

  // On the wire, undefined figures are absent rather than NaN.
  v1::BacktestScorecardResponse p;
  BacktestResultToProto(*r, &p);
  EXPECT_TRUE(p.overall().has_auc());
  EXPECT_THAT(p.overall().auc(), DoubleNear(17.5 / 24, 1e-12));
  EXPECT_FALSE(p.overall().has_as_of());
  EXPECT_FALSE(p.by_date(0).has_auc());
  EXPECT_FALSE(p.by_date(0).has_red_over_green_lift());
  EXPECT_FALSE(p.by_date(0).bands(0).has_churn_rate());
  EXPECT_TRUE(p.by_date(1).bands(2).has_churn_rate());
  EXPECT_EQ(p.by_date(1).bands(2).band(), v1::BAND_RED);
}

TEST_F(ChurnDbTest, BacktestValidatesItsRequest) {
  const absl::CivilDay last = Today() - 90;
  BacktestQuery none;
  EXPECT_THAT(health_->BacktestScorecard(none),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("scorecard_id")));
  BacktestQuery missing;
  missing.scorecard_id = "no-such-card";
  EXPECT_THAT(health_->BacktestScorecard(missing), StatusIs(absl::StatusCode::kNotFound));
  BacktestQuery q;
  q.scorecard_id = "default";
  q.horizon_days = -1;
  EXPECT_THAT(health_->BacktestScorecard(q),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("horizon_days")));
  q.horizon_days = 731;
  EXPECT_THAT(health_->BacktestScorecard(q),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("horizon_days")));
  q.horizon_days = 0;
  q.version = -2;
  EXPECT_THAT(health_->BacktestScorecard(q),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version")));
  q.version = 0;
  q.as_of = {last - 3, last + 1};  // the outcome of the second is not known yet
  EXPECT_THAT(health_->BacktestScorecard(q),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("as_of[1]")));
  q.as_of = {last, last - 1, last};
  EXPECT_THAT(health_->BacktestScorecard(q),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("as_of[2]: appears twice")));
  q.as_of.clear();
  for (int i = 0; i < 13; ++i) q.as_of.push_back(last - i);
  EXPECT_THAT(health_->BacktestScorecard(q),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("as_of")));
  BacktestQuery draft;
  draft.draft = UsageOnly();
  draft.draft->components[0].weight = 90;
  EXPECT_THAT(health_->BacktestScorecard(draft),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("scorecard.components: weights sum to 90")));
  draft.draft = UsageOnly();
  draft.version = 2;
  EXPECT_THAT(health_->BacktestScorecard(draft),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version")));
  v1::BacktestScorecardRequest bad_date;
  bad_date.set_scorecard_id("default");
  bad_date.add_as_of();  // an unset date
  EXPECT_THAT(BacktestQueryFromProto(bad_date),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("as_of[0]")));
  // Without days: the last day whose horizon has passed, on the current version.
  BacktestQuery defaults;
  defaults.scorecard_id = "default";
  absl::StatusOr<BacktestResult> r = health_->BacktestScorecard(defaults);
  ASSERT_OK(r);
  EXPECT_EQ(r->scorecard_version, 1);
  ASSERT_EQ(r->by_date.size(), 1u);
  EXPECT_EQ(r->by_date[0].as_of, last);
  EXPECT_EQ(r->overall.report.accounts, 0);
  // A backtest writes nothing.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM scorecards"), 1);
}

// A separable cohort at the cutoff C = today - 90: six accounts that stayed had
// 40 logins in the 90 days before C, six that churned 20 days after C had 2. The
// split holds out round(0.25 x 6) = 2 of each class; any model that puts more
// logins on the side of staying ranks both held-out churners above both stayers,
// so the holdout AUC is exactly 1.
class ChurnModelDbTest : public ChurnDbTest {
 protected:
  void BuildSeparableCohort() {
    const absl::CivilDay cutoff = Today() - 90;
    for (int i = 0; i < 6; ++i) {
      const std::string stay = absl::StrCat("stay", i), gone = absl::StrCat("gone", i);
      AddAccount(stay);
      AddAccount(gone);
      Logins(stay, 40, cutoff - 10 - i);
      Logins(gone, 2, cutoff - 10 - i);
      Churn(gone, cutoff + 20);
    }
    // Live accounts whose first signal is after the cutoff: not training examples,
    // but GetHealth scores them with today's features.
    AddAccount("live-busy");
    AddAccount("live-quiet");
    Logins("live-busy", 40, Today() - 1);
    Logins("live-quiet", 1, Today() - 1);
  }

  absl::StatusOr<StoredChurnModel> Train(const std::string& request_id,
                                         TrainChurnRequest request = {}) {
    return health_->TrainChurnModel({"TrainChurnModel", request_id, "fingerprint"}, model_codec_,
                                    request);
  }
};

TEST_F(ChurnModelDbTest, NoProbabilityBeforeAModelThenOneFromTheTrainedModel) {
  BuildSeparableCohort();
  absl::StatusOr<HealthView> before = health_->GetHealth("live-quiet", "", std::nullopt);
  ASSERT_OK(before);
  EXPECT_FALSE(before->churn_probability.has_value());
  EXPECT_THAT(health_->GetChurnModel(0), StatusIs(absl::StatusCode::kNotFound));

  clock_.Advance(absl::Hours(1));  // scores computed before the model, for as_of below
  const absl::Time trained_at = clock_.Now();
  absl::StatusOr<StoredChurnModel> m = Train("train-1");
  ASSERT_OK(m);
  EXPECT_GT(m->model_id, 0);
  EXPECT_EQ(m->cutoff, Today() - 90);
  EXPECT_EQ(m->horizon_days, 90);
  EXPECT_EQ(m->lookback_days, 90);
  EXPECT_EQ(m->model.feature_names, ChurnFeatureNames());
  EXPECT_EQ(m->model.train_size, 8);
  EXPECT_EQ(m->model.holdout_size, 4);
  EXPECT_EQ(m->model.positives, 6);
  EXPECT_EQ(m->model.auc_holdout, 1.0);
  EXPECT_LT(m->model.weights[0], 0);  // logins_per_week: more use, less churn

  clock_.Advance(absl::Hours(1));
  absl::StatusOr<HealthView> busy = health_->GetHealth("live-busy", "", std::nullopt);
  absl::StatusOr<HealthView> quiet = health_->GetHealth("live-quiet", "", std::nullopt);
  ASSERT_OK(busy);
  ASSERT_OK(quiet);
  ASSERT_TRUE(busy->churn_probability.has_value());
  ASSERT_TRUE(quiet->churn_probability.has_value());
  for (double p : {*busy->churn_probability, *quiet->churn_probability}) {
    EXPECT_GE(p, 0);
    EXPECT_LE(p, 1);
  }
  EXPECT_GT(*quiet->churn_probability, *busy->churn_probability);
  // The same figure the model gives for the account's features today.
  absl::StatusOr<AccountHistory> h =
      repo_->AccountHistoryOf("live-quiet", Today() - 89, Today());
  ASSERT_OK(h);
  EXPECT_DOUBLE_EQ(*quiet->churn_probability,
                   PredictChurn(m->model, ChurnFeatures(h->counters, Today(), 90)));
  // A churned account has no prediction, and as_of before the model has none either.
  absl::StatusOr<HealthView> gone = health_->GetHealth("gone0", "", std::nullopt);
  ASSERT_OK(gone);
  EXPECT_FALSE(gone->churn_probability.has_value());
  absl::StatusOr<HealthView> earlier =
      health_->GetHealth("live-quiet", "", trained_at - absl::Seconds(1));
  ASSERT_OK(earlier);
  EXPECT_FALSE(earlier->churn_probability.has_value());

  absl::StatusOr<StoredChurnModel> read = health_->GetChurnModel(0);
  ASSERT_OK(read);
  EXPECT_EQ(read->model_id, m->model_id);
  EXPECT_EQ(read->model.auc_holdout, 1.0);
  EXPECT_EQ(read->model.weights, m->model.weights);
  EXPECT_OK(health_->GetChurnModel(m->model_id));
  EXPECT_THAT(health_->GetChurnModel(m->model_id + 10), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(health_->GetChurnModel(-1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model_id")));
}

TEST_F(ChurnModelDbTest, TrainingIsDeterministicAndARetryReplaysTheFirstAnswer) {
  BuildSeparableCohort();
  absl::StatusOr<StoredChurnModel> first = Train("train-1");
  ASSERT_OK(first);
  absl::StatusOr<StoredChurnModel> retry = Train("train-1");
  ASSERT_OK(retry);
  EXPECT_EQ(retry->model_id, first->model_id);
  EXPECT_EQ(retry->model.weights, first->model.weights);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM churn_models"), 1);
  // A new request on the same accounts and seed fits the same model.
  absl::StatusOr<StoredChurnModel> again = Train("train-2");
  ASSERT_OK(again);
  EXPECT_GT(again->model_id, first->model_id);
  EXPECT_EQ(again->model.weights, first->model.weights);
  EXPECT_EQ(again->model.bias, first->model.bias);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM churn_models"), 2);
}

TEST_F(ChurnModelDbTest, BadRequestsAndTooFewAccountsWriteNothing) {
  BuildSeparableCohort();
  TrainChurnRequest r;
  r.cutoff = Today() - 10;  // outcomes within 90 days after it are not known yet
  EXPECT_THAT(Train("", r), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cutoff")));
  r = {};
  r.horizon_days = -5;
  EXPECT_THAT(Train("", r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("horizon_days")));
  r = {};
  r.lookback_days = 400;
  EXPECT_THAT(Train("", r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lookback_days")));
  r = {};
  r.holdout_fraction = 1.5;
  EXPECT_THAT(Train("", r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holdout_fraction")));
  r.holdout_fraction = -0.1;
  EXPECT_THAT(Train("", r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holdout_fraction")));
  // 200 days back, no account had a signal yet: nothing to learn from.
  r = {};
  r.cutoff = Today() - 200;
  EXPECT_THAT(Train("", r), StatusIs(absl::StatusCode::kFailedPrecondition));
  v1::TrainChurnModelRequest bad_date;
  bad_date.mutable_cutoff()->set_year(2026);
  bad_date.mutable_cutoff()->set_month(13);
  bad_date.mutable_cutoff()->set_day(1);
  EXPECT_THAT(TrainChurnRequestFromProto(bad_date),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cutoff")));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM churn_models"), 0);
  EXPECT_FALSE(health_->GetHealth("live-quiet", "", std::nullopt)->churn_probability.has_value());
}

TEST_F(ChurnModelDbTest, OnlyChurnersIsAFailedPrecondition) {
  const absl::CivilDay cutoff = Today() - 90;
  for (int i = 0; i < 12; ++i) {
    const std::string id = absl::StrCat("gone", i);
    AddAccount(id);
    Logins(id, 1 + i, cutoff - 3);
    Churn(id, cutoff + 5);
  }
  EXPECT_THAT(health_->TrainChurnModel({"TrainChurnModel", "", ""}, model_codec_, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("both")));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM churn_models"), 0);
}

}  // namespace
}  // namespace cs::health
