#include "services/expansion/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "common/testing/status_matchers.h"

namespace cs::expansion {
namespace {

using ::cs::testing::StatusIs;
using ::testing::DoubleNear;
using ::testing::ElementsAre;

constexpr double kEps = 1e-9;

TEST(DeriveMovementsTest, ComparesEachMonthWithTheOneBefore) {
  using M = absl::CivilMonth;
  const std::map<M, int64_t> months = {
      {M(2025, 11), 100}, {M(2025, 12), 100}, {M(2026, 1), 250}, {M(2026, 2), 0}, {M(2026, 4), 90}};
  // March is missing: it counts as 0, so April is a reactivation, not an expansion.
  EXPECT_THAT(DeriveMovements(months),
              ElementsAre(DerivedMovement{M(2025, 11), MovementKind::kNew, 100},
                          DerivedMovement{M(2026, 1), MovementKind::kExpansion, 150},
                          DerivedMovement{M(2026, 2), MovementKind::kChurn, -250},
                          DerivedMovement{M(2026, 4), MovementKind::kReactivation, 90}));
  EXPECT_TRUE(DeriveMovements({}).empty());
  // Starting at 0 is not a churn; the first paid month is NEW.
  EXPECT_THAT(DeriveMovements({{M(2026, 1), 0}, {M(2026, 2), 40}, {M(2026, 3), 30}}),
              ElementsAre(DerivedMovement{M(2026, 2), MovementKind::kNew, 40},
                          DerivedMovement{M(2026, 3), MovementKind::kContraction, -10}));
}

AccountPeriod Account(const std::string& id, Tier tier, int64_t start, int64_t end) {
  AccountPeriod a;
  a.account_id = id;
  a.tier = tier;
  a.start_mrr = start;
  a.end_mrr = end;
  return a;
}

TEST(RetentionTest, ByHand) {
  // Two months. x: 1000 -> 1300 (expanded), y: 1000 -> 0 (churned), z: 2000 -> 1500,
  // w: new in the period (not in the cohort).
  std::vector<AccountPeriod> accounts = {
      Account("x", Tier::kEnterprise, 1000, 1300), Account("y", Tier::kSmb, 1000, 0),
      Account("z", Tier::kSmb, 2000, 1500), Account("w", Tier::kSmb, 0, 700)};
  accounts[0].expansion_mrr = 300;
  accounts[1].churn_mrr = 1000;
  accounts[2].contraction_mrr = 500;
  accounts[3].new_mrr = 700;
  absl::StatusOr<RetentionReport> r = ComputeRetention(accounts, 2, 0.75);
  ASSERT_OK(r);
  const RetentionFigures& f = r->overall;
  EXPECT_EQ(f.starting_mrr, 4000);
  EXPECT_EQ(f.starting_accounts, 3);
  EXPECT_THAT(*f.grr, DoubleNear((1000 + 0 + 1500) / 4000.0, kEps));  // 0.625
  EXPECT_THAT(*f.nrr, DoubleNear((1300 + 0 + 1500) / 4000.0, kEps));  // 0.7
  EXPECT_EQ(f.churned_accounts, 1);
  EXPECT_THAT(*f.logo_churn_period, DoubleNear(1.0 / 3, kEps));
  const double monthly = 1 - std::sqrt(2.0 / 3);
  EXPECT_THAT(*f.logo_churn_monthly, DoubleNear(monthly, kEps));
  EXPECT_THAT(*f.logo_churn_annual, DoubleNear(1 - std::pow(2.0 / 3, 6), kEps));
  EXPECT_THAT(*f.revenue_churn_period, DoubleNear(0.375, kEps));
  EXPECT_EQ(*f.arpa, 1333);  // 4000 / 3, rounded
  EXPECT_EQ(*f.clv, std::llround(1333 * 0.75 / monthly));
  EXPECT_EQ(r->by_tier.size(), 2u);
  EXPECT_THAT(*r->by_tier.at(Tier::kSmb).grr, DoubleNear(1500 / 3000.0, kEps));
  EXPECT_FALSE(r->by_tier.at(Tier::kEnterprise).clv.has_value());
}

TEST(RetentionTest, NoCohortHasNoRatiosAndSumsThatOverflowAreRefused) {
  absl::StatusOr<RetentionReport> empty =
      ComputeRetention({Account("w", Tier::kSmb, 0, 5)}, 1, 0.8);
  ASSERT_OK(empty);
  EXPECT_FALSE(empty->overall.grr.has_value());
  EXPECT_TRUE(empty->by_tier.empty());
  EXPECT_THAT(ComputeRetention(
                  {Account("a", Tier::kSmb, INT64_MAX, 1), Account("b", Tier::kSmb, 5, 1)}, 1, 0.8),
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(ExpansionTest, CycleAndWinRateByHand) {
  std::vector<AccountPeriod> accounts = {Account("x", Tier::kSmb, 1000, 1400),
                                         Account("n", Tier::kSmb, 0, 600)};
  accounts[0].expansion_mrr = 400;
  accounts[0].expansion_movements = 2;
  accounts[1].new_mrr = 500;
  accounts[1].expansion_mrr = 100;  // a new account that also expanded
  accounts[1].expansion_movements = 1;
  const absl::Time t0 = absl::FromUnixSeconds(1'767'225'600);
  auto closed = [&](OpportunityKind kind, bool won, int days) {
    return ClosedOpportunity{kind, won, t0, t0 + absl::Hours(24 * days)};
  };
  absl::StatusOr<ExpansionReport> r =
      ComputeExpansion(accounts, {closed(OpportunityKind::kSeatExpansion, true, 10),
                                  closed(OpportunityKind::kSeatExpansion, true, 60),
                                  closed(OpportunityKind::kSeatExpansion, false, 5),
                                  closed(OpportunityKind::kFeatureUpsell, true, 20),
                                  closed(OpportunityKind::kAddOn, false, 3)});
  ASSERT_OK(r);
  EXPECT_THAT(*r->expansion_share, DoubleNear(500.0 / 1000, kEps));  // 500 / (500 + 500)
  EXPECT_EQ(r->starting_accounts, 1);
  EXPECT_EQ(r->expanded_accounts, 1);
  EXPECT_THAT(*r->expansion_rate, DoubleNear(1.0, kEps));
  EXPECT_EQ(*r->expansion_arpu, 250);  // 500 over the two accounts that expanded
  EXPECT_EQ(r->won_opportunities, 3);
  EXPECT_THAT(*r->cycle_median_days, DoubleNear(20, kEps));  // 10, 20, 60
  EXPECT_THAT(*r->cycle_mean_days, DoubleNear(30, kEps));
  EXPECT_THAT(*r->win_rate_by_kind.at(OpportunityKind::kSeatExpansion).win_rate,
              DoubleNear(2.0 / 3, kEps));
  EXPECT_THAT(*r->win_rate_by_kind.at(OpportunityKind::kAddOn).win_rate, DoubleNear(0, kEps));
  absl::StatusOr<ExpansionReport> even = ComputeExpansion(
      {}, {closed(OpportunityKind::kAddOn, true, 10), closed(OpportunityKind::kAddOn, true, 15)});
  ASSERT_OK(even);
  EXPECT_THAT(*even->cycle_median_days, DoubleNear(12.5, kEps));
  EXPECT_FALSE(even->expansion_share.has_value());
}

TEST(PipelineTest, WeightsRoundHalfAwayFromZero) {
  EXPECT_EQ(WeightedAmount(333'333, 33), 110'000);  // 109,999.89
  EXPECT_EQ(WeightedAmount(150, 1), 2);             // 1.5
  EXPECT_EQ(WeightedAmount(kMaxAmountMinor, 100), kMaxAmountMinor);
  EXPECT_EQ(MonthlyFromAnnual(1'200'000), 100'000);
  EXPECT_EQ(MonthlyFromAnnual(18), 2);  // 1.5
}

TEST(SuggestTest, ThresholdsAreInclusiveAndKindsFollowTheTier) {
  AccountProfile p;
  p.account_id = "acme";
  p.tier = Tier::kMidMarket;
  p.seats_licensed = 100;
  p.seats_used = 89;
  p.usage_limit = 1000;
  p.usage_units = 799;
  EXPECT_TRUE(SuggestFromProfile(p, {}, {}).empty());
  p.seats_used = 90;  // exactly 90 %
  p.usage_units = 800;
  std::vector<Suggestion> s = SuggestFromProfile(p, {{OpportunityKind::kUsageExpansion, 7}}, {});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].kind, OpportunityKind::kSeatExpansion);
  EXPECT_EQ(s[0].existing_opportunity_id, 0);
  EXPECT_EQ(s[1].kind, OpportunityKind::kUsageExpansion);
  EXPECT_EQ(s[1].existing_opportunity_id, 7);
  EXPECT_THAT(s[1].evidence,
              ::testing::Contains(::testing::HasSubstr("800 of the plan limit 1000")));

  p.tier = Tier::kSmb;
  p.feature_requests = {"audit log"};
  p.integration_requests = {"slack"};
  s = SuggestFromProfile(p, {}, {});
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].kind, OpportunityKind::kPlanUpgrade);  // SMB: seats -> plan upgrade
  EXPECT_EQ(s[2].kind, OpportunityKind::kAddOn);        // feature add-on
  EXPECT_EQ(s[2].subject, "audit log");
  EXPECT_EQ(s[3].kind, OpportunityKind::kAddOn);  // integration add-on
  p.tier = Tier::kEnterprise;
  s = SuggestFromProfile(p, {}, {});
  EXPECT_EQ(s[2].kind, OpportunityKind::kCustomSolution);
  EXPECT_EQ(s[3].kind, OpportunityKind::kIntegrationExpansion);
  // No licensed seats or limit known: those rules stay silent.
  AccountProfile unknown;
  unknown.account_id = "x";
  unknown.seats_used = 50;
  unknown.usage_units = 50;
  EXPECT_TRUE(SuggestFromProfile(unknown, {}, {}).empty());
}

}  // namespace
}  // namespace cs::expansion
