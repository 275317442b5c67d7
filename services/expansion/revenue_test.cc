#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "services/expansion/proto_mapping.h"
#include "services/expansion/revenue.h"

namespace cs::expansion {
namespace {

using ::cs::testing::StatusIs;
using ::testing::HasSubstr;

RevenueMovement Expansion(int64_t amount) {
  RevenueMovement m;
  m.account_id = "acme";
  m.month = absl::CivilMonth(2026, 10);
  m.kind = MovementKind::kExpansion;
  m.mrr_change = {amount, "USD"};
  return m;
}

TEST(ValidateMovementTest, SignFollowsTheKind) {
  EXPECT_OK(ValidateMovement(Expansion(50'000)));
  EXPECT_THAT(ValidateMovement(Expansion(-50'000)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("movement.mrr_change.minor_units")));
  RevenueMovement churn = Expansion(-20'000);
  churn.kind = MovementKind::kChurn;
  EXPECT_OK(ValidateMovement(churn));
  churn.mrr_change.minor_units = 20'000;
  EXPECT_THAT(ValidateMovement(churn), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateMovement(Expansion(0)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ValidateMovementTest, NamesTheFieldAtFault) {
  RevenueMovement m = Expansion(1);
  m.kind = MovementKind::kUnspecified;
  EXPECT_THAT(ValidateMovement(m),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("movement.kind")));
  m = Expansion(1);
  m.account_id = "";
  EXPECT_THAT(ValidateMovement(m),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("movement.account_id")));
  m = Expansion(1);
  m.mrr_change.currency_code = "XYZ";
  EXPECT_THAT(ValidateMovement(m), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("movement.mrr_change.currency_code")));
}

TEST(MovementMappingTest, MonthIgnoresTheDayAndUnknownKindsAreRefused) {
  cs::expansion::v1::RevenueMovement p;
  p.set_account_id("acme");
  p.mutable_month()->set_year(2026);
  p.mutable_month()->set_month(2);
  p.mutable_month()->set_day(31);  // ignored: a month has no day
  p.set_kind(cs::expansion::v1::MOVEMENT_KIND_NEW);
  p.mutable_mrr_change()->set_minor_units(100);
  p.mutable_mrr_change()->set_currency_code("EUR");
  absl::StatusOr<RevenueMovement> m = MovementFromProto(p);
  ASSERT_OK(m);
  EXPECT_EQ(m->month, absl::CivilMonth(2026, 2));
  p.set_kind(static_cast<cs::expansion::v1::MovementKind>(17));
  EXPECT_THAT(MovementFromProto(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("movement.kind")));
  p.set_kind(cs::expansion::v1::MOVEMENT_KIND_NEW);
  p.clear_month();
  EXPECT_THAT(MovementFromProto(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("movement.month")));
}

}  // namespace
}  // namespace cs::expansion
