#ifndef CS_SERVICES_HEALTH_ACCOUNT_H_
#define CS_SERVICES_HEALTH_ACCOUNT_H_

// Domain types of accounts: plain values, no proto or SQL types.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/money.h"

namespace cs::health {

// Values match cs.health.v1.Tier.
enum class Tier { kUnspecified = 0, kEnterprise = 1, kMidMarket = 2, kSmb = 3, kSolo = 4 };
// Values match cs.health.v1.Industry.
enum class Industry {
  kUnspecified = 0,
  kHealthcare = 1,
  kFinancialServices = 2,
  kEcommerce = 3,
  kProfessionalServices = 4,
  kSaas = 5,
  kOther = 6,
};
// Values match cs.health.v1.Lifecycle.
enum class Lifecycle { kUnspecified = 0, kOnboarding = 1, kAdopting = 2, kRenewing = 3, kChurned = 4 };

struct Account {
  std::string account_id;
  std::string name;
  Tier tier = Tier::kUnspecified;
  int32_t employee_count = 0;
  Industry industry = Industry::kUnspecified;
  std::string owner_id;
  Lifecycle lifecycle = Lifecycle::kUnspecified;
  std::optional<absl::CivilDay> contract_start;
  std::optional<absl::CivilDay> renewal_date;
  Money arr;
  absl::Time created_at;
  absl::Time updated_at;
  // Increases by one with every change; the etag is its decimal form.
  int64_t version = 0;
  std::optional<absl::CivilDay> churned_on;
  std::string churn_reason;
};

struct UpsertAccountResult {
  Account account;
  bool created = false;
};

// Defined with the scorecards (scorecard.h); declared here so an account filter
// can name a band without accounts depending on scoring.
enum class Band;

// Which accounts to list; an unset member matches every account.
struct AccountFilter {
  std::optional<Tier> tier;
  std::optional<Industry> industry;
  std::string owner_id;
  std::optional<Lifecycle> lifecycle;
  // The band of the account's computed "health" score; an account without one
  // matches no band.
  std::optional<Band> band;
  // Only these accounts, when not empty (at most kMaxListedAccountIds).
  std::vector<std::string> account_ids;
};

inline constexpr size_t kMaxListedAccountIds = 1000;

struct AccountPage {
  std::vector<Account> accounts;
  // Empty when this is the last page; otherwise list after this account id.
  std::string next_after_id;
};

// DOMAIN §1: 1000+ employees enterprise, 100-999 mid-market, 10-99 SMB, under 10 solo.
Tier DeriveTier(int32_t employee_count);

// Stable names used in the database ("ENTERPRISE", "HEALTHCARE", "ONBOARDING").
absl::string_view TierName(Tier tier);
absl::string_view IndustryName(Industry industry);
absl::string_view LifecycleName(Lifecycle lifecycle);
std::optional<Tier> TierFromName(absl::string_view name);
std::optional<Industry> IndustryFromName(absl::string_view name);
std::optional<Lifecycle> LifecycleFromName(absl::string_view name);

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_ACCOUNT_H_
