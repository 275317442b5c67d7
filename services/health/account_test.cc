#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "services/health/account.h"
#include "services/health/account_service.h"
#include "services/health/proto_mapping.h"

namespace cs::health {
namespace {

using ::cs::testing::StatusIs;
using ::testing::HasSubstr;

TEST(DeriveTierTest, FollowsTheEmployeeBands) {
  EXPECT_EQ(DeriveTier(0), Tier::kSolo);
  EXPECT_EQ(DeriveTier(9), Tier::kSolo);
  EXPECT_EQ(DeriveTier(10), Tier::kSmb);
  EXPECT_EQ(DeriveTier(99), Tier::kSmb);
  EXPECT_EQ(DeriveTier(100), Tier::kMidMarket);
  EXPECT_EQ(DeriveTier(999), Tier::kMidMarket);
  EXPECT_EQ(DeriveTier(1000), Tier::kEnterprise);
  EXPECT_EQ(DeriveTier(250000), Tier::kEnterprise);
}

TEST(AccountNamesTest, RoundTrip) {
  for (Tier t : {Tier::kEnterprise, Tier::kMidMarket, Tier::kSmb, Tier::kSolo}) {
    EXPECT_EQ(TierFromName(TierName(t)), t);
  }
  EXPECT_EQ(IndustryFromName(IndustryName(Industry::kFinancialServices)),
            Industry::kFinancialServices);
  EXPECT_EQ(LifecycleFromName("CHURNED"), Lifecycle::kChurned);
  EXPECT_EQ(TierFromName("GIANT"), std::nullopt);
}

Account Valid() {
  Account a;
  a.account_id = "001Dn00000Abc";
  a.name = "Acme";
  a.employee_count = 120;
  a.arr = {1'200'000, "USD"};
  return a;
}

TEST(ValidateAccountTest, AcceptsAValidAccount) { EXPECT_OK(ValidateAccount(Valid())); }

TEST(ValidateAccountTest, NamesTheFieldAtFault) {
  Account a = Valid();
  a.account_id = "";
  EXPECT_THAT(ValidateAccount(a), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("account.account_id")));
  a = Valid();
  a.account_id = "has space";
  EXPECT_THAT(ValidateAccount(a), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("account.account_id")));
  a = Valid();
  a.name = "";
  EXPECT_THAT(ValidateAccount(a),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("account.name")));
  a = Valid();
  a.employee_count = -5;
  EXPECT_THAT(ValidateAccount(a), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("account.employee_count")));
  a = Valid();
  a.arr = {-1, "USD"};
  EXPECT_THAT(ValidateAccount(a),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("account.arr.minor_units")));
  a = Valid();
  a.arr = {100, "DOLLARS"};
  EXPECT_THAT(ValidateAccount(a), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("account.arr.currency_code")));
  a = Valid();
  a.contract_start = absl::CivilDay(2026, 6, 1);
  a.renewal_date = absl::CivilDay(2026, 5, 1);
  EXPECT_THAT(ValidateAccount(a), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("account.renewal_date")));
}

TEST(AccountMappingTest, RefusesUnknownEnumsAndImpossibleDates) {
  cs::health::v1::Account p;
  p.set_account_id("a1");
  p.set_name("Acme");
  p.set_tier(static_cast<cs::health::v1::Tier>(42));
  EXPECT_THAT(AccountFromProto(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("account.tier")));
  p.set_tier(cs::health::v1::TIER_SMB);
  p.set_industry(static_cast<cs::health::v1::Industry>(-3));
  EXPECT_THAT(AccountFromProto(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("account.industry")));
  p.set_industry(cs::health::v1::INDUSTRY_SAAS);
  p.mutable_renewal_date()->set_year(2026);
  p.mutable_renewal_date()->set_month(2);
  p.mutable_renewal_date()->set_day(30);
  EXPECT_THAT(AccountFromProto(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("account.renewal_date")));
  p.mutable_renewal_date()->set_day(28);
  absl::StatusOr<Account> a = AccountFromProto(p);
  ASSERT_OK(a);
  EXPECT_EQ(a->renewal_date, absl::CivilDay(2026, 2, 28));
  EXPECT_EQ(a->tier, Tier::kSmb);
}

TEST(AccountMappingTest, ListFilterTreatsZeroAsAnyAndRefusesUnknownValues) {
  cs::health::v1::ListAccountsRequest req;
  absl::StatusOr<AccountFilter> f = FilterFromProto(req);
  ASSERT_OK(f);
  EXPECT_FALSE(f->tier.has_value());
  EXPECT_FALSE(f->lifecycle.has_value());
  req.set_tier(cs::health::v1::TIER_SOLO);
  f = FilterFromProto(req);
  ASSERT_OK(f);
  EXPECT_EQ(f->tier, Tier::kSolo);
  req.set_lifecycle(static_cast<cs::health::v1::Lifecycle>(77));
  EXPECT_THAT(FilterFromProto(req),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lifecycle")));
}

}  // namespace
}  // namespace cs::health
