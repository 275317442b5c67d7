#include "services/health/account.h"

#include <array>
#include <utility>

namespace cs::health {
namespace {

constexpr std::array<std::pair<Tier, absl::string_view>, 5> kTiers = {{
    {Tier::kUnspecified, "UNSPECIFIED"},
    {Tier::kEnterprise, "ENTERPRISE"},
    {Tier::kMidMarket, "MID_MARKET"},
    {Tier::kSmb, "SMB"},
    {Tier::kSolo, "SOLO"},
}};
constexpr std::array<std::pair<Industry, absl::string_view>, 7> kIndustries = {{
    {Industry::kUnspecified, "UNSPECIFIED"},
    {Industry::kHealthcare, "HEALTHCARE"},
    {Industry::kFinancialServices, "FINANCIAL_SERVICES"},
    {Industry::kEcommerce, "ECOMMERCE"},
    {Industry::kProfessionalServices, "PROFESSIONAL_SERVICES"},
    {Industry::kSaas, "SAAS"},
    {Industry::kOther, "OTHER"},
}};
constexpr std::array<std::pair<Lifecycle, absl::string_view>, 5> kLifecycles = {{
    {Lifecycle::kUnspecified, "UNSPECIFIED"},
    {Lifecycle::kOnboarding, "ONBOARDING"},
    {Lifecycle::kAdopting, "ADOPTING"},
    {Lifecycle::kRenewing, "RENEWING"},
    {Lifecycle::kChurned, "CHURNED"},
}};

template <typename E, size_t N>
absl::string_view NameOf(const std::array<std::pair<E, absl::string_view>, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "UNSPECIFIED";
}

template <typename E, size_t N>
std::optional<E> ValueOf(const std::array<std::pair<E, absl::string_view>, N>& table,
                         absl::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

}  // namespace

Tier DeriveTier(int32_t employee_count) {
  if (employee_count >= 1000) return Tier::kEnterprise;
  if (employee_count >= 100) return Tier::kMidMarket;
  if (employee_count >= 10) return Tier::kSmb;
  return Tier::kSolo;
}

absl::string_view TierName(Tier tier) { return NameOf(kTiers, tier); }
absl::string_view IndustryName(Industry industry) { return NameOf(kIndustries, industry); }
absl::string_view LifecycleName(Lifecycle lifecycle) { return NameOf(kLifecycles, lifecycle); }
std::optional<Tier> TierFromName(absl::string_view name) { return ValueOf(kTiers, name); }
std::optional<Industry> IndustryFromName(absl::string_view name) {
  return ValueOf(kIndustries, name);
}
std::optional<Lifecycle> LifecycleFromName(absl::string_view name) {
  return ValueOf(kLifecycles, name);
}

}  // namespace cs::health
