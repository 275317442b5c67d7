#ifndef CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_MAPPING_H_
#define CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_MAPPING_H_

// Success plans, templates and milestone alerts: proto <-> domain, and nothing else.

#include "absl/status/statusor.h"
#include "cs/playbooks/v1/success_plans.pb.h"
#include "services/playbooks/playbook.h"
#include "services/playbooks/success_plan.h"

namespace cs::playbooks {

// INVALID_ARGUMENT naming the field for an enum value this service does not know.
// Unset timestamps become absl::InfinitePast() (validation names them).
absl::StatusOr<SuccessPlan> SuccessPlanFromProto(const cs::playbooks::v1::SuccessPlan& p);
// The stored plan; progress and the overdue flags are added by PlanViewToProto.
void SuccessPlanToProto(const SuccessPlan& plan, cs::playbooks::v1::SuccessPlan* out);
// The plan as clients see it at `now`: with progress, objectives achieved and
// milestones overdue.
void PlanViewToProto(const SuccessPlan& plan, absl::Time now, cs::playbooks::v1::SuccessPlan* out);

absl::StatusOr<PlanTemplate> PlanTemplateFromProto(const cs::playbooks::v1::SuccessPlanTemplate& p);
void PlanTemplateToProto(const PlanTemplate& t, cs::playbooks::v1::SuccessPlanTemplate* out);

void MilestoneAlertToProto(const MilestoneAlert& a, cs::playbooks::v1::MilestoneOverdue* out);
MilestoneAlert MilestoneAlertFromProto(const cs::playbooks::v1::MilestoneOverdue& p);

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_MAPPING_H_
