#include "services/health/backtest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace cs::health {
namespace {

using ::testing::DoubleNear;

constexpr int kGreen = 1, kYellow = 2, kRed = 3;

TEST(BacktestTest, HandComputedReport) {
  const std::vector<BacktestCase> cases = {
      {90, kGreen, false}, {85, kGreen, false}, {80, kGreen, true},   {78, kGreen, false},
      {70, kYellow, false}, {65, kYellow, true}, {65, kYellow, false},
      {55, kRed, false},   {40, kRed, true},     {30, kRed, true},
  };
  const BacktestReport r = SummarizeBacktest(cases);
  EXPECT_EQ(r.accounts, 10);
  EXPECT_EQ(r.churned, 4);
  ASSERT_EQ(r.bands.size(), 3u);
  EXPECT_EQ(r.bands[0].band, kGreen);
  EXPECT_EQ(r.bands[0].accounts, 4);
  EXPECT_EQ(r.bands[0].churned, 1);
  EXPECT_EQ(r.bands[0].churn_rate, 0.25);
  EXPECT_EQ(r.bands[1].band, kYellow);
  EXPECT_EQ(r.bands[1].accounts, 3);
  EXPECT_EQ(r.bands[1].churned, 1);
  EXPECT_THAT(r.bands[1].churn_rate, DoubleNear(1.0 / 3, 1e-15));
  EXPECT_EQ(r.bands[2].band, kRed);
  EXPECT_EQ(r.bands[2].accounts, 3);
  EXPECT_EQ(r.bands[2].churned, 2);
  EXPECT_THAT(r.bands[2].churn_rate, DoubleNear(2.0 / 3, 1e-15));
  // (2/3) / (1/4)
  EXPECT_THAT(r.red_over_green_lift, DoubleNear(8.0 / 3, 1e-14));
  // Churned scores 80, 65, 40, 30 against retained 90, 85, 78, 70, 65, 55; a
  // churned account "wins" a pair when its score is lower:
  //   80: below 90 and 85                  -> 2
  //   65: below 90, 85, 78, 70; ties 65    -> 4.5
  //   40, 30: below all six                -> 6 + 6
  // 18.5 of 24 pairs = 37/48.
  EXPECT_THAT(r.auc, DoubleNear(37.0 / 48, 1e-15));
}

TEST(BacktestTest, LiftIsNaNWithoutChurnInGreen) {
  const BacktestReport r = SummarizeBacktest(
      {{90, kGreen, false}, {80, kGreen, false}, {50, kRed, true}, {40, kRed, false}});
  EXPECT_EQ(r.bands[0].churn_rate, 0);
  EXPECT_EQ(r.bands[2].churn_rate, 0.5);
  EXPECT_TRUE(std::isnan(r.red_over_green_lift));
  // The churned 50 is below the retained 90 and 80 but above 40: 2 of 3 pairs.
  EXPECT_THAT(r.auc, DoubleNear(2.0 / 3, 1e-15));
}

TEST(BacktestTest, EmptyBandsAreNaNNotZero) {
  const BacktestReport r = SummarizeBacktest({{50, kRed, true}, {45, kRed, false}});
  ASSERT_EQ(r.bands.size(), 3u);
  EXPECT_EQ(r.bands[0].accounts, 0);
  EXPECT_TRUE(std::isnan(r.bands[0].churn_rate));
  EXPECT_EQ(r.bands[1].accounts, 0);
  EXPECT_TRUE(std::isnan(r.bands[1].churn_rate));
  EXPECT_TRUE(std::isnan(r.red_over_green_lift));
  EXPECT_EQ(r.auc, 0.0);  // the churned account scored higher: the score got it backwards
}

TEST(BacktestTest, NoCasesAndUnknownBands) {
  const BacktestReport empty = SummarizeBacktest({});
  EXPECT_EQ(empty.accounts, 0);
  EXPECT_EQ(empty.bands.size(), 3u);
  EXPECT_TRUE(std::isnan(empty.auc));
  EXPECT_TRUE(std::isnan(empty.red_over_green_lift));

  const BacktestReport r = SummarizeBacktest({{20, 0, true}, {90, kGreen, false}});
  EXPECT_EQ(r.accounts, 2);  // the unbanded case still counts...
  EXPECT_EQ(r.churned, 1);
  EXPECT_EQ(r.auc, 1.0);
  // ...but in no band.
  EXPECT_EQ(r.bands[0].accounts + r.bands[1].accounts + r.bands[2].accounts, 1);
}

}  // namespace
}  // namespace cs::health
