// The success-plan RPCs of PlaybookService: thin, like grpc_handler.cc (validate
// enums, map, call SuccessPlanService, map the status).

#include "absl/strings/str_cat.h"
#include "common/server/common_mapping.h"
#include "common/server/grpc_status.h"
#include "common/server/proto_util.h"
#include "services/playbooks/grpc_handler.h"
#include "services/playbooks/proto_mapping.h"
#include "services/playbooks/success_plan_mapping.h"

namespace cs::playbooks {

namespace hv1 = ::cs::health::v1;

namespace {

grpc::Status Unattached() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "success plans are not enabled");
}

}  // namespace

void PlaybookHandler::AttachSuccessPlans(SuccessPlanService* plans) {
  plans_ = plans;
  plan_codec_ = ProtoCodec<SuccessPlan, v1::SuccessPlan>(SuccessPlanToProto, SuccessPlanFromProto);
  template_codec_ = ProtoCodec<PlanTemplate, v1::SuccessPlanTemplate>(PlanTemplateToProto,
                                                                      PlanTemplateFromProto);
}

absl::Status PlaybookHandler::LinkPlan(const Task& task, v1::Task* out) {
  if (plans_ == nullptr) return absl::OkStatus();
  absl::StatusOr<std::optional<std::string>> plan = plans_->PlanReviewedBy(task);
  if (!plan.ok()) return plan.status();
  if (plan->has_value()) out->set_success_plan_id(**plan);
  return absl::OkStatus();
}

grpc::Status PlaybookHandler::CreateSuccessPlan(grpc::ServerContext*,
                                                const v1::CreateSuccessPlanRequest* request,
                                                v1::CreateSuccessPlanResponse* response) {
  if (plans_ == nullptr) return Unattached();
  absl::StatusOr<SuccessPlan> plan = SuccessPlanFromProto(request->plan());
  if (!plan.ok()) return ToGrpcStatus(plan.status());
  absl::StatusOr<SuccessPlan> stored = plans_->CreatePlan(
      WriteKeyOf("CreateSuccessPlan", *request, request->request_id()), plan_codec_,
      *std::move(plan), request->template_id());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  PlanViewToProto(*stored, plans_->Now(), response->mutable_plan());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::GetSuccessPlan(grpc::ServerContext*,
                                             const v1::GetSuccessPlanRequest* request,
                                             v1::GetSuccessPlanResponse* response) {
  if (plans_ == nullptr) return Unattached();
  absl::StatusOr<SuccessPlan> plan = plans_->GetPlan(request->plan_id());
  if (!plan.ok()) return ToGrpcStatus(plan.status());
  PlanViewToProto(*plan, plans_->Now(), response->mutable_plan());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::ListSuccessPlans(grpc::ServerContext*,
                                               const v1::ListSuccessPlansRequest* request,
                                               v1::ListSuccessPlansResponse* response) {
  if (plans_ == nullptr) return Unattached();
  PlanFilter filter;
  filter.account_id = request->account_id();
  filter.owner_id = request->owner_id();
  if (!v1::SuccessPlanStatus_IsValid(request->status())) {
    return ToGrpcStatus(
        absl::InvalidArgumentError(absl::StrCat("status: unknown value ", request->status())));
  }
  if (request->status() != v1::SUCCESS_PLAN_STATUS_UNSPECIFIED) {
    filter.status = static_cast<PlanStatus>(request->status());
  }
  filter.page_size = request->page_size();
  if (!request->page_token().empty()) {
    absl::StatusOr<std::string> after = DecodePageToken(request->page_token());
    if (!after.ok()) return ToGrpcStatus(after.status());
    filter.after = *after;
  }
  absl::StatusOr<PlanPage> page = plans_->ListPlans(filter);
  if (!page.ok()) return ToGrpcStatus(page.status());
  const absl::Time now = plans_->Now();
  for (const SuccessPlan& p : page->plans) PlanViewToProto(p, now, response->add_plans());
  if (!page->next.empty()) response->set_next_page_token(EncodePageToken(page->next));
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::UpdateSuccessPlan(grpc::ServerContext*,
                                                const v1::UpdateSuccessPlanRequest* request,
                                                v1::UpdateSuccessPlanResponse* response) {
  if (plans_ == nullptr) return Unattached();
  absl::StatusOr<SuccessPlan> plan = SuccessPlanFromProto(request->plan());
  if (!plan.ok()) return ToGrpcStatus(plan.status());
  absl::StatusOr<SuccessPlan> stored = plans_->UpdatePlan(
      WriteKeyOf("UpdateSuccessPlan", *request, request->request_id()), plan_codec_,
      *std::move(plan));
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  PlanViewToProto(*stored, plans_->Now(), response->mutable_plan());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::CompleteMilestone(grpc::ServerContext*,
                                                const v1::CompleteMilestoneRequest* request,
                                                v1::CompleteMilestoneResponse* response) {
  if (plans_ == nullptr) return Unattached();
  absl::StatusOr<SuccessPlan> stored = plans_->CompleteMilestone(
      WriteKeyOf("CompleteMilestone", *request, request->request_id()), plan_codec_,
      request->plan_id(), request->milestone_id());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  PlanViewToProto(*stored, plans_->Now(), response->mutable_plan());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::CreateSuccessPlanTemplate(
    grpc::ServerContext*, const v1::CreateSuccessPlanTemplateRequest* request,
    v1::CreateSuccessPlanTemplateResponse* response) {
  if (plans_ == nullptr) return Unattached();
  absl::StatusOr<PlanTemplate> t = PlanTemplateFromProto(request->plan_template());
  if (!t.ok()) return ToGrpcStatus(t.status());
  absl::StatusOr<PlanTemplate> stored = plans_->CreateTemplate(
      WriteKeyOf("CreateSuccessPlanTemplate", *request, request->request_id()), template_codec_,
      *t);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  PlanTemplateToProto(*stored, response->mutable_plan_template());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::ListSuccessPlanTemplates(
    grpc::ServerContext*, const v1::ListSuccessPlanTemplatesRequest* request,
    v1::ListSuccessPlanTemplatesResponse* response) {
  if (plans_ == nullptr) return Unattached();
  if (!hv1::Tier_IsValid(request->tier())) {
    return ToGrpcStatus(
        absl::InvalidArgumentError(absl::StrCat("tier: unknown value ", request->tier())));
  }
  if (!hv1::Industry_IsValid(request->industry())) {
    return ToGrpcStatus(
        absl::InvalidArgumentError(absl::StrCat("industry: unknown value ", request->industry())));
  }
  absl::StatusOr<std::vector<PlanTemplate>> templates =
      plans_->ListTemplates(EnumSuffix(hv1::Tier_Name(request->tier()), "TIER_"),
                            EnumSuffix(hv1::Industry_Name(request->industry()), "INDUSTRY_"));
  if (!templates.ok()) return ToGrpcStatus(templates.status());
  for (const PlanTemplate& t : *templates) PlanTemplateToProto(t, response->add_templates());
  return grpc::Status::OK;
}

}  // namespace cs::playbooks
