#include "services/health/churn_analysis.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/health/signal.h"

namespace cs::health {
namespace {

const absl::CivilDay kDay(2026, 6, 1);

Account Customer(std::optional<absl::CivilDay> churned_on = std::nullopt) {
  Account a;
  a.account_id = "a";
  a.tier = Tier::kSmb;
  a.industry = Industry::kSaas;
  a.lifecycle = churned_on ? Lifecycle::kChurned : Lifecycle::kAdopting;
  a.churned_on = churned_on;
  return a;
}

AccountHistory WithLogins(Account account, double logins, absl::CivilDay on) {
  AccountHistory h;
  h.account = std::move(account);
  h.counters = CounterWindow({{on, counter::kLogins, logins}});
  h.first_signal_day = on;
  return h;
}

TEST(OutcomeAfterTest, TheHorizonIncludesItsLastDayAndNotTheDayItself) {
  EXPECT_EQ(OutcomeAfter(Customer(), kDay, 90), Outcome::kStayed);
  EXPECT_EQ(OutcomeAfter(Customer(kDay), kDay, 90), Outcome::kAlreadyChurned);
  EXPECT_EQ(OutcomeAfter(Customer(kDay + 1), kDay, 90), Outcome::kChurned);
  EXPECT_EQ(OutcomeAfter(Customer(kDay + 90), kDay, 90), Outcome::kChurned);
  EXPECT_EQ(OutcomeAfter(Customer(kDay + 91), kDay, 90), Outcome::kStayed);
  Account undated = Customer();
  undated.lifecycle = Lifecycle::kChurned;  // churned, date unknown: cannot be placed
  EXPECT_EQ(OutcomeAfter(undated, kDay, 90), Outcome::kAlreadyChurned);
}

TEST(ChurnFeaturesTest, SumsOverTheLookbackEndingOnTheDay) {
  CounterWindow counters({{kDay - 10, counter::kLogins, 14},
                          {kDay - 40, counter::kLogins, 100},
                          {kDay - 3, counter::kTicketsOpened, 3}});
  std::vector<double> f = ChurnFeatures(counters, kDay, 28);
  ASSERT_EQ(f.size(), ChurnFeatureNames().size());
  EXPECT_DOUBLE_EQ(f[0], 14 / 4.0);       // logins_per_week over 4 weeks
  EXPECT_DOUBLE_EQ(f[4], 3 / (28 / 30.0));  // tickets_per_month
}

TEST(ChurnExampleTest, OnlyCustomersKnownAtTheCutoffAreExamples) {
  EXPECT_FALSE(ChurnExampleAt(WithLogins(Customer(kDay - 1), 5, kDay - 5), kDay, 90, 30));
  EXPECT_FALSE(ChurnExampleAt(WithLogins(Customer(), 5, kDay + 1), kDay, 90, 30));
  std::optional<ChurnExample> stayed = ChurnExampleAt(WithLogins(Customer(), 5, kDay), kDay, 90, 30);
  ASSERT_TRUE(stayed.has_value());
  EXPECT_FALSE(stayed->churned);
  std::optional<ChurnExample> churned =
      ChurnExampleAt(WithLogins(Customer(kDay + 5), 5, kDay - 2), kDay, 90, 30);
  ASSERT_TRUE(churned.has_value());
  EXPECT_TRUE(churned->churned);
}

TEST(AddToBacktestTest, ReplaysTheScorecardAndCountsWhatItLeavesOut) {
  Scorecard card;
  card.scorecard_id = "usage";
  card.components = {{Component::kProductUsage, 100,
                      {"logins_per_week", 7, Direction::kHigherIsBetter, 0, 10}}};
  card.tiers = {Tier::kSmb};
  BacktestTally tally;
  AddToBacktest(card, WithLogins(Customer(kDay + 3), 5, kDay), kDay, 90, &tally);  // 50: RED
  AddToBacktest(card, WithLogins(Customer(), 8, kDay - 6), kDay, 90, &tally);      // 80: GREEN
  AddToBacktest(card, WithLogins(Customer(), 8, kDay - 7), kDay, 90, &tally);  // out of the week: 0
  AddToBacktest(card, WithLogins(Customer(kDay), 8, kDay), kDay, 90, &tally);
  AddToBacktest(card, WithLogins(Customer(), 8, kDay + 1), kDay, 90, &tally);
  Account enterprise = Customer();
  enterprise.tier = Tier::kEnterprise;
  AddToBacktest(card, WithLogins(enterprise, 8, kDay), kDay, 90, &tally);
  ASSERT_EQ(tally.cases.size(), 3u);
  EXPECT_DOUBLE_EQ(tally.cases[0].score, 50);
  EXPECT_EQ(tally.cases[0].band, static_cast<int>(Band::kRed));
  EXPECT_TRUE(tally.cases[0].churned);
  EXPECT_DOUBLE_EQ(tally.cases[1].score, 80);
  EXPECT_EQ(tally.cases[1].band, static_cast<int>(Band::kGreen));
  EXPECT_DOUBLE_EQ(tally.cases[2].score, 0);
  EXPECT_EQ(tally.skipped_already_churned, 1);
  EXPECT_EQ(tally.skipped_no_data, 1);
  EXPECT_EQ(tally.skipped_not_covered, 1);
  BacktestSummary s = Summarize(tally);
  EXPECT_EQ(s.report.accounts, 3);
  EXPECT_EQ(s.report.churned, 1);
  // The churner (50) sits between the stayers (80 and 0): it beats one of two.
  EXPECT_DOUBLE_EQ(s.report.auc, 0.5);
}

}  // namespace
}  // namespace cs::health
