#include "services/health/portfolio_index.h"

#include <gtest/gtest.h>

namespace cs::health {
namespace {

BandPoint At(const std::string& id, int64_t at, int64_t row, Band band) {
  return {id, at, row, band};
}

TEST(PortfolioIndexTest, KeepsOnlyBandChangesAndIgnoresRowsItHolds) {
  PortfolioIndex index;
  index.AddPoint(At("a", 10, 1, Band::kGreen));
  index.AddPoint(At("a", 20, 2, Band::kGreen));  // same band: changes no lookup
  index.AddPoint(At("a", 30, 3, Band::kRed));
  index.AddPoint(At("a", 30, 3, Band::kRed));  // read twice
  index.AddPoint(At("a", 25, 9, Band::kYellow));  // committed late, earlier time
  EXPECT_EQ(index.points(), 3u);
  EXPECT_EQ(index.LastHistoryAt("a"), 30);
  EXPECT_EQ(index.LastHistoryAt("nobody"), std::nullopt);
}

TEST(PortfolioIndexTest, SummarisesBandsPerTierAndMovementsFromThePeriodStart) {
  PortfolioIndex index;
  index.Put({"g1", Tier::kSmb, false, true, 90, Band::kGreen});
  index.Put({"g2", Tier::kEnterprise, false, true, 80, Band::kGreen});
  index.Put({"r1", Tier::kSmb, false, true, 20, Band::kRed});
  index.Put({"churned", Tier::kSmb, true, true, 10, Band::kRed});
  index.Put({"unscored", Tier::kSolo, false, false, 0, Band::kUnspecified});
  // g1 was RED at 100 and GREEN from 200; r1 was GREEN at 100; g2 has history only
  // after the period start, so it counts in no movement.
  index.AddPoint(At("g1", 100, 1, Band::kRed));
  index.AddPoint(At("g1", 200, 2, Band::kGreen));
  index.AddPoint(At("r1", 100, 3, Band::kGreen));
  index.AddPoint(At("g2", 400, 4, Band::kGreen));
  index.AddPoint(At("churned", 100, 5, Band::kGreen));

  PortfolioSummary s = index.Summarize(150);
  EXPECT_EQ(s.overall.accounts, 3);
  EXPECT_EQ(s.overall.green, 2);
  EXPECT_EQ(s.overall.red, 1);
  EXPECT_DOUBLE_EQ(s.overall.average_score, (90.0 + 80 + 20) / 3);
  ASSERT_EQ(s.by_tier.size(), 4u);
  EXPECT_EQ(s.by_tier[0].tier, Tier::kEnterprise);
  EXPECT_EQ(s.by_tier[0].accounts, 1);
  EXPECT_EQ(s.by_tier[2].tier, Tier::kSmb);
  EXPECT_EQ(s.by_tier[2].accounts, 2);
  EXPECT_DOUBLE_EQ(s.by_tier[2].average_score, 55);
  EXPECT_EQ(s.by_tier[3].accounts, 0);
  // Ordered by the bands' names: GREEN->RED before RED->GREEN.
  ASSERT_EQ(s.movements.size(), 2u);
  EXPECT_EQ(s.movements[0].from, Band::kGreen);
  EXPECT_EQ(s.movements[0].to, Band::kRed);
  EXPECT_EQ(s.movements[1].from, Band::kRed);
  EXPECT_EQ(s.movements[1].to, Band::kGreen);

  // From 250 g1 was already GREEN: only r1 moved.
  EXPECT_EQ(index.Summarize(250).movements.size(), 1u);
  index.Remove("r1");
  EXPECT_EQ(index.Summarize(250).movements.size(), 0u);
  EXPECT_EQ(index.Summarize(250).overall.accounts, 2);
}

}  // namespace
}  // namespace cs::health
