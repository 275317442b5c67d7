#include "services/expansion/proto_mapping.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/server/common_mapping.h"
#include "common/server/proto_util.h"
#include "common/status.h"

namespace cs::expansion {

namespace {

template <typename E>
absl::StatusOr<E> EnumFromProto(absl::string_view field, int value, bool (*is_valid)(int)) {
  if (!is_valid(value)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": unknown value ", value));
  }
  return static_cast<E>(value);
}

absl::StatusOr<absl::CivilMonth> MonthFromProto(absl::string_view field, cs::common::v1::Date d) {
  // A month has no day: any day (or none) is read as the first.
  if (d.year() != 0 || d.month() != 0) d.set_day(1);
  ASSIGN_OR_RETURN(std::optional<absl::CivilDay> day, DateFromProto(field, d));
  if (!day.has_value()) return absl::InvalidArgumentError(absl::StrCat(field, ": must be set"));
  return absl::CivilMonth(*day);
}

void MoneyOut(int64_t minor, const std::string& currency, cs::common::v1::Money* out) {
  out->set_minor_units(minor);
  out->set_currency_code(currency);
}

void PairToProto(const AmountPair& a, const std::string& currency, v1::AmountPair* out) {
  MoneyOut(a.total, currency, out->mutable_total());
  MoneyOut(a.weighted, currency, out->mutable_weighted());
  out->set_count(a.count);
}

void QuarterToProto(const Quarter& q, v1::Quarter* out) {
  out->set_year(q.year);
  out->set_quarter(q.quarter);
}

}  // namespace

absl::StatusOr<int64_t> ParseId(absl::string_view field, const std::string& text) {
  int64_t id = 0;
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": must be set"));
  if (!absl::SimpleAtoi(text, &id) || id <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not an id this service issued"));
  }
  return id;
}

absl::StatusOr<Tier> TierFromProto(absl::string_view field, int value) {
  return EnumFromProto<Tier>(field, value, v1::Tier_IsValid);
}

absl::StatusOr<RevenueMovement> MovementFromProto(const v1::RevenueMovement& p) {
  RevenueMovement m;
  if (!p.movement_id().empty() && !absl::SimpleAtoi(p.movement_id(), &m.movement_id)) {
    return absl::InvalidArgumentError("movement.movement_id: assigned by the service");
  }
  m.account_id = p.account_id();
  ASSIGN_OR_RETURN(m.month, MonthFromProto("movement.month", p.month()));
  ASSIGN_OR_RETURN(
      m.kind, EnumFromProto<MovementKind>("movement.kind", p.kind(), v1::MovementKind_IsValid));
  m.mrr_change = FromProto(p.mrr_change());
  if (p.has_recorded_at()) m.recorded_at = FromTimestamp(p.recorded_at());
  ASSIGN_OR_RETURN(
      MovementSource source,
      EnumFromProto<MovementSource>("movement.source", p.source(), v1::MovementSource_IsValid));
  m.source = source == MovementSource::kUnspecified ? MovementSource::kManual : source;
  if (!p.opportunity_id().empty()) {
    ASSIGN_OR_RETURN(m.opportunity_id, ParseId("movement.opportunity_id", p.opportunity_id()));
  }
  return m;
}

void MovementToProto(const RevenueMovement& m, v1::RevenueMovement* out) {
  if (m.movement_id != 0) out->set_movement_id(absl::StrCat(m.movement_id));
  out->set_account_id(m.account_id);
  DateToProto(absl::CivilDay(m.month), out->mutable_month());
  out->set_kind(static_cast<v1::MovementKind>(m.kind));
  ToProto(m.mrr_change, out->mutable_mrr_change());
  ToTimestamp(m.recorded_at, out->mutable_recorded_at());
  out->set_source(static_cast<v1::MovementSource>(m.source));
  if (m.opportunity_id != 0) out->set_opportunity_id(absl::StrCat(m.opportunity_id));
}

absl::StatusOr<Opportunity> OpportunityFromProto(const v1::Opportunity& p) {
  Opportunity o;
  if (!p.opportunity_id().empty()) {
    ASSIGN_OR_RETURN(o.opportunity_id, ParseId("opportunity.opportunity_id", p.opportunity_id()));
  }
  o.account_id = p.account_id();
  ASSIGN_OR_RETURN(o.kind, EnumFromProto<OpportunityKind>("opportunity.kind", p.kind(),
                                                          v1::OpportunityKind_IsValid));
  ASSIGN_OR_RETURN(o.stage,
                   EnumFromProto<Stage>("opportunity.stage", p.stage(), v1::Stage_IsValid));
  o.owner_id = p.owner_id();
  o.amount = FromProto(p.amount());
  o.probability_percent = p.probability_percent();
  ASSIGN_OR_RETURN(o.expected_close_date,
                   DateFromProto("opportunity.expected_close_date", p.expected_close_date()));
  ASSIGN_OR_RETURN(o.source, EnumFromProto<OpportunitySource>("opportunity.source", p.source(),
                                                              v1::OpportunitySource_IsValid));
  o.source_ref = p.source_ref();
  o.title = p.title();
  o.description = p.description();
  ASSIGN_OR_RETURN(o.tier, TierFromProto("opportunity.tier", p.tier()));
  o.loss_reason = p.loss_reason();
  if (p.has_created_at()) o.created_at = FromTimestamp(p.created_at());
  if (p.has_updated_at()) o.updated_at = FromTimestamp(p.updated_at());
  if (p.has_closed_at()) o.closed_at = FromTimestamp(p.closed_at());
  if (!p.etag().empty() && !absl::SimpleAtoi(p.etag(), &o.version)) {
    // A foreign etag can never match: -1 is no version the service hands out.
    o.version = -1;
  }
  for (const v1::StageChange& c : p.history()) {
    StageChange s;
    s.from = static_cast<Stage>(c.from_stage());
    s.to = static_cast<Stage>(c.to_stage());
    s.changed_at = FromTimestamp(c.changed_at());
    s.actor_id = c.actor_id();
    s.loss_reason = c.loss_reason();
    s.health_override_reason = c.health_override_reason();
    s.health_band = static_cast<HealthBand>(c.health_band());
    s.probability_percent = c.probability_percent();
    o.history.push_back(std::move(s));
  }
  if (!p.won_movement_id().empty()) {
    ASSIGN_OR_RETURN(o.won_movement_id,
                     ParseId("opportunity.won_movement_id", p.won_movement_id()));
  }
  return o;
}

void OpportunityToProto(const Opportunity& o, v1::Opportunity* out, bool with_history) {
  out->set_opportunity_id(absl::StrCat(o.opportunity_id));
  out->set_account_id(o.account_id);
  out->set_kind(static_cast<v1::OpportunityKind>(o.kind));
  out->set_stage(static_cast<v1::Stage>(o.stage));
  out->set_owner_id(o.owner_id);
  ToProto(o.amount, out->mutable_amount());
  out->set_probability_percent(o.probability_percent);
  DateToProto(o.expected_close_date, out->mutable_expected_close_date());
  out->set_source(static_cast<v1::OpportunitySource>(o.source));
  out->set_source_ref(o.source_ref);
  out->set_title(o.title);
  out->set_description(o.description);
  out->set_tier(static_cast<v1::Tier>(o.tier));
  out->set_loss_reason(o.loss_reason);
  ToTimestamp(o.created_at, out->mutable_created_at());
  ToTimestamp(o.updated_at, out->mutable_updated_at());
  if (o.closed_at.has_value()) ToTimestamp(*o.closed_at, out->mutable_closed_at());
  out->set_etag(EtagOf(o));
  if (with_history) {
    for (const StageChange& c : o.history) {
      v1::StageChange* p = out->add_history();
      p->set_from_stage(static_cast<v1::Stage>(c.from));
      p->set_to_stage(static_cast<v1::Stage>(c.to));
      ToTimestamp(c.changed_at, p->mutable_changed_at());
      p->set_actor_id(c.actor_id);
      p->set_loss_reason(c.loss_reason);
      p->set_health_override_reason(c.health_override_reason);
      p->set_health_band(static_cast<v1::HealthBand>(c.health_band));
      p->set_probability_percent(c.probability_percent);
    }
  }
  if (o.won_movement_id != 0) out->set_won_movement_id(absl::StrCat(o.won_movement_id));
}

void AdvanceToProto(const AdvanceResult& r, v1::AdvanceStageResponse* out) {
  OpportunityToProto(r.opportunity, out->mutable_opportunity());
  if (r.movement.has_value()) MovementToProto(*r.movement, out->mutable_revenue_movement());
}

absl::StatusOr<AdvanceResult> AdvanceFromProto(const v1::AdvanceStageResponse& p) {
  AdvanceResult r;
  ASSIGN_OR_RETURN(r.opportunity, OpportunityFromProto(p.opportunity()));
  if (p.has_revenue_movement()) {
    ASSIGN_OR_RETURN(RevenueMovement m, MovementFromProto(p.revenue_movement()));
    r.movement = m;
  }
  return r;
}

void ProbabilitiesToProto(const StageProbabilities& p,
                          google::protobuf::RepeatedPtrField<v1::StageProbability>* out) {
  for (int s = 1; s <= 6; ++s) {
    v1::StageProbability* e = out->Add();
    e->set_stage(static_cast<v1::Stage>(s));
    e->set_probability_percent(p.percent[s]);
  }
}

void ProbabilitiesToProto(const StageProbabilities& p, v1::SetStageProbabilitiesResponse* out) {
  ProbabilitiesToProto(p, out->mutable_probabilities());
}

absl::StatusOr<StageProbabilities> ProbabilitiesFromProto(
    const v1::SetStageProbabilitiesResponse& p) {
  StageProbabilities out;
  for (const v1::StageProbability& e : p.probabilities()) {
    ASSIGN_OR_RETURN(Stage s,
                     EnumFromProto<Stage>("probabilities.stage", e.stage(), v1::Stage_IsValid));
    out.percent[static_cast<int>(s)] = e.probability_percent();
  }
  return out;
}

absl::StatusOr<AccountProfile> ProfileFromProto(const v1::AccountProfile& p) {
  AccountProfile out;
  out.account_id = p.account_id();
  ASSIGN_OR_RETURN(out.tier, TierFromProto("profile.tier", p.tier()));
  out.seats_licensed = p.seats_licensed();
  out.seats_used = p.seats_used();
  out.usage_units = p.usage_units();
  out.usage_limit = p.usage_limit();
  out.plan = p.plan();
  out.feature_requests.assign(p.feature_requests().begin(), p.feature_requests().end());
  out.integration_requests.assign(p.integration_requests().begin(), p.integration_requests().end());
  if (p.has_updated_at()) out.updated_at = FromTimestamp(p.updated_at());
  return out;
}

void ProfileToProto(const AccountProfile& p, v1::AccountProfile* out) {
  out->set_account_id(p.account_id);
  out->set_tier(static_cast<v1::Tier>(p.tier));
  out->set_seats_licensed(p.seats_licensed);
  out->set_seats_used(p.seats_used);
  out->set_usage_units(p.usage_units);
  out->set_usage_limit(p.usage_limit);
  out->set_plan(p.plan);
  for (const std::string& f : p.feature_requests) out->add_feature_requests(f);
  for (const std::string& i : p.integration_requests) out->add_integration_requests(i);
  ToTimestamp(p.updated_at, out->mutable_updated_at());
}

absl::StatusOr<std::vector<SubscriptionMonth>> SubscriptionsFromProto(
    const v1::ImportSubscriptionsRequest& p) {
  std::vector<SubscriptionMonth> out;
  out.reserve(p.subscriptions_size());
  for (int i = 0; i < p.subscriptions_size(); ++i) {
    const v1::SubscriptionMonth& s = p.subscriptions(i);
    const std::string at = absl::StrCat("subscriptions[", i, "]");
    SubscriptionMonth m;
    m.account_id = s.account_id();
    ASSIGN_OR_RETURN(m.month, MonthFromProto(absl::StrCat(at, ".month"), s.month()));
    m.mrr = FromProto(s.mrr());
    ASSIGN_OR_RETURN(Tier tier, TierFromProto(absl::StrCat(at, ".tier"), s.tier()));
    m.tier = static_cast<int>(tier);
    out.push_back(std::move(m));
  }
  return out;
}

void ImportResultToProto(const ImportResult& r, v1::ImportSubscriptionsResponse* out) {
  out->set_months_changed(r.months_changed);
  out->set_movements_added(r.movements_added);
  out->set_movements_changed(r.movements_changed);
  out->set_movements_removed(r.movements_removed);
}

absl::StatusOr<ImportResult> ImportResultFromProto(const v1::ImportSubscriptionsResponse& p) {
  return ImportResult{p.months_changed(), p.movements_added(), p.movements_changed(),
                      p.movements_removed()};
}

void SnapshotToProto(const ForecastSnapshot& s, v1::ForecastSnapshot* out) {
  out->set_snapshot_id(absl::StrCat(s.snapshot_id));
  ToTimestamp(s.taken_at, out->mutable_taken_at());
  out->set_currency_code(s.currency);
  out->set_scheduled(s.scheduled);
  for (const auto& [q, amounts] : s.by_quarter) {
    v1::QuarterAmount* e = out->add_forecast_by_quarter();
    QuarterToProto(q, e->mutable_quarter());
    PairToProto(amounts, s.currency, e->mutable_amounts());
  }
}

absl::StatusOr<ForecastSnapshot> SnapshotFromProto(const v1::ForecastSnapshot& p) {
  ForecastSnapshot s;
  ASSIGN_OR_RETURN(s.snapshot_id, ParseId("snapshot.snapshot_id", p.snapshot_id()));
  s.taken_at = FromTimestamp(p.taken_at());
  s.currency = p.currency_code();
  s.scheduled = p.scheduled();
  for (const v1::QuarterAmount& e : p.forecast_by_quarter()) {
    s.by_quarter[{e.quarter().year(), e.quarter().quarter()}] = {
        e.amounts().total().minor_units(), e.amounts().weighted().minor_units(),
        e.amounts().count()};
  }
  return s;
}

void PipelineToProto(const PipelineReport& r, const std::string& currency,
                     v1::GetPipelineSummaryResponse* out) {
  PairToProto(r.open, currency, out->mutable_open());
  for (const auto& [stage, a] : r.by_stage) {
    v1::StageAmount* e = out->add_by_stage();
    e->set_stage(static_cast<v1::Stage>(stage));
    PairToProto(a, currency, e->mutable_amounts());
  }
  for (const auto& [kind, a] : r.by_kind) {
    v1::KindAmount* e = out->add_by_kind();
    e->set_kind(static_cast<v1::OpportunityKind>(kind));
    PairToProto(a, currency, e->mutable_amounts());
  }
  for (const auto& [tier, a] : r.by_tier) {
    v1::TierAmount* e = out->add_by_tier();
    e->set_tier(static_cast<v1::Tier>(tier));
    PairToProto(a, currency, e->mutable_amounts());
  }
  for (const auto& [q, a] : r.by_quarter) {
    v1::QuarterAmount* e = out->add_forecast_by_quarter();
    QuarterToProto(q, e->mutable_quarter());
    PairToProto(a, currency, e->mutable_amounts());
  }
}

void AccuracyToProto(const ForecastAccuracy& a, v1::GetForecastAccuracyResponse* out) {
  SnapshotToProto(a.snapshot, out->mutable_snapshot());
  const std::string& currency = a.snapshot.currency;
  for (const QuarterAccuracy& q : a.quarters) {
    v1::QuarterAccuracy* e = out->add_quarters();
    QuarterToProto(q.quarter, e->mutable_quarter());
    MoneyOut(q.forecast.weighted, currency, e->mutable_forecast_weighted());
    MoneyOut(q.forecast.total, currency, e->mutable_forecast_total());
    MoneyOut(q.actual_won, currency, e->mutable_actual_won());
    if (q.accuracy_ratio.has_value()) e->set_accuracy_ratio(*q.accuracy_ratio);
    if (q.error_ratio.has_value()) e->set_error_ratio(*q.error_ratio);
  }
}

void ExpansionToProto(const ExpansionReport& r, const std::string& currency,
                      v1::GetExpansionMetricsResponse* out) {
  MoneyOut(r.new_mrr, currency, out->mutable_new_mrr());
  MoneyOut(r.expansion_mrr, currency, out->mutable_expansion_mrr());
  MoneyOut(r.reactivation_mrr, currency, out->mutable_reactivation_mrr());
  if (r.expansion_share.has_value()) out->set_expansion_share_of_new_revenue(*r.expansion_share);
  out->set_starting_accounts(r.starting_accounts);
  out->set_expanded_accounts(r.expanded_accounts);
  if (r.expansion_rate.has_value()) out->set_expansion_rate(*r.expansion_rate);
  if (r.expansion_arpu.has_value())
    MoneyOut(*r.expansion_arpu, currency, out->mutable_expansion_arpu());
  out->set_won_opportunities(r.won_opportunities);
  if (r.cycle_median_days.has_value()) out->set_expansion_cycle_median_days(*r.cycle_median_days);
  if (r.cycle_mean_days.has_value()) out->set_expansion_cycle_mean_days(*r.cycle_mean_days);
  for (const auto& [kind, w] : r.win_rate_by_kind) {
    v1::KindWinRate* e = out->add_win_rate_by_kind();
    e->set_kind(static_cast<v1::OpportunityKind>(kind));
    e->set_won(w.won);
    e->set_lost(w.lost);
    if (w.win_rate.has_value()) e->set_win_rate(*w.win_rate);
  }
}

namespace {

void FiguresToProto(const RetentionFigures& f, const std::string& currency,
                    v1::RetentionFigures* out) {
  MoneyOut(f.starting_mrr, currency, out->mutable_starting_mrr());
  out->set_starting_accounts(f.starting_accounts);
  MoneyOut(f.expansion_mrr, currency, out->mutable_expansion_mrr());
  MoneyOut(f.contraction_mrr, currency, out->mutable_contraction_mrr());
  MoneyOut(f.churned_mrr, currency, out->mutable_churned_mrr());
  out->set_churned_accounts(f.churned_accounts);
  if (f.grr) out->set_gross_revenue_retention(*f.grr);
  if (f.nrr) out->set_net_revenue_retention(*f.nrr);
  if (f.logo_churn_period) out->set_logo_churn_period(*f.logo_churn_period);
  if (f.logo_churn_monthly) out->set_logo_churn_monthly(*f.logo_churn_monthly);
  if (f.logo_churn_annual) out->set_logo_churn_annual(*f.logo_churn_annual);
  if (f.revenue_churn_period) out->set_revenue_churn_period(*f.revenue_churn_period);
  if (f.revenue_churn_monthly) out->set_revenue_churn_monthly(*f.revenue_churn_monthly);
  if (f.arpa) MoneyOut(*f.arpa, currency, out->mutable_arpa());
  if (f.clv) MoneyOut(*f.clv, currency, out->mutable_customer_lifetime_value());
}

}  // namespace

void RetentionToProto(const RetentionReport& r, const std::string& currency,
                      v1::GetRetentionMetricsResponse* out) {
  FiguresToProto(r.overall, currency, out->mutable_overall());
  for (const auto& [tier, f] : r.by_tier) {
    v1::TierRetention* e = out->add_by_tier();
    e->set_tier(static_cast<v1::Tier>(tier));
    FiguresToProto(f, currency, e->mutable_figures());
  }
  out->set_gross_margin_percent(r.gross_margin * 100);
  out->set_months(r.months);
}

absl::StatusOr<MonthPeriod> PeriodFromProto(const v1::MonthRange& p) {
  MonthPeriod out;
  ASSIGN_OR_RETURN(out.first, MonthFromProto("period.first_month", p.first_month()));
  ASSIGN_OR_RETURN(out.last, MonthFromProto("period.last_month", p.last_month()));
  return out;
}

}  // namespace cs::expansion
