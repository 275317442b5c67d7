#include "services/expansion/revenue.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/enum_names.h"
#include "common/status.h"
#include "common/validation.h"

namespace cs::expansion {
namespace {

constexpr EnumNames<MovementKind, 6> kKinds({{
    {MovementKind::kUnspecified, "UNSPECIFIED"},
    {MovementKind::kNew, "NEW"},
    {MovementKind::kExpansion, "EXPANSION"},
    {MovementKind::kContraction, "CONTRACTION"},
    {MovementKind::kChurn, "CHURN"},
    {MovementKind::kReactivation, "REACTIVATION"},
}});

constexpr EnumNames<MovementSource, 4> kSources({{
    {MovementSource::kUnspecified, "UNSPECIFIED"},
    {MovementSource::kManual, "MANUAL"},
    {MovementSource::kSubscriptionImport, "SUBSCRIPTION_IMPORT"},
    {MovementSource::kOpportunity, "OPPORTUNITY"},
}});

}  // namespace

absl::string_view MovementSourceName(MovementSource source) { return kSources.Name(source); }

std::optional<MovementSource> MovementSourceFromName(absl::string_view name) {
  return kSources.Parse(name);
}

absl::string_view MovementKindName(MovementKind kind) { return kKinds.Name(kind); }

std::optional<MovementKind> MovementKindFromName(absl::string_view name) {
  return kKinds.Parse(name);
}

absl::Status ValidateMovement(const RevenueMovement& m) {
  RETURN_IF_ERROR(ValidateId("movement.account_id", m.account_id));
  if (m.kind == MovementKind::kUnspecified) {
    return absl::InvalidArgumentError("movement.kind: must be set");
  }
  if (m.month < absl::CivilMonth(1970, 1) || m.month > absl::CivilMonth(9999, 12)) {
    return absl::InvalidArgumentError("movement.month: must be set");
  }
  RETURN_IF_ERROR(ValidateMoney("movement.mrr_change", m.mrr_change, /*allow_negative=*/true));
  const int64_t amount = m.mrr_change.minor_units;
  if (amount > kMaxMovementMinor || amount < -kMaxMovementMinor) {
    return absl::InvalidArgumentError(
        absl::StrCat("movement.mrr_change.minor_units: must be within +/-", kMaxMovementMinor));
  }
  if (amount == 0) {
    return absl::InvalidArgumentError("movement.mrr_change.minor_units: must not be zero");
  }
  const bool raises = m.kind == MovementKind::kNew || m.kind == MovementKind::kExpansion ||
                      m.kind == MovementKind::kReactivation;
  if (raises && amount < 0) {
    return absl::InvalidArgumentError(
        "movement.mrr_change.minor_units: must be positive for NEW, EXPANSION and REACTIVATION");
  }
  if (!raises && amount > 0) {
    return absl::InvalidArgumentError(
        "movement.mrr_change.minor_units: must be negative for CONTRACTION and CHURN");
  }
  return absl::OkStatus();
}

absl::Status ValidateImport(const std::vector<SubscriptionMonth>& rows) {
  if (rows.empty()) return absl::InvalidArgumentError("subscriptions: must not be empty");
  if (rows.size() > kMaxImportRows) {
    return absl::InvalidArgumentError(
        absl::StrCat("subscriptions: at most ", kMaxImportRows, " rows per import"));
  }
  std::set<std::pair<std::string, absl::CivilMonth>> seen;
  std::map<std::string, std::string> currency;
  for (size_t i = 0; i < rows.size(); ++i) {
    const SubscriptionMonth& r = rows[i];
    const std::string at = absl::StrCat("subscriptions[", i, "]");
    RETURN_IF_ERROR(ValidateId(absl::StrCat(at, ".account_id"), r.account_id));
    if (r.month < absl::CivilMonth(1970, 1) || r.month > absl::CivilMonth(9999, 12)) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".month: must be set"));
    }
    RETURN_IF_ERROR(ValidateMoney(absl::StrCat(at, ".mrr"), r.mrr, /*allow_negative=*/false));
    if (r.mrr.minor_units > kMaxMovementMinor) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, ".mrr.minor_units: at most ", kMaxMovementMinor));
    }
    if (r.tier < 0 || r.tier > 4) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".tier: unknown value ", r.tier));
    }
    if (!seen.insert({r.account_id, r.month}).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, ": account '", r.account_id, "' has this month twice"));
    }
    auto [it, inserted] = currency.emplace(r.account_id, r.mrr.currency_code);
    if (!inserted && it->second != r.mrr.currency_code) {
      return absl::InvalidArgumentError(absl::StrCat(
          at, ".mrr.currency_code: account '", r.account_id, "' is imported in ", it->second));
    }
  }
  return absl::OkStatus();
}

}  // namespace cs::expansion
