#include "services/playbooks/advocacy_mapping.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/server/proto_util.h"
#include "common/status.h"
#include "cs/health/v1/health.pb.h"

namespace cs::playbooks {

namespace hv1 = ::cs::health::v1;

std::string HealthTierName(int tier) {
  if (!hv1::Tier_IsValid(tier) || tier == hv1::TIER_UNSPECIFIED) return "";
  std::string name = hv1::Tier_Name(static_cast<hv1::Tier>(tier));
  return absl::StartsWith(name, "TIER_") ? name.substr(5) : name;
}

absl::StatusOr<std::string> HealthTierFromProto(const std::string& field, int tier) {
  if (!hv1::Tier_IsValid(tier)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": unknown value ", tier));
  }
  return HealthTierName(tier);
}

int HealthTierToProto(const std::string& name) {
  hv1::Tier tier = hv1::TIER_UNSPECIFIED;
  if (!name.empty()) hv1::Tier_Parse(absl::StrCat("TIER_", name), &tier);
  return tier;
}

absl::StatusOr<OnboardingQuery> OnboardingQueryFromProto(const v1::GetOnboardingMetricsRequest& p) {
  OnboardingQuery q;
  if (p.has_from()) q.from = FromTimestamp(p.from());
  if (p.has_to()) q.to = FromTimestamp(p.to());
  ASSIGN_OR_RETURN(q.tier, HealthTierFromProto("tier", p.tier()));
  for (int i = 0; i < p.targets_size(); ++i) {
    const v1::OnboardingTarget& t = p.targets(i);
    OnboardingTarget target;
    ASSIGN_OR_RETURN(target.tier, HealthTierFromProto(absl::StrCat("targets[", i, "].tier"), t.tier()));
    if (target.tier.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("targets[", i, "].tier: required"));
    }
    target.time_to_value_days = t.time_to_value_days();
    target.completion_rate = t.completion_rate();
    q.targets.push_back(target);
  }
  q.late_limit = p.late_limit();
  return q;
}

void OnboardingReportToProto(const OnboardingReport& r, v1::GetOnboardingMetricsResponse* out) {
  ToTimestamp(r.from, out->mutable_from());
  ToTimestamp(r.to, out->mutable_to());
  for (const OnboardingTierMetrics& m : r.by_tier) {
    v1::OnboardingTierMetrics* p = out->add_by_tier();
    p->set_tier(static_cast<hv1::Tier>(HealthTierToProto(m.target.tier)));
    p->mutable_target()->set_tier(p->tier());
    p->mutable_target()->set_time_to_value_days(m.target.time_to_value_days);
    p->mutable_target()->set_completion_rate(m.target.completion_rate);
    p->set_onboardings(m.onboardings);
    p->set_reached_value(m.reached_value);
    p->set_reached_value_within_target(m.reached_value_within_target);
    if (m.median_days_to_value) p->set_median_days_to_value(*m.median_days_to_value);
    if (m.p90_days_to_value) p->set_p90_days_to_value(*m.p90_days_to_value);
    p->set_time_to_value_target_met(m.time_to_value_target_met);
    p->set_completed(m.completed);
    p->set_not_completed(m.not_completed);
    p->set_in_progress(m.in_progress);
    if (m.completion_rate) p->set_completion_rate(*m.completion_rate);
    p->set_completion_target_met(m.completion_target_met);
  }
  for (const LateOnboarding& l : r.late) {
    v1::LateOnboarding* p = out->add_late();
    p->set_account_id(l.account_id);
    p->set_tier(static_cast<hv1::Tier>(HealthTierToProto(l.tier)));
    p->set_run_id(l.run_id);
    p->set_owner_id(l.owner_id);
    ToTimestamp(l.started_at, p->mutable_started_at());
    p->set_days_since_start(l.days_since_start);
    p->set_target_days(l.target_days);
    for (LateReason reason : l.reasons) p->add_reasons(static_cast<v1::LateReason>(reason));
    p->set_overdue_tasks(l.overdue_tasks);
    if (l.oldest_overdue_due_at) ToTimestamp(*l.oldest_overdue_due_at, p->mutable_oldest_overdue_due_at());
  }
}

absl::StatusOr<CandidateCriteria> CandidateCriteriaFromProto(
    const v1::ListAdvocateCandidatesRequest& p) {
  CandidateCriteria c;
  if (p.has_min_score()) c.min_score = p.min_score();
  if (p.has_min_nps()) c.min_nps = p.min_nps();
  if (p.has_min_green_days()) c.min_green_days = p.min_green_days();
  ASSIGN_OR_RETURN(c.tier, HealthTierFromProto("tier", p.tier()));
  c.limit = p.limit();
  return c;
}

void CandidateToProto(const AdvocateCandidate& c, v1::AdvocateCandidate* out) {
  out->set_account_id(c.account_id);
  out->set_tier(static_cast<hv1::Tier>(HealthTierToProto(c.tier)));
  out->set_owner_id(c.owner_id);
  out->set_score(c.score);
  out->set_nps(c.nps);
  ToTimestamp(c.nps_at, out->mutable_nps_at());
  ToTimestamp(c.green_since, out->mutable_green_since());
  out->set_days_stable(c.days_stable);
  if (c.arr_minor.has_value()) {
    out->mutable_arr()->set_minor_units(*c.arr_minor);
    out->mutable_arr()->set_currency_code(c.arr_currency);
  }
}

void AskToProto(const AdvocacyAsk& a, v1::AdvocacyAsk* out) {
  out->set_ask_id(a.ask_id);
  out->set_account_id(a.account_id);
  out->set_kind(static_cast<v1::AdvocacyKind>(a.kind));
  out->set_status(static_cast<v1::AdvocacyAskStatus>(a.status));
  out->set_asked_by(a.asked_by);
  out->set_note(a.note);
  out->set_override_reason(a.override_reason);
  ToTimestamp(a.asked_at, out->mutable_asked_at());
  ToTimestamp(a.updated_at, out->mutable_updated_at());
}

absl::StatusOr<AdvocacyAsk> AskFromProto(const v1::AdvocacyAsk& p) {
  if (!v1::AdvocacyKind_IsValid(p.kind()) || !v1::AdvocacyAskStatus_IsValid(p.status())) {
    return absl::InvalidArgumentError("ask: unknown kind or status");
  }
  AdvocacyAsk a;
  a.ask_id = p.ask_id();
  a.account_id = p.account_id();
  a.kind = static_cast<AdvocacyKind>(p.kind());
  a.status = static_cast<AskStatus>(p.status());
  a.asked_by = p.asked_by();
  a.note = p.note();
  a.override_reason = p.override_reason();
  a.asked_at = FromTimestamp(p.asked_at());
  a.updated_at = FromTimestamp(p.updated_at());
  return a;
}

absl::StatusOr<AdvocacyAsk> AskFromRequest(const v1::RecordAdvocacyAskRequest& p) {
  if (!v1::AdvocacyKind_IsValid(p.kind())) {
    return absl::InvalidArgumentError(absl::StrCat("kind: unknown value ", p.kind()));
  }
  if (!v1::AdvocacyAskStatus_IsValid(p.status())) {
    return absl::InvalidArgumentError(absl::StrCat("status: unknown value ", p.status()));
  }
  AdvocacyAsk a;
  a.account_id = p.account_id();
  a.kind = static_cast<AdvocacyKind>(p.kind());
  a.status = static_cast<AskStatus>(p.status());
  a.asked_by = p.asked_by();
  a.note = p.note();
  a.override_reason = p.override_reason();
  return a;
}

}  // namespace cs::playbooks
