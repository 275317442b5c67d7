#include "services/playbooks/success_plan_service.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/status.h"
#include "common/validation.h"

namespace cs::playbooks {
namespace {

constexpr int kMaxPageSize = 1000;
constexpr char kConsumer[] = "success_plans";

void DefaultMilestoneStatuses(SuccessPlan* plan) {
  for (Objective& o : plan->objectives) {
    for (Milestone& m : o.milestones) {
      if (m.status == MilestoneStatus::kUnspecified) m.status = MilestoneStatus::kPlanned;
    }
  }
}

}  // namespace

absl::StatusOr<SuccessPlan> SuccessPlanService::CreatePlan(const db::WriteKey& key,
                                                           const db::ResultCodec<SuccessPlan>& codec,
                                                           SuccessPlan plan,
                                                           const std::string& template_id) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("template_id", template_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("plan.account_id", plan.account_id));
  const absl::Time now = clock_->Now();
  if (plan.plan_id.empty()) {
    // From the request id when there is one, so a retry names the same plan.
    plan.plan_id = absl::StrCat(
        "sp-", Fingerprint64Hex(absl::StrCat(plan.account_id, "/",
                                             key.request_id.empty()
                                                 ? absl::FormatTime(now) : key.request_id)));
  }
  if (plan.status == PlanStatus::kUnspecified) plan.status = PlanStatus::kActive;
  if (plan.starts_at == absl::InfinitePast()) plan.starts_at = now;
  if (!template_id.empty()) {
    if (!plan.objectives.empty()) {
      return absl::InvalidArgumentError(
          "plan.objectives: must be empty when template_id is set (they come from the template)");
    }
    absl::StatusOr<PlanTemplate> t = repository_->GetTemplate(template_id);
    if (absl::IsNotFound(t.status())) {
      return absl::InvalidArgumentError(
          absl::StrCat("template_id: no template '", template_id, "'"));
    }
    if (!t.ok()) return t.status();
    Instantiate(*t, &plan);
  }
  DefaultMilestoneStatuses(&plan);
  RETURN_IF_ERROR(ValidatePlan(plan));
  AssignPlanIds(&plan);
  CarryServerState(SuccessPlan{}, &plan, now);
  return repository_->CreatePlan(key, codec, plan, now);
}

absl::StatusOr<SuccessPlan> SuccessPlanService::GetPlan(const std::string& plan_id) {
  RETURN_IF_ERROR(ValidateId("plan_id", plan_id));
  return repository_->GetPlan(plan_id);
}

absl::StatusOr<PlanPage> SuccessPlanService::ListPlans(const PlanFilter& filter) {
  PlanFilter f = filter;
  RETURN_IF_ERROR(ValidateId("account_id", f.account_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("owner_id", f.owner_id, /*required=*/false));
  if (f.page_size < 0 || f.page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: must be in 0-", kMaxPageSize));
  }
  if (f.page_size == 0) f.page_size = 50;
  return repository_->ListPlans(f);
}

absl::StatusOr<SuccessPlan> SuccessPlanService::UpdatePlan(const db::WriteKey& key,
                                                           const db::ResultCodec<SuccessPlan>& codec,
                                                           SuccessPlan plan) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("plan.plan_id", plan.plan_id));
  if (plan.version < 1) {
    return absl::InvalidArgumentError("plan.version: must be the current version");
  }
  DefaultMilestoneStatuses(&plan);
  RETURN_IF_ERROR(ValidatePlan(plan));
  AssignPlanIds(&plan);
  return repository_->UpdatePlan(key, codec, plan, clock_->Now());
}

absl::StatusOr<SuccessPlan> SuccessPlanService::CompleteMilestone(
    const db::WriteKey& key, const db::ResultCodec<SuccessPlan>& codec, const std::string& plan_id,
    const std::string& milestone_id) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("plan_id", plan_id));
  RETURN_IF_ERROR(ValidateId("milestone_id", milestone_id));
  return repository_->CompleteMilestone(key, codec, plan_id, milestone_id, clock_->Now());
}

absl::StatusOr<PlanTemplate> SuccessPlanService::CreateTemplate(
    const db::WriteKey& key, const db::ResultCodec<PlanTemplate>& codec, const PlanTemplate& t) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateTemplate(t));
  return repository_->CreateTemplate(key, codec, t, clock_->Now());
}

absl::StatusOr<std::vector<PlanTemplate>> SuccessPlanService::ListTemplates(
    const std::string& tier, const std::string& industry) {
  if (!tier.empty() && !IsTierName(tier)) return absl::InvalidArgumentError("tier: unknown tier");
  if (!industry.empty() && !IsIndustryName(industry)) {
    return absl::InvalidArgumentError("industry: unknown industry");
  }
  return repository_->ListTemplates(tier, industry);
}

absl::Status SuccessPlanService::EnsureDefaultTemplates() {
  return repository_->EnsureTemplates(DefaultPlanTemplates(), clock_->Now());
}

absl::StatusOr<std::optional<std::string>> SuccessPlanService::PlanReviewedBy(const Task& task) {
  if (task.kind != StepKind::kQbr) return std::optional<std::string>();
  return repository_->PlanReviewedBy(task.account_id, task.created_at, task.due_at);
}

absl::StatusOr<int> SuccessPlanService::ConsumeHealthEvents(int page_size) {
  if (page_size <= 0) page_size = options_.consume_page_size;
  ASSIGN_OR_RETURN(int64_t cursor, repository_->Cursor(kConsumer));
  ASSIGN_OR_RETURN(HealthEventPage page, feed_->ListEvents(cursor, page_size));
  if (page.events.empty()) return 0;
  return repository_->ApplyScoreEvents(kConsumer, page.events, clock_->Now());
}

absl::StatusOr<int> SuccessPlanService::Sweep() {
  const absl::Time now = clock_->Now();
  ASSIGN_OR_RETURN(int alerted, repository_->AlertOverdueMilestones(now, options_.batch));
  ASSIGN_OR_RETURN(int checked, CheckCriteria(now));
  return alerted + checked;
}

absl::StatusOr<int> SuccessPlanService::CheckCriteria(absl::Time now) {
  ASSIGN_OR_RETURN(std::vector<CriterionCheck> claimed,
                   repository_->ClaimCriteriaChecks(now, options_.check_lease, options_.batch));
  if (claimed.empty()) return 0;
  std::map<std::string, std::vector<const CriterionCheck*>> by_account;
  for (const CriterionCheck& c : claimed) by_account[c.account_id].push_back(&c);
  std::vector<CriterionResult> results;
  absl::Status failure;
  for (const auto& [account_id, checks] : by_account) {
    absl::StatusOr<HealthReading> reading = reader_->ReadHealth(account_id);
    if (!reading.ok() && !absl::IsNotFound(reading.status())) {
      // Health away: these stay leased and are checked again when the lease ends.
      failure = reading.status();
      continue;
    }
    for (const CriterionCheck* c : checks) {
      results.push_back({c->plan_id, c->criterion.criterion_id,
                         reading.ok() ? CriterionValue(c->criterion, *reading) : std::nullopt});
    }
  }
  RETURN_IF_ERROR(repository_->RecordCriteriaChecks(results, now, now + options_.check_interval));
  if (!failure.ok()) return failure;
  return static_cast<int>(results.size());
}

}  // namespace cs::playbooks
