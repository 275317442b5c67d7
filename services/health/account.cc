#include "services/health/account.h"

#include "common/enum_names.h"

namespace cs::health {
namespace {

constexpr EnumNames<Tier, 5> kTiers({{
    {Tier::kUnspecified, "UNSPECIFIED"},
    {Tier::kEnterprise, "ENTERPRISE"},
    {Tier::kMidMarket, "MID_MARKET"},
    {Tier::kSmb, "SMB"},
    {Tier::kSolo, "SOLO"},
}});
constexpr EnumNames<Industry, 7> kIndustries({{
    {Industry::kUnspecified, "UNSPECIFIED"},
    {Industry::kHealthcare, "HEALTHCARE"},
    {Industry::kFinancialServices, "FINANCIAL_SERVICES"},
    {Industry::kEcommerce, "ECOMMERCE"},
    {Industry::kProfessionalServices, "PROFESSIONAL_SERVICES"},
    {Industry::kSaas, "SAAS"},
    {Industry::kOther, "OTHER"},
}});
constexpr EnumNames<Lifecycle, 5> kLifecycles({{
    {Lifecycle::kUnspecified, "UNSPECIFIED"},
    {Lifecycle::kOnboarding, "ONBOARDING"},
    {Lifecycle::kAdopting, "ADOPTING"},
    {Lifecycle::kRenewing, "RENEWING"},
    {Lifecycle::kChurned, "CHURNED"},
}});

}  // namespace

Tier DeriveTier(int32_t employee_count) {
  if (employee_count >= 1000) return Tier::kEnterprise;
  if (employee_count >= 100) return Tier::kMidMarket;
  if (employee_count >= 10) return Tier::kSmb;
  return Tier::kSolo;
}

absl::string_view TierName(Tier tier) { return kTiers.Name(tier); }
absl::string_view IndustryName(Industry industry) { return kIndustries.Name(industry); }
absl::string_view LifecycleName(Lifecycle lifecycle) { return kLifecycles.Name(lifecycle); }
std::optional<Tier> TierFromName(absl::string_view name) { return kTiers.Parse(name); }
std::optional<Industry> IndustryFromName(absl::string_view name) {
  return kIndustries.Parse(name);
}
std::optional<Lifecycle> LifecycleFromName(absl::string_view name) {
  return kLifecycles.Parse(name);
}

}  // namespace cs::health
