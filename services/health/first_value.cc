#include "services/health/first_value.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/validation.h"

namespace cs::health {

bool MatchesFirstValue(const FirstValueDefinition& definition, const Signal& signal,
                       absl::string_view event_name) {
  if (signal.kind != definition.signal_kind) return false;
  if (!definition.feature.empty() && signal.feature != definition.feature) return false;
  if (!definition.event_name.empty() && event_name != definition.event_name) return false;
  return true;
}

absl::Status ValidateFirstValueDefinition(const FirstValueDefinition& d) {
  if (d.tier == Tier::kUnspecified || TierName(d.tier).empty()) {
    return absl::InvalidArgumentError("definition.tier: required (a known tier)");
  }
  if (d.signal_kind == SignalKind::kUnspecified ||
      !IsKnownSignalKind(static_cast<int>(d.signal_kind))) {
    return absl::InvalidArgumentError("definition.signal_kind: required (a known signal kind)");
  }
  if (d.feature.size() > 64) {
    return absl::InvalidArgumentError("definition.feature: longer than 64 characters");
  }
  if (d.event_name.size() > 128) {
    return absl::InvalidArgumentError("definition.event_name: longer than 128 characters");
  }
  if (d.version < 0) return absl::InvalidArgumentError("definition.version: must not be negative");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FirstValueDefinition>> FirstValueService::GetDefinitions() {
  return repository_->CurrentDefinitions();
}

absl::StatusOr<FirstValueDefinition> FirstValueService::SetDefinition(
    const db::WriteKey& key, const db::ResultCodec<FirstValueDefinition>& codec,
    const FirstValueDefinition& definition) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateFirstValueDefinition(definition));
  return repository_->SetDefinition(key, codec, definition, clock_->Now());
}

}  // namespace cs::health
