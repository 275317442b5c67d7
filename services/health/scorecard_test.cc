#include "services/health/scorecard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "services/health/packed_rows.h"
#include "services/health/scoring.h"

namespace cs::health {
namespace {

using ::cs::testing::StatusIs;
using ::testing::DoubleNear;
using ::testing::HasSubstr;

std::map<std::string, double> HealthyishAccount() {
  return {{"logins_per_week", 10},               // 50 of 100
          {"distinct_features_used", 8},        // 80
          {"tickets_per_month", 2},              // lower is better: 80
          {"on_time_payment_ratio", 1.0},        // 100
          {"engagement_events_per_month", 5},    // 50
          {"expansion_signals", 3}}; // 100
}

TEST(ScorecardTest, DefaultFollowsTheDomainWeights) {
  const Scorecard s = DefaultScorecard();
  EXPECT_OK(ValidateScorecard(s));
  std::map<Component, int> weights;
  for (const auto& c : s.components) weights[c.component] = c.weight;
  EXPECT_EQ(weights[Component::kProductUsage], 25);
  EXPECT_EQ(weights[Component::kFeatureAdoption], 20);
  EXPECT_EQ(weights[Component::kSupport], 15);
  EXPECT_EQ(weights[Component::kPaymentHistory], 15);
  EXPECT_EQ(weights[Component::kEngagement], 15);
  EXPECT_EQ(weights[Component::kExpansionInterest], 10);
}

TEST(ScorecardTest, HandComputedScore) {
  // 0.25*50 + 0.20*80 + 0.15*80 + 0.15*100 + 0.15*50 + 0.10*100
  //   = 12.5 + 16 + 12 + 15 + 7.5 + 10 = 73 -> YELLOW (60-75)
  absl::StatusOr<Score> score = ComputeScore(DefaultScorecard(), HealthyishAccount());
  ASSERT_OK(score);
  EXPECT_THAT(score->value, DoubleNear(73.0, 1e-9));
  EXPECT_EQ(score->band, Band::kYellow);
  ASSERT_EQ(score->components.size(), 6u);
  EXPECT_THAT(score->components[0].normalized, DoubleNear(50, 1e-9));
  EXPECT_THAT(score->components[0].contribution, DoubleNear(12.5, 1e-9));
  EXPECT_THAT(score->components[2].normalized, DoubleNear(80, 1e-9));  // 2 tickets
  EXPECT_THAT(score->components[2].contribution, DoubleNear(12, 1e-9));
}

TEST(ScorecardTest, MissingComponentHandsItsWeightToTheOthers) {
  std::map<std::string, double> raw = HealthyishAccount();
  raw.erase("expansion_signals");
  // (73 - 10) points over 90 % of the weight -> 63 / 0.9 = 70
  absl::StatusOr<Score> score = ComputeScore(DefaultScorecard(), raw);
  ASSERT_OK(score);
  EXPECT_THAT(score->value, DoubleNear(70.0, 1e-9));
  EXPECT_TRUE(score->components[5].missing);
  EXPECT_EQ(score->components[5].contribution, 0);
  EXPECT_THAT(ComputeScore(DefaultScorecard(), {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ScorecardTest, NormalisationClampsAndHonoursDirection) {
  const MeasureSpec up{"m", 30, Direction::kHigherIsBetter, 0, 20};
  EXPECT_EQ(Normalize(up, -5), 0);
  EXPECT_EQ(Normalize(up, 5), 25);
  EXPECT_EQ(Normalize(up, 500), 100);
  const MeasureSpec down{"m", 30, Direction::kLowerIsBetter, 10, 0};
  EXPECT_EQ(Normalize(down, 0), 100);
  EXPECT_EQ(Normalize(down, 7.5), 25);
  EXPECT_EQ(Normalize(down, 12), 0);
}

TEST(ScorecardTest, BandBoundariesFollowTheDomain) {
  const BandThresholds b;
  EXPECT_EQ(BandFor(100, b), Band::kGreen);
  EXPECT_EQ(BandFor(75.01, b), Band::kGreen);
  EXPECT_EQ(BandFor(75, b), Band::kYellow);
  EXPECT_EQ(BandFor(60, b), Band::kYellow);
  EXPECT_EQ(BandFor(59.99, b), Band::kRed);
  EXPECT_EQ(BandFor(0, b), Band::kRed);
}

TEST(ScorecardTest, ValidationNamesTheField) {
  Scorecard s = DefaultScorecard();
  s.components[1].weight = 25;  // sums to 105
  EXPECT_THAT(ValidateScorecard(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("weights sum to 105")));
  s = DefaultScorecard();
  s.components[3].weight = 0;
  EXPECT_THAT(ValidateScorecard(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("scorecard.components[3].weight")));
  s = DefaultScorecard();
  s.components[2].component = Component::kProductUsage;
  EXPECT_THAT(ValidateScorecard(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("appears twice")));
  s = DefaultScorecard();
  s.components[2].measure.direction = Direction::kHigherIsBetter;  // but 10 -> 0
  EXPECT_THAT(ValidateScorecard(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("components[2].measure.hundred_at")));
  s = DefaultScorecard();
  s.components[0].measure.lookback_days = 0;
  EXPECT_THAT(ValidateScorecard(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("lookback_days")));
  s = DefaultScorecard();
  s.bands = {50, 70};
  EXPECT_THAT(ValidateScorecard(s),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("scorecard.bands")));
  s = DefaultScorecard();
  s.components.clear();
  EXPECT_THAT(ValidateScorecard(s), StatusIs(absl::StatusCode::kInvalidArgument));
}

// A rescore reads the current scores' components as their stored text and compares
// it with the new score's encoding: the same text is an unchanged score (a day row,
// not a change), any other is a change, and a change carries its text to be written.
TEST(RescoreTest, ComparesStoredComponentsAsText) {
  Account account;
  account.account_id = "acme";
  account.tier = Tier::kSmb;
  const absl::Time now = absl::FromUnixSeconds(1'780'000'000);
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  CounterWindow counters;
  for (int d = 0; d < 28; d += 2) counters.Add(today - d, "logins", 3);
  counters.Seal();
  const std::vector<Scorecard> scorecards = {DefaultScorecard()};
  const AlertSettings settings;
  RescoreInput in;
  in.account = &account;
  in.counters = &counters;
  in.scorecards = &scorecards;
  in.settings = &settings;
  in.now = now;
  const RescoreOutput first = Rescore(in);
  ASSERT_EQ(first.scores.size(), 1u);
  EXPECT_FALSE(first.scores[0].encoded_components.has_value()) << "nothing stored to compare";

  // Stored as written: the components as text only, as the rescore reads them.
  StoredScore stored = first.scores[0];
  stored.encoded_components = EncodeComponents(stored.components);
  stored.components.clear();
  in.current = {{kDefaultScoreName, stored}};
  RescoreOutput again = Rescore(in);
  ASSERT_EQ(again.scores.size(), 1u);
  EXPECT_FALSE(again.changed[0]);
  EXPECT_EQ(again.scores[0].encoded_components, stored.encoded_components);

  // One raw value different in the stored text: a change, whose text is the new one.
  std::string other = *stored.encoded_components;
  const size_t bar = other.find('|', other.find('|', other.find('|') + 1) + 1);
  other.insert(bar + 1, "1");
  ASSERT_OK(DecodeComponents(other).status());
  stored.encoded_components = other;
  in.current = {{kDefaultScoreName, stored}};
  again = Rescore(in);
  ASSERT_EQ(again.scores.size(), 1u);
  EXPECT_TRUE(again.changed[0]);
  EXPECT_EQ(again.scores[0].encoded_components, EncodeComponents(again.scores[0].components));
}

}  // namespace
}  // namespace cs::health
