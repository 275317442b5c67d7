#include "common/money.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace cs {
namespace {

using ::cs::testing::StatusIs;

TEST(MoneyTest, KnowsIsoCodes) {
  EXPECT_TRUE(IsIsoCurrency("USD"));
  EXPECT_TRUE(IsIsoCurrency("EUR"));
  EXPECT_TRUE(IsIsoCurrency("AED"));
  EXPECT_TRUE(IsIsoCurrency("ZWG"));
  EXPECT_FALSE(IsIsoCurrency("usd"));
  EXPECT_FALSE(IsIsoCurrency("XXX"));
  EXPECT_FALSE(IsIsoCurrency("US"));
  EXPECT_FALSE(IsIsoCurrency("SD "));
}

TEST(MoneyTest, ValidationNamesTheField) {
  EXPECT_OK(ValidateMoney("arr", {100, "USD"}, false));
  EXPECT_THAT(ValidateMoney("arr", {-1, "USD"}, false),
              StatusIs(absl::StatusCode::kInvalidArgument, "arr.minor_units: must not be negative"));
  EXPECT_OK(ValidateMoney("mrr_change", {-1, "USD"}, true));
  EXPECT_THAT(ValidateMoney("arr", {1, "ABC"}, false),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("arr.currency_code")));
}

}  // namespace
}  // namespace cs
