#include "services/health/health_mapping.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/server/common_mapping.h"
#include "common/server/proto_util.h"
#include "services/health/first_value_mapping.h"
#include "common/status.h"
#include "services/health/proto_mapping.h"

namespace cs::health {

namespace {

// The domain enum with the same number as a proto enum value; INVALID_ARGUMENT
// naming `field` for a number the proto does not define.
template <typename Domain>
absl::StatusOr<Domain> EnumFromProto(absl::string_view field, int number, bool (*is_valid)(int)) {
  if (!is_valid(number)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": unknown value ", number));
  }
  return static_cast<Domain>(number);
}

// The record as received, for the dead-letter list; empty if it cannot be printed.
std::string JsonOf(const google::protobuf::Message& record) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(record, &json, options).ok()) return "";
  return json;
}

// Pages over ids, newest first: the token holds the decimal id to continue below.
absl::StatusOr<int64_t> BeforeIdFromPage(const cs::common::v1::PageRequest& page) {
  if (page.page_token().empty()) return 0;
  ASSIGN_OR_RETURN(std::string position, DecodePageToken(page.page_token()));
  int64_t before_id = 0;
  if (!absl::SimpleAtoi(position, &before_id) || before_id <= 0) {
    return absl::InvalidArgumentError("page.page_token: not a token returned by this list");
  }
  return before_id;
}

void SetNextBeforeId(int64_t next_before_id, cs::common::v1::PageResponse* out) {
  if (next_before_id != 0) out->set_next_page_token(EncodePageToken(absl::StrCat(next_before_id)));
}

// A call's answer: the acks' strings are taken, not copied.
template <typename Response>
void IngestResultToResponse(IngestResult&& r, Response* out) {
  out->mutable_acks()->Reserve(static_cast<int>(r.acks.size()));
  for (RecordAck& ack : r.acks) {
    v1::RecordAck* p = out->add_acks();
    p->set_index(ack.index);
    p->set_event_id(std::move(ack.event_id));
    p->set_outcome(static_cast<v1::RecordOutcome>(ack.outcome));
    p->set_reason(std::move(ack.reason));
  }
  out->set_accepted(r.accepted);
  out->set_duplicates(r.duplicates);
  out->set_rejected(r.rejected);
}

void ComponentScoreToProto(const ComponentScore& c, v1::ComponentScore* out) {
  out->set_component(static_cast<v1::Component>(c.component));
  out->set_measure(c.measure);
  out->set_raw(c.raw);
  out->set_normalized(c.normalized);
  out->set_contribution(c.contribution);
  out->set_weight(c.weight);
  out->set_missing(c.missing);
}

double Share(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

absl::StatusOr<absl::Time> RequiredTimeFromProto(absl::string_view field, bool present,
                                                 const google::protobuf::Timestamp& ts) {
  if (!present) return absl::InvalidArgumentError(absl::StrCat(field, ": must be set"));
  return FromTimestamp(ts);
}

std::optional<absl::Time> OptionalTimeFromProto(bool present,
                                                const google::protobuf::Timestamp& ts) {
  if (!present) return std::nullopt;
  return FromTimestamp(ts);
}

// ---------------------------------------------------------------------------
// Ingest

Signal SignalFromProto(const v1::Signal& p) {
  Signal s;
  s.event_id = p.event_id();
  s.account_id = p.account_id();
  s.kind = static_cast<SignalKind>(p.kind());
  s.occurred_at = FromTimestamp(p.occurred_at());
  s.value = p.value();
  s.feature = p.feature();
  s.csat = p.csat();
  return s;
}

std::vector<Signal> SignalsFromProto(const v1::RecordSignalsRequest& p) {
  std::vector<Signal> signals;
  signals.reserve(p.signals_size());
  for (const v1::Signal& s : p.signals()) signals.push_back(SignalFromProto(s));
  return signals;
}

RecordPrinter SignalPrinter(const v1::RecordSignalsRequest& p) {
  return [&p](int i) { return i >= 0 && i < p.signals_size() ? JsonOf(p.signals(i)) : ""; };
}

RecordPrinter TrackEventPrinter(const v1::TrackEventsRequest& p) {
  return [&p](int i) { return i >= 0 && i < p.events_size() ? JsonOf(p.events(i)) : ""; };
}

TrackEvent TrackEventFromProto(const v1::TrackEvent& p) {
  TrackEvent e;
  e.message_id = p.message_id();
  e.event = p.event();
  e.user_id = p.user_id();
  e.group_id = p.group_id();
  e.timestamp = FromTimestamp(p.timestamp());
  for (const auto& [name, value] : p.properties().fields()) {
    switch (value.kind_case()) {
      case google::protobuf::Value::kNumberValue:
        e.properties.emplace(name, value.number_value());
        break;
      case google::protobuf::Value::kStringValue:
        e.properties.emplace(name, value.string_value());
        break;
      case google::protobuf::Value::kBoolValue:
        e.properties.emplace(name, value.bool_value());
        break;
      default:  // null, list and struct properties mean nothing to a mapping
        break;
    }
  }
  return e;
}

std::vector<TrackEvent> TrackEventsFromProto(const v1::TrackEventsRequest& p) {
  std::vector<TrackEvent> events;
  events.reserve(p.events_size());
  for (const v1::TrackEvent& e : p.events()) events.push_back(TrackEventFromProto(e));
  return events;
}

void MoveIngestResultToProto(IngestResult&& r, v1::RecordSignalsResponse* out) {
  IngestResultToResponse(std::move(r), out);
}

void MoveIngestResultToProto(IngestResult&& r, v1::TrackEventsResponse* out) {
  IngestResultToResponse(std::move(r), out);
}

void IngestResultToStored(const IngestResult& r, v1::RecordSignalsResponse* out) {
  for (const RecordAck& ack : r.acks) {
    if (ack.outcome == RecordOutcome::kAccepted && ack.reason.empty()) continue;
    v1::RecordAck* p = out->add_acks();
    p->set_index(ack.index);
    p->set_outcome(static_cast<v1::RecordOutcome>(ack.outcome));
    p->set_reason(ack.reason);
  }
  out->set_accepted(r.accepted);
  out->set_duplicates(r.duplicates);
  out->set_rejected(r.rejected);
}

absl::StatusOr<IngestResult> IngestResultFromProto(const v1::RecordSignalsResponse& p) {
  IngestResult r;
  // A stored answer leaves out the acks of accepted records (IngestResultToStored):
  // every record the acks present do not name was accepted.
  const int64_t records = static_cast<int64_t>(p.accepted()) + p.duplicates() + p.rejected();
  const bool compact = p.acks_size() < records;
  if (compact) r.acks.reserve(static_cast<size_t>(records));
  const auto accepted_until = [&](int64_t index) {
    while (static_cast<int64_t>(r.acks.size()) < index) {
      RecordAck& ack = r.acks.emplace_back();
      ack.index = static_cast<int>(r.acks.size() - 1);
      ack.outcome = RecordOutcome::kAccepted;
    }
  };
  for (int i = 0; i < p.acks_size(); ++i) {
    const v1::RecordAck& a = p.acks(i);
    if (compact) {
      if (a.index() < static_cast<int64_t>(r.acks.size()) || a.index() >= records) {
        return absl::InternalError("stored response is corrupt: acks out of order");
      }
      accepted_until(a.index());
    }
    RecordAck ack;
    ack.index = a.index();
    ack.event_id = a.event_id();
    ASSIGN_OR_RETURN(ack.outcome,
                     EnumFromProto<RecordOutcome>(absl::StrCat("acks[", i, "].outcome"),
                                                  a.outcome(), v1::RecordOutcome_IsValid));
    ack.reason = a.reason();
    r.acks.push_back(std::move(ack));
  }
  if (compact) accepted_until(records);
  r.accepted = p.accepted();
  r.duplicates = p.duplicates();
  r.rejected = p.rejected();
  return r;
}

void EventMappingToProto(const EventMapping& m, v1::EventMapping* out) {
  out->set_event_name(m.event_name);
  out->set_kind(static_cast<v1::SignalKind>(m.kind));
  out->set_value_property(m.value_property);
  out->set_feature_property(m.feature_property);
  ToTimestamp(m.updated_at, out->mutable_updated_at());
}

absl::StatusOr<EventMapping> EventMappingFromProto(const v1::EventMapping& p) {
  EventMapping m;
  m.event_name = p.event_name();
  ASSIGN_OR_RETURN(m.kind,
                   EnumFromProto<SignalKind>("mapping.kind", p.kind(), v1::SignalKind_IsValid));
  m.value_property = p.value_property();
  m.feature_property = p.feature_property();
  m.updated_at = FromTimestamp(p.updated_at());
  return m;
}

absl::StatusOr<RejectedQuery> RejectedQueryFromProto(const v1::ListRejectedRecordsRequest& p) {
  RejectedQuery q;
  q.source = p.source();
  q.account_id = p.account_id();
  ASSIGN_OR_RETURN(q.limit, PageSize(p.page()));
  ASSIGN_OR_RETURN(q.before_id, BeforeIdFromPage(p.page()));
  return q;
}

void RejectedRecordToProto(const RejectedRecord& r, v1::RejectedRecord* out) {
  out->set_id(r.id);
  out->set_source(r.source);
  out->set_event_id(r.event_id);
  out->set_account_id(r.account_id);
  out->set_reason(r.reason);
  ToTimestamp(r.received_at, out->mutable_received_at());
  out->set_record_json(r.record_json);
}

void RejectedPageToProto(const RejectedPage& page, v1::ListRejectedRecordsResponse* out) {
  for (const RejectedRecord& r : page.records) RejectedRecordToProto(r, out->add_records());
  SetNextBeforeId(page.next_before_id, out->mutable_page());
}

// ---------------------------------------------------------------------------
// Scorecards

void ScorecardToProto(const Scorecard& s, v1::Scorecard* out) {
  out->set_scorecard_id(s.scorecard_id);
  out->set_score_name(s.score_name);
  out->set_version(s.version);
  out->set_description(s.description);
  for (const ComponentSpec& c : s.components) {
    v1::ScorecardComponent* p = out->add_components();
    p->set_component(static_cast<v1::Component>(c.component));
    p->set_weight(c.weight);
    v1::MeasureSpec* m = p->mutable_measure();
    m->set_measure(c.measure.measure);
    m->set_lookback_days(c.measure.lookback_days);
    m->set_direction(static_cast<v1::Direction>(c.measure.direction));
    m->set_zero_at(c.measure.zero_at);
    m->set_hundred_at(c.measure.hundred_at);
  }
  out->mutable_bands()->set_green_above(s.bands.green_above);
  out->mutable_bands()->set_red_below(s.bands.red_below);
  for (Tier t : s.tiers) out->add_tiers(static_cast<v1::Tier>(t));
  for (Industry i : s.industries) out->add_industries(static_cast<v1::Industry>(i));
  ToTimestamp(s.updated_at, out->mutable_updated_at());
}

absl::StatusOr<Scorecard> ScorecardFromProto(const v1::Scorecard& p) {
  Scorecard s;
  s.scorecard_id = p.scorecard_id();
  if (!p.score_name().empty()) s.score_name = p.score_name();
  s.version = p.version();
  s.description = p.description();
  for (int i = 0; i < p.components_size(); ++i) {
    const v1::ScorecardComponent& pc = p.components(i);
    const std::string field = absl::StrCat("scorecard.components[", i, "]");
    ComponentSpec c;
    ASSIGN_OR_RETURN(c.component, EnumFromProto<Component>(field + ".component", pc.component(),
                                                           v1::Component_IsValid));
    c.weight = pc.weight();
    c.measure.measure = pc.measure().measure();
    c.measure.lookback_days = pc.measure().lookback_days();
    ASSIGN_OR_RETURN(c.measure.direction,
                     EnumFromProto<Direction>(field + ".measure.direction",
                                              pc.measure().direction(), v1::Direction_IsValid));
    c.measure.zero_at = pc.measure().zero_at();
    c.measure.hundred_at = pc.measure().hundred_at();
    s.components.push_back(std::move(c));
  }
  if (p.has_bands()) {
    s.bands.green_above = p.bands().green_above();
    s.bands.red_below = p.bands().red_below();
  }
  for (int i = 0; i < p.tiers_size(); ++i) {
    ASSIGN_OR_RETURN(Tier t, EnumFromProto<Tier>(absl::StrCat("scorecard.tiers[", i, "]"),
                                                 p.tiers(i), v1::Tier_IsValid));
    s.tiers.push_back(t);
  }
  for (int i = 0; i < p.industries_size(); ++i) {
    ASSIGN_OR_RETURN(Industry industry,
                     EnumFromProto<Industry>(absl::StrCat("scorecard.industries[", i, "]"),
                                             p.industries(i), v1::Industry_IsValid));
    s.industries.push_back(industry);
  }
  s.updated_at = FromTimestamp(p.updated_at());
  return s;
}

// ---------------------------------------------------------------------------
// Scores

void HealthToProto(const HealthView& view, v1::Health* out) {
  const StoredScore& computed = view.computed;
  out->set_account_id(computed.account_id);
  out->set_score_name(computed.score_name);
  out->set_score(view.score);
  out->set_band(static_cast<v1::Band>(view.band));
  out->set_computed_score(computed.score);
  for (const ComponentScore& c : computed.components) {
    ComponentScoreToProto(c, out->add_components());
  }
  v1::Trend* trend = out->mutable_trend();
  if (view.change_30d.has_value()) trend->set_change_30d(*view.change_30d);
  if (view.change_60d.has_value()) trend->set_change_60d(*view.change_60d);
  if (view.change_90d.has_value()) trend->set_change_90d(*view.change_90d);
  for (const Alert& a : view.open_alerts) AlertToProto(a, out->add_open_alerts());
  ToTimestamp(computed.computed_at, out->mutable_computed_at());
  out->set_scorecard_id(computed.scorecard_id);
  out->set_scorecard_version(computed.scorecard_version);
  if (view.active_override.has_value()) {
    OverrideToProto(*view.active_override, out->mutable_override());
  }
  if (view.churn_probability.has_value()) out->set_churn_probability(*view.churn_probability);
}

void HealthPointToProto(const HealthPoint& point, v1::HealthPoint* out) {
  DateToProto(point.day, out->mutable_day());
  out->set_score(point.score);
  out->set_band(static_cast<v1::Band>(point.band));
  out->set_scorecard_version(point.scorecard_version);
}

void ExplainResultToProto(const ExplainResult& r, v1::ExplainChangeResponse* out) {
  HealthToProto(r.from, out->mutable_from());
  HealthToProto(r.to, out->mutable_to());
  for (const ComponentChange& c : r.components) {
    v1::ComponentChange* p = out->add_components();
    p->set_component(static_cast<v1::Component>(c.component));
    p->set_contribution_from(c.contribution_from);
    p->set_contribution_to(c.contribution_to);
    p->set_raw_from(c.raw_from);
    p->set_raw_to(c.raw_to);
  }
  for (const auto& [kind, count] : r.signals) {
    v1::SignalCount* p = out->add_signals();
    p->set_kind(static_cast<v1::SignalKind>(kind));
    p->set_count(count);
  }
}

absl::StatusOr<AtRiskQuery> AtRiskQueryFromProto(const v1::ListAtRiskRequest& p) {
  AtRiskQuery q;
  if (!p.score_name().empty()) q.score_name = p.score_name();
  for (int i = 0; i < p.bands_size(); ++i) {
    ASSIGN_OR_RETURN(Band band, EnumFromProto<Band>(absl::StrCat("bands[", i, "]"), p.bands(i),
                                                    v1::Band_IsValid));
    q.bands.push_back(band);
  }
  if (!v1::AtRiskOrder_IsValid(p.order())) {
    return absl::InvalidArgumentError(absl::StrCat("order: unknown value ", p.order()));
  }
  q.by_arr = p.order() == v1::AT_RISK_ORDER_ARR;
  ASSIGN_OR_RETURN(Tier tier, EnumFromProto<Tier>("tier", p.tier(), v1::Tier_IsValid));
  if (tier != Tier::kUnspecified) q.tier = tier;
  ASSIGN_OR_RETURN(q.limit, PageSize(p.page()));
  if (!p.page().page_token().empty()) {
    ASSIGN_OR_RETURN(q.after, DecodePageToken(p.page().page_token()));
  }
  return q;
}

void AtRiskPageToProto(const AtRiskPage& page, v1::ListAtRiskResponse* out) {
  for (const AtRiskEntry& e : page.entries) {
    v1::AtRiskAccount* p = out->add_accounts();
    AccountToProto(e.account, p->mutable_account());
    p->set_score(e.score);
    p->set_band(static_cast<v1::Band>(e.band));
    ToTimestamp(e.computed_at, p->mutable_computed_at());
  }
  if (!page.next_after.empty()) {
    out->mutable_page()->set_next_page_token(EncodePageToken(page.next_after));
  }
}

void BandDistributionToProto(const BandDistribution& d, v1::BandDistribution* out) {
  out->set_tier(static_cast<v1::Tier>(d.tier.value_or(Tier::kUnspecified)));
  out->set_accounts(d.accounts);
  out->set_green(d.green);
  out->set_yellow(d.yellow);
  out->set_red(d.red);
  out->set_green_share(Share(d.green, d.accounts));
  out->set_yellow_share(Share(d.yellow, d.accounts));
  out->set_red_share(Share(d.red, d.accounts));
  out->set_target_green_share(kTargetGreenShare);
  out->set_target_yellow_share(kTargetYellowShare);
  out->set_target_red_share(kTargetRedShare);
  out->set_average_score(d.average_score);
}

void PortfolioSummaryToProto(const PortfolioSummary& s, v1::GetPortfolioSummaryResponse* out) {
  BandDistributionToProto(s.overall, out->mutable_overall());
  for (const BandDistribution& d : s.by_tier) BandDistributionToProto(d, out->add_by_tier());
  for (const BandMovement& m : s.movements) {
    v1::BandMovement* p = out->add_movements();
    p->set_from(static_cast<v1::Band>(m.from));
    p->set_to(static_cast<v1::Band>(m.to));
    p->set_accounts(m.accounts);
  }
  out->set_period_days(s.period_days);
}

void OverrideToProto(const Override& o, v1::Override* out) {
  out->set_account_id(o.account_id);
  out->set_score_name(o.score_name);
  out->set_score(o.score);
  out->set_reason(o.reason);
  out->set_set_by(o.set_by);
  ToTimestamp(o.set_at, out->mutable_set_at());
  ToTimestamp(o.expires_at, out->mutable_expires_at());
}

Override OverrideFromProto(const v1::Override& p) {
  Override o;
  o.account_id = p.account_id();
  o.score_name = p.score_name();
  o.score = p.score();
  o.reason = p.reason();
  o.set_by = p.set_by();
  o.set_at = FromTimestamp(p.set_at());
  o.expires_at = FromTimestamp(p.expires_at());
  return o;
}

// ---------------------------------------------------------------------------
// Alerts

void AlertToProto(const Alert& a, v1::Alert* out) {
  out->set_alert_id(absl::StrCat(a.id));
  out->set_account_id(a.account_id);
  out->set_kind(static_cast<v1::AlertKind>(a.kind));
  out->set_severity(static_cast<v1::Severity>(a.severity));
  out->set_summary(a.summary);
  for (const auto& [name, value] : a.evidence) (*out->mutable_evidence())[name] = value;
  ToTimestamp(a.opened_at, out->mutable_opened_at());
  if (a.resolved_at.has_value()) ToTimestamp(*a.resolved_at, out->mutable_resolved_at());
}

absl::StatusOr<AlertQuery> AlertQueryFromProto(const v1::ListAlertsRequest& p) {
  AlertQuery q;
  q.account_id = p.account_id();
  ASSIGN_OR_RETURN(AlertKind kind,
                   EnumFromProto<AlertKind>("kind", p.kind(), v1::AlertKind_IsValid));
  if (kind != AlertKind::kUnspecified) q.kind = kind;
  q.open_only = p.open_only();
  ASSIGN_OR_RETURN(q.limit, PageSize(p.page()));
  ASSIGN_OR_RETURN(q.before_id, BeforeIdFromPage(p.page()));
  return q;
}

void AlertPageToProto(const AlertPage& page, v1::ListAlertsResponse* out) {
  for (const Alert& a : page.alerts) AlertToProto(a, out->add_alerts());
  SetNextBeforeId(page.next_before_id, out->mutable_page());
}

void AlertSettingsToProto(const AlertSettings& s, v1::AlertSettings* out) {
  out->set_period_days(s.period_days);
  out->set_usage_decline_pct(s.usage_decline_pct);
  out->set_engagement_drop_pct(s.engagement_drop_pct);
  out->set_ticket_increase_pct(s.ticket_increase_pct);
  out->set_communication_drop_pct(s.communication_drop_pct);
  out->set_score_threshold(s.score_threshold);
  out->set_min_baseline(s.min_baseline);
  ToTimestamp(s.updated_at, out->mutable_updated_at());
}

AlertSettings AlertSettingsFromProto(const v1::AlertSettings& p) {
  AlertSettings s;  // the defaults
  if (p.period_days() != 0) s.period_days = p.period_days();
  if (p.usage_decline_pct() != 0) s.usage_decline_pct = p.usage_decline_pct();
  if (p.engagement_drop_pct() != 0) s.engagement_drop_pct = p.engagement_drop_pct();
  if (p.ticket_increase_pct() != 0) s.ticket_increase_pct = p.ticket_increase_pct();
  if (p.communication_drop_pct() != 0) s.communication_drop_pct = p.communication_drop_pct();
  if (p.score_threshold() != 0) s.score_threshold = p.score_threshold();
  if (p.min_baseline() != 0) s.min_baseline = p.min_baseline();
  s.updated_at = FromTimestamp(p.updated_at());
  return s;
}

// ---------------------------------------------------------------------------
// Score changes and event payloads

void ScoreChangeToProto(const ScoreChange& c, v1::ScoreChange* out) {
  out->set_account_id(c.account_id);
  out->set_score_name(c.score_name);
  out->set_previous_score(c.previous_score);
  out->set_previous_band(static_cast<v1::Band>(c.previous_band));
  out->set_score(c.score);
  out->set_band(static_cast<v1::Band>(c.band));
  out->set_scorecard_id(c.scorecard_id);
  out->set_scorecard_version(c.scorecard_version);
  ToTimestamp(c.computed_at, out->mutable_computed_at());
  out->set_tier(static_cast<v1::Tier>(c.tier));
}

absl::StatusOr<ScoreChange> ScoreChangeFromProto(const v1::ScoreChange& p) {
  ScoreChange c;
  c.account_id = p.account_id();
  c.score_name = p.score_name();
  c.previous_score = p.previous_score();
  ASSIGN_OR_RETURN(c.previous_band, EnumFromProto<Band>("score_change.previous_band",
                                                        p.previous_band(), v1::Band_IsValid));
  c.score = p.score();
  ASSIGN_OR_RETURN(c.band, EnumFromProto<Band>("score_change.band", p.band(), v1::Band_IsValid));
  c.scorecard_id = p.scorecard_id();
  c.scorecard_version = p.scorecard_version();
  c.computed_at = FromTimestamp(p.computed_at());
  ASSIGN_OR_RETURN(c.tier, EnumFromProto<Tier>("score_change.tier", p.tier(), v1::Tier_IsValid));
  return c;
}

std::string EncodeScoreChangeEvent(const ScoreChange& c) {
  v1::ScoreChange p;
  ScoreChangeToProto(c, &p);
  return p.SerializeAsString();
}

std::string EncodeAlertEvent(const Alert& a) {
  v1::Alert p;
  AlertToProto(a, &p);
  return p.SerializeAsString();
}

std::string EncodeExpansionSignalEvent(const ExpansionSignalEvent& e) {
  v1::ExpansionSignal p;
  p.set_signal_kind(static_cast<v1::SignalKind>(e.signal.kind));
  p.set_event_id(e.signal.event_id);
  p.set_feature(e.signal.feature);
  p.set_value(e.signal.value);
  ToTimestamp(e.signal.occurred_at, p.mutable_signal_occurred_at());
  p.set_band(static_cast<v1::Band>(e.band));
  p.set_score(e.score);
  p.set_tier(static_cast<v1::Tier>(e.tier));
  return p.SerializeAsString();
}

HealthEventEncoders HealthEncoders() {
  HealthEventEncoders encoders;
  encoders.score_change = EncodeScoreChangeEvent;
  encoders.alert = EncodeAlertEvent;
  encoders.expansion_signal = EncodeExpansionSignalEvent;
  encoders.first_value = FirstValueEventEncoders();
  return encoders;
}

// ---------------------------------------------------------------------------
// Backtests and churn models

namespace {

void BacktestSummaryToProto(const BacktestSummary& s, v1::BacktestResult* out) {
  if (s.as_of.has_value()) DateToProto(s.as_of, out->mutable_as_of());
  out->set_accounts(s.report.accounts);
  out->set_churned(s.report.churned);
  if (!std::isnan(s.report.auc)) out->set_auc(s.report.auc);
  for (const BandOutcome& b : s.report.bands) {
    v1::BandBacktest* p = out->add_bands();
    p->set_band(static_cast<v1::Band>(b.band));
    p->set_accounts(b.accounts);
    p->set_churned(b.churned);
    if (!std::isnan(b.churn_rate)) p->set_churn_rate(b.churn_rate);
  }
  if (!std::isnan(s.report.red_over_green_lift)) {
    out->set_red_over_green_lift(s.report.red_over_green_lift);
  }
  out->set_skipped_already_churned(s.skipped_already_churned);
  out->set_skipped_no_data(s.skipped_no_data);
  out->set_skipped_not_covered(s.skipped_not_covered);
}

}  // namespace

absl::StatusOr<BacktestQuery> BacktestQueryFromProto(const v1::BacktestScorecardRequest& p) {
  BacktestQuery q;
  if (p.has_scorecard()) {
    ASSIGN_OR_RETURN(Scorecard draft, ScorecardFromProto(p.scorecard()));
    q.draft = std::move(draft);
  } else {
    q.scorecard_id = p.scorecard_id();
  }
  q.version = p.version();
  for (int i = 0; i < p.as_of_size(); ++i) {
    const std::string field = absl::StrCat("as_of[", i, "]");
    ASSIGN_OR_RETURN(std::optional<absl::CivilDay> day, DateFromProto(field, p.as_of(i)));
    if (!day.has_value()) return absl::InvalidArgumentError(absl::StrCat(field, ": must be set"));
    q.as_of.push_back(*day);
  }
  q.horizon_days = p.horizon_days();
  return q;
}

void BacktestResultToProto(const BacktestResult& r, v1::BacktestScorecardResponse* out) {
  out->set_scorecard_id(r.scorecard_id);
  out->set_scorecard_version(r.scorecard_version);
  out->set_horizon_days(r.horizon_days);
  BacktestSummaryToProto(r.overall, out->mutable_overall());
  for (const BacktestSummary& s : r.by_date) BacktestSummaryToProto(s, out->add_by_date());
}

absl::StatusOr<TrainChurnRequest> TrainChurnRequestFromProto(const v1::TrainChurnModelRequest& p) {
  TrainChurnRequest r;
  ASSIGN_OR_RETURN(r.cutoff, DateFromProto("cutoff", p.cutoff()));
  r.horizon_days = p.horizon_days();
  r.lookback_days = p.lookback_days();
  r.holdout_fraction = p.holdout_fraction();
  r.seed = p.seed();
  return r;
}

void ChurnModelToProto(const StoredChurnModel& m, v1::ChurnModel* out) {
  out->set_model_id(m.model_id);
  ToTimestamp(m.trained_at, out->mutable_trained_at());
  DateToProto(m.cutoff, out->mutable_cutoff());
  out->set_horizon_days(m.horizon_days);
  out->set_lookback_days(m.lookback_days);
  for (const std::string& name : m.model.feature_names) out->add_feature_names(name);
  for (double w : m.model.weights) out->add_weights(w);
  out->set_bias(m.model.bias);
  if (!std::isnan(m.model.auc_holdout)) out->set_holdout_auc(m.model.auc_holdout);
  out->set_train_size(m.model.train_size);
  out->set_holdout_size(m.model.holdout_size);
  out->set_churned(m.model.positives);
  out->set_holdout_fraction(m.holdout_fraction);
  out->set_seed(m.seed);
}

absl::StatusOr<StoredChurnModel> ChurnModelFromProto(const v1::ChurnModel& p) {
  StoredChurnModel m;
  m.model_id = p.model_id();
  m.trained_at = FromTimestamp(p.trained_at());
  ASSIGN_OR_RETURN(std::optional<absl::CivilDay> cutoff, DateFromProto("model.cutoff", p.cutoff()));
  if (cutoff.has_value()) m.cutoff = *cutoff;
  m.horizon_days = p.horizon_days();
  m.lookback_days = p.lookback_days();
  m.model.feature_names.assign(p.feature_names().begin(), p.feature_names().end());
  m.model.weights.assign(p.weights().begin(), p.weights().end());
  m.model.bias = p.bias();
  m.model.auc_holdout =
      p.has_holdout_auc() ? p.holdout_auc() : std::numeric_limits<double>::quiet_NaN();
  m.model.train_size = p.train_size();
  m.model.holdout_size = p.holdout_size();
  m.model.positives = p.churned();
  m.holdout_fraction = p.holdout_fraction();
  m.seed = p.seed();
  return m;
}

}  // namespace cs::health
