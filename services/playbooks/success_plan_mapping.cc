#include "services/playbooks/success_plan_mapping.h"

#include "absl/strings/str_cat.h"
#include "common/server/common_mapping.h"
#include "common/server/proto_util.h"
#include "services/playbooks/proto_mapping.h"

namespace cs::playbooks {

namespace hv1 = ::cs::health::v1;

namespace {

absl::Status Unknown(absl::string_view field, int value) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": unknown value ", value));
}

absl::Time TimeOrUnset(bool has, const google::protobuf::Timestamp& ts) {
  return has ? FromTimestamp(ts) : absl::InfinitePast();
}

std::optional<absl::Time> OptTime(bool has, const google::protobuf::Timestamp& ts) {
  if (!has) return std::nullopt;
  return FromTimestamp(ts);
}

absl::StatusOr<Criterion> CriterionFromProto(const std::string& field,
                                             const v1::SuccessCriterion& p) {
  if (!v1::CriterionSource_IsValid(p.source())) return Unknown(field + ".source", p.source());
  if (!v1::Comparison_IsValid(p.comparison())) {
    return Unknown(field + ".comparison", p.comparison());
  }
  Criterion c;
  c.criterion_id = p.criterion_id();
  c.description = p.description();
  c.source = static_cast<CriterionSource>(p.source());
  c.name = p.name();
  c.comparison = static_cast<Comparison>(p.comparison());
  c.target = p.target();
  c.met = p.met();
  c.met_at = OptTime(p.has_met_at(), p.met_at());
  c.last_value = p.last_value();
  c.last_checked_at = OptTime(p.has_last_checked_at(), p.last_checked_at());
  return c;
}

void CriterionToProto(const Criterion& c, v1::SuccessCriterion* out) {
  out->set_criterion_id(c.criterion_id);
  out->set_description(c.description);
  out->set_source(static_cast<v1::CriterionSource>(c.source));
  out->set_name(c.name);
  out->set_comparison(static_cast<v1::Comparison>(c.comparison));
  out->set_target(c.target);
  out->set_met(c.met);
  if (c.met_at.has_value()) ToTimestamp(*c.met_at, out->mutable_met_at());
  out->set_last_value(c.last_value);
  if (c.last_checked_at.has_value()) ToTimestamp(*c.last_checked_at, out->mutable_last_checked_at());
}

}  // namespace

absl::StatusOr<SuccessPlan> SuccessPlanFromProto(const v1::SuccessPlan& p) {
  if (!v1::SuccessPlanStatus_IsValid(p.status())) return Unknown("plan.status", p.status());
  SuccessPlan plan;
  plan.plan_id = p.plan_id();
  plan.account_id = p.account_id();
  plan.title = p.title();
  plan.owner_id = p.owner_id();
  plan.status = static_cast<PlanStatus>(p.status());
  plan.template_id = p.template_id();
  if (p.has_expected_roi()) {
    if (p.expected_roi().has_amount()) plan.roi_amount = FromProto(p.expected_roi().amount());
    plan.roi_description = p.expected_roi().description();
  }
  plan.version = p.version();
  plan.starts_at = TimeOrUnset(p.has_starts_at(), p.starts_at());
  if (p.has_created_at()) plan.created_at = FromTimestamp(p.created_at());
  if (p.has_updated_at()) plan.updated_at = FromTimestamp(p.updated_at());
  for (int i = 0; i < p.objectives_size(); ++i) {
    const v1::Objective& po = p.objectives(i);
    const std::string field = absl::StrCat("plan.objectives[", i, "]");
    Objective o;
    o.objective_id = po.objective_id();
    o.title = po.title();
    o.description = po.description();
    for (int j = 0; j < po.milestones_size(); ++j) {
      const v1::Milestone& pm = po.milestones(j);
      if (!v1::MilestoneStatus_IsValid(pm.status())) {
        return Unknown(absl::StrCat(field, ".milestones[", j, "].status"), pm.status());
      }
      Milestone m;
      m.milestone_id = pm.milestone_id();
      m.title = pm.title();
      m.due_at = TimeOrUnset(pm.has_due_at(), pm.due_at());
      m.owner_id = pm.owner_id();
      m.status = static_cast<MilestoneStatus>(pm.status());
      m.completed_at = OptTime(pm.has_completed_at(), pm.completed_at());
      m.alerted_at = OptTime(pm.has_overdue_alerted_at(), pm.overdue_alerted_at());
      o.milestones.push_back(std::move(m));
    }
    for (int j = 0; j < po.criteria_size(); ++j) {
      absl::StatusOr<Criterion> c =
          CriterionFromProto(absl::StrCat(field, ".criteria[", j, "]"), po.criteria(j));
      if (!c.ok()) return c.status();
      o.criteria.push_back(*std::move(c));
    }
    plan.objectives.push_back(std::move(o));
  }
  return plan;
}

void SuccessPlanToProto(const SuccessPlan& plan, v1::SuccessPlan* out) {
  out->set_plan_id(plan.plan_id);
  out->set_account_id(plan.account_id);
  out->set_title(plan.title);
  out->set_owner_id(plan.owner_id);
  out->set_status(static_cast<v1::SuccessPlanStatus>(plan.status));
  out->set_template_id(plan.template_id);
  if (plan.roi_amount.has_value() || !plan.roi_description.empty()) {
    v1::ExpectedRoi* roi = out->mutable_expected_roi();
    if (plan.roi_amount.has_value()) ToProto(*plan.roi_amount, roi->mutable_amount());
    roi->set_description(plan.roi_description);
  }
  out->set_version(plan.version);
  ToTimestamp(plan.starts_at, out->mutable_starts_at());
  ToTimestamp(plan.created_at, out->mutable_created_at());
  ToTimestamp(plan.updated_at, out->mutable_updated_at());
  for (const Objective& o : plan.objectives) {
    v1::Objective* po = out->add_objectives();
    po->set_objective_id(o.objective_id);
    po->set_title(o.title);
    po->set_description(o.description);
    for (const Milestone& m : o.milestones) {
      v1::Milestone* pm = po->add_milestones();
      pm->set_milestone_id(m.milestone_id);
      pm->set_title(m.title);
      ToTimestamp(m.due_at, pm->mutable_due_at());
      pm->set_owner_id(m.owner_id);
      pm->set_status(static_cast<v1::MilestoneStatus>(m.status));
      if (m.completed_at.has_value()) ToTimestamp(*m.completed_at, pm->mutable_completed_at());
      if (m.alerted_at.has_value()) ToTimestamp(*m.alerted_at, pm->mutable_overdue_alerted_at());
    }
    for (const Criterion& c : o.criteria) CriterionToProto(c, po->add_criteria());
  }
}

void PlanViewToProto(const SuccessPlan& plan, absl::Time now, v1::SuccessPlan* out) {
  SuccessPlanToProto(plan, out);
  for (size_t i = 0; i < plan.objectives.size(); ++i) {
    const Objective& o = plan.objectives[i];
    v1::Objective* po = out->mutable_objectives(static_cast<int>(i));
    po->set_achieved(IsAchieved(o));
    for (size_t j = 0; j < o.milestones.size(); ++j) {
      po->mutable_milestones(static_cast<int>(j))->set_overdue(IsOverdue(o.milestones[j], now));
    }
  }
  const PlanProgress p = ComputeProgress(plan, now);
  v1::SuccessPlanProgress* pp = out->mutable_progress();
  pp->set_objectives(p.objectives);
  pp->set_objectives_achieved(p.objectives_achieved);
  pp->set_milestones(p.milestones);
  pp->set_milestones_completed(p.milestones_completed);
  pp->set_milestones_met_on_time(p.milestones_met_on_time);
  pp->set_milestones_overdue(p.milestones_overdue);
  pp->set_on_time_share(p.on_time_share);
  pp->set_criteria(p.criteria);
  pp->set_criteria_met(p.criteria_met);
}

absl::StatusOr<PlanTemplate> PlanTemplateFromProto(const v1::SuccessPlanTemplate& p) {
  if (!hv1::Tier_IsValid(p.tier())) return Unknown("plan_template.tier", p.tier());
  if (!hv1::Industry_IsValid(p.industry())) return Unknown("plan_template.industry", p.industry());
  PlanTemplate t;
  t.template_id = p.template_id();
  t.name = p.name();
  t.tier = EnumSuffix(hv1::Tier_Name(p.tier()), "TIER_");
  t.industry = EnumSuffix(hv1::Industry_Name(p.industry()), "INDUSTRY_");
  if (p.has_created_at()) t.created_at = FromTimestamp(p.created_at());
  for (int i = 0; i < p.objectives_size(); ++i) {
    const v1::ObjectiveTemplate& po = p.objectives(i);
    ObjectiveTemplate o;
    o.title = po.title();
    o.description = po.description();
    for (const v1::MilestoneTemplate& m : po.milestones()) {
      o.milestones.push_back({m.title(), m.due_after_days()});
    }
    for (int j = 0; j < po.criteria_size(); ++j) {
      absl::StatusOr<Criterion> c = CriterionFromProto(
          absl::StrCat("plan_template.objectives[", i, "].criteria[", j, "]"), po.criteria(j));
      if (!c.ok()) return c.status();
      o.criteria.push_back(*std::move(c));
    }
    t.objectives.push_back(std::move(o));
  }
  return t;
}

void PlanTemplateToProto(const PlanTemplate& t, v1::SuccessPlanTemplate* out) {
  out->set_template_id(t.template_id);
  out->set_name(t.name);
  hv1::Tier tier = hv1::TIER_UNSPECIFIED;
  if (!t.tier.empty()) hv1::Tier_Parse(absl::StrCat("TIER_", t.tier), &tier);
  out->set_tier(tier);
  hv1::Industry industry = hv1::INDUSTRY_UNSPECIFIED;
  if (!t.industry.empty()) hv1::Industry_Parse(absl::StrCat("INDUSTRY_", t.industry), &industry);
  out->set_industry(industry);
  ToTimestamp(t.created_at, out->mutable_created_at());
  for (const ObjectiveTemplate& o : t.objectives) {
    v1::ObjectiveTemplate* po = out->add_objectives();
    po->set_title(o.title);
    po->set_description(o.description);
    for (const MilestoneTemplate& m : o.milestones) {
      v1::MilestoneTemplate* pm = po->add_milestones();
      pm->set_title(m.title);
      pm->set_due_after_days(m.due_after_days);
    }
    for (const Criterion& c : o.criteria) CriterionToProto(c, po->add_criteria());
  }
}

void MilestoneAlertToProto(const MilestoneAlert& a, v1::MilestoneOverdue* out) {
  out->set_plan_id(a.plan_id);
  out->set_account_id(a.account_id);
  out->set_objective_id(a.objective_id);
  out->set_milestone_id(a.milestone_id);
  out->set_title(a.title);
  out->set_owner_id(a.owner_id);
  ToTimestamp(a.due_at, out->mutable_due_at());
}

MilestoneAlert MilestoneAlertFromProto(const v1::MilestoneOverdue& p) {
  return {p.plan_id(), p.account_id(),  p.objective_id(),       p.milestone_id(),
          p.title(),   p.owner_id(),    FromTimestamp(p.due_at())};
}

}  // namespace cs::playbooks
