#include "services/health/first_value_mapping.h"

#include "absl/strings/str_cat.h"
#include "common/server/proto_util.h"

namespace cs::health {

void FirstValueDefinitionToProto(const FirstValueDefinition& d, v1::FirstValueDefinition* out) {
  out->set_tier(static_cast<v1::Tier>(d.tier));
  out->set_version(d.version);
  out->set_signal_kind(static_cast<v1::SignalKind>(d.signal_kind));
  out->set_feature(d.feature);
  out->set_event_name(d.event_name);
  ToTimestamp(d.updated_at, out->mutable_updated_at());
}

absl::StatusOr<FirstValueDefinition> FirstValueDefinitionFromProto(
    const v1::FirstValueDefinition& p) {
  if (!v1::Tier_IsValid(p.tier())) {
    return absl::InvalidArgumentError(absl::StrCat("definition.tier: unknown value ", p.tier()));
  }
  if (!v1::SignalKind_IsValid(p.signal_kind())) {
    return absl::InvalidArgumentError(
        absl::StrCat("definition.signal_kind: unknown value ", p.signal_kind()));
  }
  FirstValueDefinition d;
  d.tier = static_cast<Tier>(p.tier());
  d.version = p.version();
  d.signal_kind = static_cast<SignalKind>(p.signal_kind());
  d.feature = p.feature();
  d.event_name = p.event_name();
  if (p.has_updated_at()) d.updated_at = FromTimestamp(p.updated_at());
  return d;
}

FirstValueEncoders FirstValueEventEncoders() {
  FirstValueEncoders e;
  e.first_value_reached = [](const FirstValueReached& r) {
    v1::FirstValueReached p;
    p.set_tier(static_cast<v1::Tier>(r.tier));
    ToTimestamp(r.reached_at, p.mutable_reached_at());
    p.set_signal_event_id(r.signal_event_id);
    p.set_signal_kind(static_cast<v1::SignalKind>(r.signal_kind));
    p.set_feature(r.feature);
    p.set_event_name(r.event_name);
    p.set_definition_version(r.definition_version);
    return p.SerializeAsString();
  };
  e.nps_recorded = [](const NpsRecorded& n) {
    v1::NpsRecorded p;
    p.set_signal_event_id(n.signal_event_id);
    p.set_score(n.score);
    ToTimestamp(n.responded_at, p.mutable_responded_at());
    p.set_tier(static_cast<v1::Tier>(n.tier));
    return p.SerializeAsString();
  };
  return e;
}

}  // namespace cs::health
