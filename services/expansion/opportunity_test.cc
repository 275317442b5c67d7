#include "services/expansion/opportunity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "common/testing/status_matchers.h"

namespace cs::expansion {
namespace {

using ::cs::testing::StatusIs;
using ::testing::HasSubstr;

constexpr Stage kAll[] = {Stage::kUnspecified, Stage::kIdentified,  Stage::kQualified,
                          Stage::kProposal,    Stage::kNegotiation, Stage::kClosedWon,
                          Stage::kClosedLost};

TEST(StageMachineTest, OnlyTheListedMovesAreLegal) {
  const std::set<std::pair<Stage, Stage>> legal = {
      {Stage::kIdentified, Stage::kQualified},  {Stage::kQualified, Stage::kProposal},
      {Stage::kProposal, Stage::kNegotiation},  {Stage::kNegotiation, Stage::kClosedWon},
      {Stage::kIdentified, Stage::kClosedLost}, {Stage::kQualified, Stage::kClosedLost},
      {Stage::kProposal, Stage::kClosedLost},   {Stage::kNegotiation, Stage::kClosedLost}};
  for (Stage from : kAll) {
    for (Stage to : kAll) {
      absl::Status s = CheckStageMove(from, to);
      if (legal.count({from, to}) > 0) {
        EXPECT_OK(s) << StageName(from) << " -> " << StageName(to);
      } else {
        EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(StageName(to))))
            << StageName(from) << " -> " << StageName(to);
      }
    }
  }
}

TEST(StageMachineTest, OnlyMovesPastQualifiedAskHealth) {
  EXPECT_FALSE(NeedsHealthGuard(Stage::kQualified));
  EXPECT_FALSE(NeedsHealthGuard(Stage::kClosedLost));
  EXPECT_TRUE(NeedsHealthGuard(Stage::kProposal));
  EXPECT_TRUE(NeedsHealthGuard(Stage::kNegotiation));
  EXPECT_TRUE(NeedsHealthGuard(Stage::kClosedWon));
}

Opportunity Valid() {
  Opportunity o;
  o.account_id = "acme";
  o.kind = OpportunityKind::kAddOn;
  o.amount = {120'000, "USD"};
  o.expected_close_date = absl::CivilDay(2026, 6, 30);
  o.source = OpportunitySource::kCrmImport;
  return o;
}

TEST(ValidateOpportunityTest, NamesTheField) {
  const absl::CivilDay today(2026, 1, 5);
  EXPECT_OK(ValidateNewOpportunity(Valid(), today));
  Opportunity o = Valid();
  o.amount.minor_units = 0;
  EXPECT_THAT(
      ValidateNewOpportunity(o, today),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("opportunity.amount.minor_units")));
  o = Valid();
  o.amount.minor_units = kMaxAmountMinor + 1;
  EXPECT_THAT(
      ValidateNewOpportunity(o, today),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("opportunity.amount.minor_units")));
  o = Valid();
  o.probability_percent = 101;
  EXPECT_THAT(ValidateNewOpportunity(o, today),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("probability_percent")));
  o = Valid();
  o.expected_close_date = absl::CivilDay(2026, 1, 4);
  EXPECT_THAT(ValidateNewOpportunity(o, today),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected_close_date")));
  o.expected_close_date = today;  // closing the day it is opened is fine
  EXPECT_OK(ValidateNewOpportunity(o, today));
  o = Valid();
  o.title = std::string(201, 'x');
  EXPECT_THAT(ValidateNewOpportunity(o, today),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("opportunity.title")));
}

TEST(ValidateOpportunityTest, AnUpdateMayNotMoveTheCloseBeforeCreation) {
  Opportunity o = Valid();
  o.created_at = absl::FromCivil(absl::CivilSecond(2026, 3, 1, 10, 0, 0), absl::UTCTimeZone());
  o.expected_close_date = absl::CivilDay(2026, 2, 28);
  EXPECT_THAT(ValidateOpportunityFields(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected_close_date")));
  o.expected_close_date = absl::CivilDay(2026, 3, 1);
  EXPECT_OK(ValidateOpportunityFields(o));
}

TEST(FieldMaskTest, KnownPathsOnlyAndApplyCopiesOneField) {
  EXPECT_EQ(OpportunityFieldFromPath("amount"), OpportunityField::kAmount);
  EXPECT_FALSE(OpportunityFieldFromPath("stage").has_value());
  EXPECT_FALSE(OpportunityFieldFromPath("account_id").has_value());
  Opportunity from = Valid(), to = Valid();
  from.owner_id = "csm-2";
  from.title = "t";
  ApplyField(OpportunityField::kOwnerId, from, to);
  EXPECT_EQ(to.owner_id, "csm-2");
  EXPECT_EQ(to.title, "");
}

TEST(StageProbabilitiesTest, DefaultsAndLimits) {
  StageProbabilities p;
  EXPECT_EQ(p.Of(Stage::kIdentified), 10);
  EXPECT_EQ(p.Of(Stage::kQualified), 25);
  EXPECT_EQ(p.Of(Stage::kProposal), 50);
  EXPECT_EQ(p.Of(Stage::kNegotiation), 75);
  EXPECT_OK(ValidateStageProbabilities(p));
  p.percent[static_cast<int>(Stage::kProposal)] = 101;
  EXPECT_THAT(ValidateStageProbabilities(p), StatusIs(absl::StatusCode::kInvalidArgument));
  p = StageProbabilities();
  p.percent[static_cast<int>(Stage::kClosedLost)] = 5;
  EXPECT_THAT(ValidateStageProbabilities(p), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(QuarterTest, Bounds) {
  EXPECT_EQ(QuarterOf(absl::CivilDay(2026, 3, 31)), (Quarter{2026, 1}));
  EXPECT_EQ(QuarterOf(absl::CivilDay(2026, 4, 1)), (Quarter{2026, 2}));
  EXPECT_EQ(QuarterOf(absl::CivilDay(2026, 12, 31)), (Quarter{2026, 4}));
  EXPECT_EQ(FirstDayOf({2026, 3}), absl::CivilDay(2026, 7, 1));
  EXPECT_EQ(LastDayOf({2026, 4}), absl::CivilDay(2026, 12, 31));
  EXPECT_EQ(LastDayOf({2024, 1}), absl::CivilDay(2024, 3, 31));
}

TEST(ProfileTest, RequestsMayNotHoldLineBreaks) {
  AccountProfile p;
  p.account_id = "acme";
  p.feature_requests = {"sso"};
  EXPECT_OK(ValidateProfile(p));
  p.feature_requests = {"sso\nscim"};
  EXPECT_THAT(ValidateProfile(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("profile.feature_requests[0]")));
  p.feature_requests.clear();
  p.seats_used = -1;
  EXPECT_THAT(ValidateProfile(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("profile.seats_used")));
}

}  // namespace
}  // namespace cs::expansion
