#include "services/playbooks/success_plan.h"

#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/enum_names.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/playbooks/playbook.h"

namespace cs::playbooks {
namespace {

constexpr EnumNames<PlanStatus, 4> kPlanStatuses({{
    {PlanStatus::kUnspecified, "UNSPECIFIED"},
    {PlanStatus::kActive, "ACTIVE"},
    {PlanStatus::kCompleted, "COMPLETED"},
    {PlanStatus::kCancelled, "CANCELLED"},
}});

constexpr EnumNames<MilestoneStatus, 5> kMilestoneStatuses({{
    {MilestoneStatus::kUnspecified, "UNSPECIFIED"},
    {MilestoneStatus::kPlanned, "PLANNED"},
    {MilestoneStatus::kInProgress, "IN_PROGRESS"},
    {MilestoneStatus::kCompleted, "COMPLETED"},
    {MilestoneStatus::kCancelled, "CANCELLED"},
}});

constexpr EnumNames<CriterionSource, 5> kCriterionSources({{
    {CriterionSource::kUnspecified, "UNSPECIFIED"},
    {CriterionSource::kHealthScore, "HEALTH_SCORE"},
    {CriterionSource::kComponent, "COMPONENT"},
    {CriterionSource::kMeasure, "MEASURE"},
    {CriterionSource::kManual, "MANUAL"},
}});

constexpr EnumNames<Comparison, 3> kComparisons({{
    {Comparison::kUnspecified, "UNSPECIFIED"},
    {Comparison::kAtLeast, "AT_LEAST"},
    {Comparison::kAtMost, "AT_MOST"},
}});

// The health scorecard's components (cs.health.v1.Component without its prefix).
constexpr absl::string_view kComponents[] = {
    "PRODUCT_USAGE", "FEATURE_ADOPTION", "SUPPORT",       "PAYMENT_HISTORY",
    "ENGAGEMENT",    "EXPANSION_INTEREST", "RELATIONSHIP", "BUSINESS_OUTCOMES"};

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// Plan-local ids: short, and free of what would need escaping in a page token.
absl::Status ValidateLocalId(absl::string_view field, const std::string& id) {
  if (id.empty()) return absl::OkStatus();
  if (id.size() > 64) return Invalid(field, "longer than 64 characters");
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return Invalid(field, "may contain only letters, digits, '-', '_' and '.'");
  }
  return absl::OkStatus();
}

absl::Status ValidateCriterion(const std::string& field, const Criterion& c) {
  RETURN_IF_ERROR(ValidateText(absl::StrCat(field, ".description"), c.description, 200,
                               /*required=*/true));
  switch (c.source) {
    case CriterionSource::kHealthScore:
    case CriterionSource::kManual:
      if (!c.name.empty()) return Invalid(absl::StrCat(field, ".name"), "must be empty for this source");
      break;
    case CriterionSource::kComponent: {
      bool known = false;
      for (absl::string_view k : kComponents) known = known || k == c.name;
      if (!known) {
        return Invalid(absl::StrCat(field, ".name"),
                       absl::StrCat("unknown health component '", c.name, "'"));
      }
      break;
    }
    case CriterionSource::kMeasure:
      RETURN_IF_ERROR(ValidateLocalId(absl::StrCat(field, ".name"), c.name));
      if (c.name.empty()) return Invalid(absl::StrCat(field, ".name"), "must name a measure");
      break;
    default:
      return Invalid(absl::StrCat(field, ".source"), "must be set");
  }
  if (c.source != CriterionSource::kManual && c.comparison == Comparison::kUnspecified) {
    return Invalid(absl::StrCat(field, ".comparison"), "must be set");
  }
  if (!std::isfinite(c.target)) return Invalid(absl::StrCat(field, ".target"), "must be a number");
  return absl::OkStatus();
}

absl::Status ValidateTier(absl::string_view field, const std::string& tier) {
  if (!IsTierName(tier)) return Invalid(field, "must be a tier");
  return absl::OkStatus();
}

}  // namespace

absl::string_view PlanStatusName(PlanStatus s) { return kPlanStatuses.Name(s); }
std::optional<PlanStatus> PlanStatusFromName(absl::string_view n) { return kPlanStatuses.Parse(n); }
absl::string_view MilestoneStatusName(MilestoneStatus s) { return kMilestoneStatuses.Name(s); }
std::optional<MilestoneStatus> MilestoneStatusFromName(absl::string_view n) {
  return kMilestoneStatuses.Parse(n);
}
absl::string_view CriterionSourceName(CriterionSource s) { return kCriterionSources.Name(s); }
std::optional<CriterionSource> CriterionSourceFromName(absl::string_view n) {
  return kCriterionSources.Parse(n);
}
absl::string_view ComparisonName(Comparison c) { return kComparisons.Name(c); }
std::optional<Comparison> ComparisonFromName(absl::string_view n) { return kComparisons.Parse(n); }

absl::Status ValidatePlan(const SuccessPlan& p) {
  RETURN_IF_ERROR(ValidateId("plan.plan_id", p.plan_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("plan.account_id", p.account_id));
  RETURN_IF_ERROR(ValidateText("plan.title", p.title, 200, /*required=*/true));
  RETURN_IF_ERROR(ValidateId("plan.owner_id", p.owner_id));
  if (p.status == PlanStatus::kUnspecified) return Invalid("plan.status", "must be set");
  if (p.roi_amount.has_value()) {
    RETURN_IF_ERROR(ValidateMoney("plan.expected_roi.amount", *p.roi_amount,
                                  /*allow_negative=*/false));
  }
  RETURN_IF_ERROR(ValidateText("plan.expected_roi.description", p.roi_description, 2000,
                               /*required=*/false));
  if (p.objectives.empty()) return Invalid("plan.objectives", "at least one objective is required");
  if (p.objectives.size() > kMaxObjectives) {
    return Invalid("plan.objectives", absl::StrCat("at most ", kMaxObjectives));
  }
  std::set<std::string> objective_ids;
  std::set<std::string> item_ids;  // milestones and criteria share the plan's namespace
  for (size_t i = 0; i < p.objectives.size(); ++i) {
    const Objective& o = p.objectives[i];
    const std::string field = absl::StrCat("plan.objectives[", i, "]");
    RETURN_IF_ERROR(ValidateLocalId(field + ".objective_id", o.objective_id));
    if (!o.objective_id.empty() && !objective_ids.insert(o.objective_id).second) {
      return Invalid(field + ".objective_id", "duplicate id");
    }
    RETURN_IF_ERROR(ValidateText(field + ".title", o.title, 200, /*required=*/true));
    RETURN_IF_ERROR(ValidateText(field + ".description", o.description, 2000, /*required=*/false));
    if (o.milestones.size() > kMaxPlanItems) {
      return Invalid(field + ".milestones", absl::StrCat("at most ", kMaxPlanItems));
    }
    if (o.criteria.size() > kMaxPlanItems) {
      return Invalid(field + ".criteria", absl::StrCat("at most ", kMaxPlanItems));
    }
    for (size_t j = 0; j < o.milestones.size(); ++j) {
      const Milestone& m = o.milestones[j];
      const std::string mf = absl::StrCat(field, ".milestones[", j, "]");
      RETURN_IF_ERROR(ValidateLocalId(mf + ".milestone_id", m.milestone_id));
      if (!m.milestone_id.empty() && !item_ids.insert(m.milestone_id).second) {
        return Invalid(mf + ".milestone_id", "duplicate id");
      }
      RETURN_IF_ERROR(ValidateText(mf + ".title", m.title, 200, /*required=*/true));
      if (m.due_at == absl::InfinitePast() || m.due_at == absl::UnixEpoch()) {
        return Invalid(mf + ".due_at", "must be set");
      }
      RETURN_IF_ERROR(ValidateId(mf + ".owner_id", m.owner_id, /*required=*/false));
      if (m.status == MilestoneStatus::kUnspecified) return Invalid(mf + ".status", "must be set");
    }
    for (size_t j = 0; j < o.criteria.size(); ++j) {
      const Criterion& c = o.criteria[j];
      const std::string cf = absl::StrCat(field, ".criteria[", j, "]");
      RETURN_IF_ERROR(ValidateLocalId(cf + ".criterion_id", c.criterion_id));
      if (!c.criterion_id.empty() && !item_ids.insert(c.criterion_id).second) {
        return Invalid(cf + ".criterion_id", "duplicate id");
      }
      RETURN_IF_ERROR(ValidateCriterion(cf, c));
    }
  }
  return absl::OkStatus();
}

void AssignPlanIds(SuccessPlan* plan) {
  std::set<std::string> taken;
  for (const Objective& o : plan->objectives) {
    taken.insert(o.objective_id);
    for (const Milestone& m : o.milestones) taken.insert(m.milestone_id);
    for (const Criterion& c : o.criteria) taken.insert(c.criterion_id);
  }
  // The first free "<base>", "<base>.2", "<base>.3", ...
  auto fresh = [&taken](const std::string& base) {
    std::string id = base;
    for (int n = 2; taken.count(id) > 0; ++n) id = absl::StrCat(base, ".", n);
    taken.insert(id);
    return id;
  };
  for (size_t i = 0; i < plan->objectives.size(); ++i) {
    Objective& o = plan->objectives[i];
    if (o.objective_id.empty()) o.objective_id = fresh(absl::StrCat("o", i + 1));
    for (size_t j = 0; j < o.milestones.size(); ++j) {
      if (o.milestones[j].milestone_id.empty()) {
        o.milestones[j].milestone_id = fresh(absl::StrCat(o.objective_id, "-m", j + 1));
      }
    }
    for (size_t j = 0; j < o.criteria.size(); ++j) {
      if (o.criteria[j].criterion_id.empty()) {
        o.criteria[j].criterion_id = fresh(absl::StrCat(o.objective_id, "-c", j + 1));
      }
    }
  }
}

void CarryServerState(const SuccessPlan& current, SuccessPlan* next, absl::Time now) {
  std::map<std::string, const Milestone*> milestones;
  std::map<std::string, const Criterion*> criteria;
  for (const Objective& o : current.objectives) {
    for (const Milestone& m : o.milestones) milestones[m.milestone_id] = &m;
    for (const Criterion& c : o.criteria) criteria[c.criterion_id] = &c;
  }
  for (Objective& o : next->objectives) {
    for (Milestone& m : o.milestones) {
      auto it = milestones.find(m.milestone_id);
      const Milestone* old = it == milestones.end() ? nullptr : it->second;
      // A new due time is a new promise: missing it deserves its own alert.
      m.alerted_at = old != nullptr && old->due_at == m.due_at ? old->alerted_at : std::nullopt;
      if (m.status == MilestoneStatus::kCompleted) {
        m.completed_at = old != nullptr && old->status == MilestoneStatus::kCompleted
                             ? old->completed_at
                             : std::optional<absl::Time>(now);
      } else {
        m.completed_at = std::nullopt;
      }
    }
    for (Criterion& c : o.criteria) {
      auto it = criteria.find(c.criterion_id);
      const Criterion* old = it == criteria.end() ? nullptr : it->second;
      if (c.source == CriterionSource::kManual) {
        const bool was_met = old != nullptr && old->source == CriterionSource::kManual && old->met;
        c.met_at = !c.met ? std::nullopt : was_met ? old->met_at : std::optional<absl::Time>(now);
        continue;
      }
      const bool same = old != nullptr && old->source == c.source && old->name == c.name &&
                        old->comparison == c.comparison && old->target == c.target;
      c.met = same && old->met;
      c.met_at = same ? old->met_at : std::nullopt;
      c.last_value = same ? old->last_value : 0;
      c.last_checked_at = same ? old->last_checked_at : std::nullopt;
    }
  }
}

bool IsOverdue(const Milestone& m, absl::Time now) {
  return m.status != MilestoneStatus::kCompleted && m.status != MilestoneStatus::kCancelled &&
         m.due_at < now;
}

bool IsAchieved(const Objective& o) {
  if (!o.criteria.empty()) {
    for (const Criterion& c : o.criteria) {
      if (!c.met) return false;
    }
    return true;
  }
  int counted = 0;
  for (const Milestone& m : o.milestones) {
    if (m.status == MilestoneStatus::kCancelled) continue;
    if (m.status != MilestoneStatus::kCompleted) return false;
    ++counted;
  }
  return counted > 0;
}

PlanProgress ComputeProgress(const SuccessPlan& plan, absl::Time now) {
  PlanProgress p;
  int decided = 0;
  for (const Objective& o : plan.objectives) {
    ++p.objectives;
    if (IsAchieved(o)) ++p.objectives_achieved;
    for (const Milestone& m : o.milestones) {
      if (m.status == MilestoneStatus::kCancelled) continue;
      ++p.milestones;
      if (m.status == MilestoneStatus::kCompleted) {
        ++p.milestones_completed;
        ++decided;
        if (m.completed_at.has_value() && *m.completed_at <= m.due_at) ++p.milestones_met_on_time;
      } else if (m.due_at < now) {
        ++p.milestones_overdue;
        ++decided;
      }
    }
    for (const Criterion& c : o.criteria) {
      ++p.criteria;
      if (c.met) ++p.criteria_met;
    }
  }
  p.on_time_share = decided == 0 ? 0 : static_cast<double>(p.milestones_met_on_time) / decided;
  return p;
}

std::optional<double> CriterionValue(const Criterion& c, const HealthReading& reading) {
  switch (c.source) {
    case CriterionSource::kHealthScore:
      if (!reading.has_score) return std::nullopt;
      return reading.score;
    case CriterionSource::kComponent: {
      auto it = reading.components.find(c.name);
      if (it == reading.components.end()) return std::nullopt;
      return it->second;
    }
    case CriterionSource::kMeasure: {
      auto it = reading.measures.find(c.name);
      if (it == reading.measures.end()) return std::nullopt;
      return it->second;
    }
    default:
      return std::nullopt;
  }
}

bool MeetsTarget(const Criterion& c, double value) {
  switch (c.comparison) {
    case Comparison::kAtLeast:
      return value >= c.target;
    case Comparison::kAtMost:
      return value <= c.target;
    default:
      return false;
  }
}

absl::Status ValidateTemplate(const PlanTemplate& t) {
  RETURN_IF_ERROR(ValidateId("plan_template.template_id", t.template_id));
  RETURN_IF_ERROR(ValidateText("plan_template.name", t.name, 200, /*required=*/true));
  RETURN_IF_ERROR(ValidateTier("plan_template.tier", t.tier));
  if (!t.industry.empty() && !IsIndustryName(t.industry)) {
    return Invalid("plan_template.industry", "unknown industry");
  }
  if (t.objectives.empty()) {
    return Invalid("plan_template.objectives", "at least one objective is required");
  }
  if (t.objectives.size() > kMaxObjectives) {
    return Invalid("plan_template.objectives", absl::StrCat("at most ", kMaxObjectives));
  }
  for (size_t i = 0; i < t.objectives.size(); ++i) {
    const ObjectiveTemplate& o = t.objectives[i];
    const std::string field = absl::StrCat("plan_template.objectives[", i, "]");
    RETURN_IF_ERROR(ValidateText(field + ".title", o.title, 200, /*required=*/true));
    RETURN_IF_ERROR(ValidateText(field + ".description", o.description, 2000, /*required=*/false));
    if (o.milestones.size() > kMaxPlanItems || o.criteria.size() > kMaxPlanItems) {
      return Invalid(field, absl::StrCat("at most ", kMaxPlanItems, " milestones and criteria"));
    }
    for (size_t j = 0; j < o.milestones.size(); ++j) {
      const std::string mf = absl::StrCat(field, ".milestones[", j, "]");
      RETURN_IF_ERROR(ValidateText(mf + ".title", o.milestones[j].title, 200, /*required=*/true));
      if (o.milestones[j].due_after_days < 0 || o.milestones[j].due_after_days > kMaxTemplateDueDays) {
        return Invalid(mf + ".due_after_days", absl::StrCat("must be in 0-", kMaxTemplateDueDays));
      }
    }
    for (size_t j = 0; j < o.criteria.size(); ++j) {
      RETURN_IF_ERROR(ValidateCriterion(absl::StrCat(field, ".criteria[", j, "]"), o.criteria[j]));
    }
  }
  return absl::OkStatus();
}

void Instantiate(const PlanTemplate& t, SuccessPlan* plan) {
  plan->template_id = t.template_id;
  plan->objectives.clear();
  for (const ObjectiveTemplate& ot : t.objectives) {
    Objective o;
    o.title = ot.title;
    o.description = ot.description;
    for (const MilestoneTemplate& mt : ot.milestones) {
      Milestone m;
      m.title = mt.title;
      m.due_at = plan->starts_at + absl::Hours(24 * mt.due_after_days);
      m.status = MilestoneStatus::kPlanned;
      o.milestones.push_back(std::move(m));
    }
    for (const Criterion& ct : ot.criteria) {
      Criterion c;
      c.description = ct.description;
      c.source = ct.source;
      c.name = ct.name;
      c.comparison = ct.comparison;
      c.target = ct.target;
      o.criteria.push_back(std::move(c));
    }
    plan->objectives.push_back(std::move(o));
  }
}

std::vector<PlanTemplate> DefaultPlanTemplates() {
  struct TierDefaults {
    const char* tier;
    const char* label;
    int first_value_days;  // DOMAIN §1 time-to-first-value target
    double adoption;       // DOMAIN §1 feature-adoption target, %
  };
  const TierDefaults tiers[] = {{"ENTERPRISE", "Enterprise", 7, 80},
                                {"MID_MARKET", "Mid-market", 10, 70},
                                {"SMB", "SMB", 14, 60},
                                {"SOLO", "Solo", 21, 50}};
  std::vector<PlanTemplate> out;
  for (const TierDefaults& d : tiers) {
    PlanTemplate t;
    t.template_id = absl::StrCat("default-", absl::AsciiStrToLower(d.tier));
    absl::StrReplaceAll({{"_", "-"}}, &t.template_id);
    t.name = absl::StrCat(d.label, " success plan");
    t.tier = d.tier;

    ObjectiveTemplate value;
    value.title = "Reach first value";
    value.description = "Seed 002's onboarding path up to the first quick win.";
    value.milestones = {{"Welcome and setup complete", 0},
                        {"Product tour done", 1},
                        {"First quick win", 3},
                        {"First value reached", d.first_value_days}};
    Criterion adoption;
    adoption.description = absl::StrCat("Feature adoption >= ", d.adoption);
    adoption.source = CriterionSource::kComponent;
    adoption.name = "FEATURE_ADOPTION";
    adoption.comparison = Comparison::kAtLeast;
    adoption.target = d.adoption;
    value.criteria = {adoption};

    ObjectiveTemplate health;
    health.title = "Healthy, measurable ROI";
    health.description = "Health above 80 (seed 000) and ROI shown within 90 days (seed 003).";
    health.milestones = {{"Advanced features in use", 14},
                         {"Success review", 30},
                         {"ROI review and success celebration", 90}};
    Criterion score;
    score.description = "Health score >= 80";
    score.source = CriterionSource::kHealthScore;
    score.comparison = Comparison::kAtLeast;
    score.target = 80;
    health.criteria = {score};

    t.objectives = {value, health};
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace cs::playbooks
