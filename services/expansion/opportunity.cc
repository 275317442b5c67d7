#include "services/expansion/opportunity.h"

#include "absl/strings/str_cat.h"
#include "common/enum_names.h"
#include "common/status.h"
#include "common/validation.h"

namespace cs::expansion {
namespace {

constexpr EnumNames<Tier, 5> kTiers({{
    {Tier::kUnspecified, "UNSPECIFIED"},
    {Tier::kEnterprise, "ENTERPRISE"},
    {Tier::kMidMarket, "MID_MARKET"},
    {Tier::kSmb, "SMB"},
    {Tier::kSolo, "SOLO"},
}});

constexpr EnumNames<OpportunityKind, 10> kKinds({{
    {OpportunityKind::kUnspecified, "UNSPECIFIED"},
    {OpportunityKind::kSeatExpansion, "SEAT_EXPANSION"},
    {OpportunityKind::kFeatureUpsell, "FEATURE_UPSELL"},
    {OpportunityKind::kUsageExpansion, "USAGE_EXPANSION"},
    {OpportunityKind::kVerticalExpansion, "VERTICAL_EXPANSION"},
    {OpportunityKind::kIntegrationExpansion, "INTEGRATION_EXPANSION"},
    {OpportunityKind::kPlanUpgrade, "PLAN_UPGRADE"},
    {OpportunityKind::kAddOn, "ADD_ON"},
    {OpportunityKind::kCrossSell, "CROSS_SELL"},
    {OpportunityKind::kCustomSolution, "CUSTOM_SOLUTION"},
}});

constexpr EnumNames<OpportunitySource, 5> kSources({{
    {OpportunitySource::kUnspecified, "UNSPECIFIED"},
    {OpportunitySource::kManual, "MANUAL"},
    {OpportunitySource::kPlaybook, "PLAYBOOK"},
    {OpportunitySource::kSignalRule, "SIGNAL_RULE"},
    {OpportunitySource::kCrmImport, "CRM_IMPORT"},
}});

constexpr EnumNames<Stage, 7> kStages({{
    {Stage::kUnspecified, "UNSPECIFIED"},
    {Stage::kIdentified, "IDENTIFIED"},
    {Stage::kQualified, "QUALIFIED"},
    {Stage::kProposal, "PROPOSAL"},
    {Stage::kNegotiation, "NEGOTIATION"},
    {Stage::kClosedWon, "CLOSED_WON"},
    {Stage::kClosedLost, "CLOSED_LOST"},
}});

constexpr EnumNames<HealthBand, 5> kBands({{
    {HealthBand::kUnspecified, "UNSPECIFIED"},
    {HealthBand::kGreen, "GREEN"},
    {HealthBand::kYellow, "YELLOW"},
    {HealthBand::kRed, "RED"},
    {HealthBand::kNoScore, "NO_SCORE"},
}});

absl::Status CheckText(absl::string_view field, const std::string& value, size_t max) {
  if (value.size() > max) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": at most ", max, " characters"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view TierName(Tier t) { return kTiers.Name(t); }
std::string TierFilterName(Tier t) {
  return t == Tier::kUnspecified ? std::string() : std::string(kTiers.Name(t));
}
std::optional<Tier> TierFromName(absl::string_view n) { return kTiers.Parse(n); }
absl::string_view KindName(OpportunityKind k) { return kKinds.Name(k); }
std::optional<OpportunityKind> KindFromName(absl::string_view n) { return kKinds.Parse(n); }
absl::string_view SourceName(OpportunitySource s) { return kSources.Name(s); }
std::optional<OpportunitySource> SourceFromName(absl::string_view n) { return kSources.Parse(n); }
absl::string_view StageName(Stage s) { return kStages.Name(s); }
std::optional<Stage> StageFromName(absl::string_view n) { return kStages.Parse(n); }
absl::string_view BandName(HealthBand b) { return kBands.Name(b); }
std::optional<HealthBand> BandFromName(absl::string_view n) { return kBands.Parse(n); }

bool IsClosed(Stage s) { return s == Stage::kClosedWon || s == Stage::kClosedLost; }

absl::Status CheckStageMove(Stage from, Stage to) {
  bool legal = false;
  switch (from) {
    case Stage::kIdentified:
      legal = to == Stage::kQualified || to == Stage::kClosedLost;
      break;
    case Stage::kQualified:
      legal = to == Stage::kProposal || to == Stage::kClosedLost;
      break;
    case Stage::kProposal:
      legal = to == Stage::kNegotiation || to == Stage::kClosedLost;
      break;
    case Stage::kNegotiation:
      legal = to == Stage::kClosedWon || to == Stage::kClosedLost;
      break;
    default:
      legal = false;
  }
  if (legal) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("to_stage: cannot move from ", StageName(from), " to ", StageName(to)));
}

bool NeedsHealthGuard(Stage to) {
  return to == Stage::kProposal || to == Stage::kNegotiation || to == Stage::kClosedWon;
}

std::string EtagOf(const Opportunity& o) { return absl::StrCat(o.version); }

absl::Status ValidateOpportunityFields(const Opportunity& o) {
  if (o.kind == OpportunityKind::kUnspecified) {
    return absl::InvalidArgumentError("opportunity.kind: must be set");
  }
  RETURN_IF_ERROR(ValidateId("opportunity.owner_id", o.owner_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateMoney("opportunity.amount", o.amount, /*allow_negative=*/false));
  if (o.amount.minor_units == 0) {
    return absl::InvalidArgumentError("opportunity.amount.minor_units: must be positive");
  }
  if (o.amount.minor_units > kMaxAmountMinor) {
    return absl::InvalidArgumentError(
        absl::StrCat("opportunity.amount.minor_units: at most ", kMaxAmountMinor));
  }
  if (o.probability_percent < 0 || o.probability_percent > 100) {
    return absl::InvalidArgumentError("opportunity.probability_percent: must be in 0-100");
  }
  if (!o.expected_close_date.has_value()) {
    return absl::InvalidArgumentError("opportunity.expected_close_date: must be set");
  }
  if (o.created_at != absl::Time() &&
      *o.expected_close_date < absl::ToCivilDay(o.created_at, absl::UTCTimeZone())) {
    return absl::InvalidArgumentError(
        "opportunity.expected_close_date: must not be before the opportunity was created");
  }
  RETURN_IF_ERROR(CheckText("opportunity.title", o.title, 200));
  RETURN_IF_ERROR(CheckText("opportunity.description", o.description, 4000));
  RETURN_IF_ERROR(CheckText("opportunity.source_ref", o.source_ref, 128));
  return absl::OkStatus();
}

absl::Status ValidateNewOpportunity(const Opportunity& o, absl::CivilDay today) {
  RETURN_IF_ERROR(ValidateId("opportunity.account_id", o.account_id));
  if (o.source == OpportunitySource::kUnspecified) {
    return absl::InvalidArgumentError("opportunity.source: must be set");
  }
  RETURN_IF_ERROR(ValidateOpportunityFields(o));
  if (*o.expected_close_date < today) {
    return absl::InvalidArgumentError(
        "opportunity.expected_close_date: must not be before the creation date");
  }
  return absl::OkStatus();
}

std::optional<OpportunityField> OpportunityFieldFromPath(absl::string_view path) {
  if (path == "owner_id") return OpportunityField::kOwnerId;
  if (path == "amount") return OpportunityField::kAmount;
  if (path == "probability_percent") return OpportunityField::kProbabilityPercent;
  if (path == "expected_close_date") return OpportunityField::kExpectedCloseDate;
  if (path == "title") return OpportunityField::kTitle;
  if (path == "description") return OpportunityField::kDescription;
  if (path == "kind") return OpportunityField::kKind;
  if (path == "tier") return OpportunityField::kTier;
  if (path == "source_ref") return OpportunityField::kSourceRef;
  return std::nullopt;
}

void ApplyField(OpportunityField field, const Opportunity& from, Opportunity& to) {
  switch (field) {
    case OpportunityField::kOwnerId:
      to.owner_id = from.owner_id;
      break;
    case OpportunityField::kAmount:
      to.amount = from.amount;
      break;
    case OpportunityField::kProbabilityPercent:
      to.probability_percent = from.probability_percent;
      break;
    case OpportunityField::kExpectedCloseDate:
      to.expected_close_date = from.expected_close_date;
      break;
    case OpportunityField::kTitle:
      to.title = from.title;
      break;
    case OpportunityField::kDescription:
      to.description = from.description;
      break;
    case OpportunityField::kKind:
      to.kind = from.kind;
      break;
    case OpportunityField::kTier:
      to.tier = from.tier;
      break;
    case OpportunityField::kSourceRef:
      to.source_ref = from.source_ref;
      break;
  }
}

absl::Status ValidateStageProbabilities(const StageProbabilities& p) {
  for (int s = 1; s <= 6; ++s) {
    if (p.percent[s] < 0 || p.percent[s] > 100) {
      return absl::InvalidArgumentError(
          absl::StrCat("probabilities.", StageName(static_cast<Stage>(s)), ": must be in 0-100"));
    }
  }
  if (p.Of(Stage::kClosedWon) != 100 || p.Of(Stage::kClosedLost) != 0) {
    return absl::InvalidArgumentError("probabilities: CLOSED_WON must stay 100 and CLOSED_LOST 0");
  }
  return absl::OkStatus();
}

Quarter QuarterOf(absl::CivilDay day) {
  return {static_cast<int>(day.year()), (day.month() - 1) / 3 + 1};
}

absl::CivilDay FirstDayOf(Quarter q) { return absl::CivilDay(q.year, (q.quarter - 1) * 3 + 1, 1); }

absl::CivilDay LastDayOf(Quarter q) {
  return absl::CivilDay(absl::CivilMonth(q.year, (q.quarter - 1) * 3 + 1) + 3) - 1;
}

absl::Status ValidateProfile(const AccountProfile& p) {
  RETURN_IF_ERROR(ValidateId("profile.account_id", p.account_id));
  const std::pair<const char*, int64_t> counts[] = {{"profile.seats_licensed", p.seats_licensed},
                                                    {"profile.seats_used", p.seats_used},
                                                    {"profile.usage_units", p.usage_units},
                                                    {"profile.usage_limit", p.usage_limit}};
  for (const auto& [field, value] : counts) {
    if (value < 0) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be negative"));
  }
  RETURN_IF_ERROR(CheckText("profile.plan", p.plan, 64));
  const std::pair<const char*, const std::vector<std::string>*> lists[] = {
      {"profile.feature_requests", &p.feature_requests},
      {"profile.integration_requests", &p.integration_requests}};
  for (const auto& [field, list] : lists) {
    if (list->size() > 100) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": at most 100 entries"));
    }
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string& v = (*list)[i];
      // Stored one per line, so a line break inside one would split it in two.
      if (v.empty() || v.size() > 128 || v.find('\n') != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, "[", i, "]: 1-128 characters without line breaks"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace cs::expansion
