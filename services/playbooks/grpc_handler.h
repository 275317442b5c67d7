#ifndef CS_SERVICES_PLAYBOOKS_GRPC_HANDLER_H_
#define CS_SERVICES_PLAYBOOKS_GRPC_HANDLER_H_

#include "common/server/audit.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "services/playbooks/advocacy_service.h"
#include "services/playbooks/escalation_service.h"
#include "services/playbooks/onboarding_service.h"
#include "services/playbooks/playbook_service.h"
#include "services/playbooks/success_plan_service.h"

namespace cs::playbooks {

class PlaybookHandler final : public cs::playbooks::v1::PlaybookService::Service {
 public:
  PlaybookHandler(EscalationService* escalations, PlaybookService* playbooks);

#define CS_PLAYBOOKS_UNARY(Name)                                                        \
  grpc::Status Name(grpc::ServerContext* context,                                       \
                    const cs::playbooks::v1::Name##Request* request,                    \
                    cs::playbooks::v1::Name##Response* response) override
  CS_PLAYBOOKS_UNARY(UpsertEscalationChain);
  CS_PLAYBOOKS_UNARY(GetEscalationChain);
  CS_PLAYBOOKS_UNARY(ListEscalationChains);
  CS_PLAYBOOKS_UNARY(CreatePlaybook);
  CS_PLAYBOOKS_UNARY(UpdatePlaybook);
  CS_PLAYBOOKS_UNARY(GetPlaybook);
  CS_PLAYBOOKS_UNARY(ListPlaybooks);
  CS_PLAYBOOKS_UNARY(StartPlaybook);
  CS_PLAYBOOKS_UNARY(GetRun);
  CS_PLAYBOOKS_UNARY(ListRuns);
  CS_PLAYBOOKS_UNARY(CancelRun);
  CS_PLAYBOOKS_UNARY(ListTasks);
  CS_PLAYBOOKS_UNARY(GetTask);
  CS_PLAYBOOKS_UNARY(CompleteTask);
  CS_PLAYBOOKS_UNARY(SnoozeTask);
  CS_PLAYBOOKS_UNARY(ReassignTask);
  CS_PLAYBOOKS_UNARY(ListEscalations);
  CS_PLAYBOOKS_UNARY(ListTaskEvents);
  CS_PLAYBOOKS_UNARY(GetProgramMetrics);
  CS_PLAYBOOKS_UNARY(GetPlaybookLift);
  // Onboarding metrics and advocacy (advocacy_handler.cc); UNIMPLEMENTED until attached.
  CS_PLAYBOOKS_UNARY(GetOnboardingMetrics);
  CS_PLAYBOOKS_UNARY(ListAdvocateCandidates);
  CS_PLAYBOOKS_UNARY(RecordAdvocacyAsk);
  CS_PLAYBOOKS_UNARY(UpdateAdvocacyAsk);
  CS_PLAYBOOKS_UNARY(ListAdvocacyAsks);
  // Success plans (success_plan_handler.cc); UNIMPLEMENTED until attached.
  CS_PLAYBOOKS_UNARY(CreateSuccessPlan);
  CS_PLAYBOOKS_UNARY(GetSuccessPlan);
  CS_PLAYBOOKS_UNARY(ListSuccessPlans);
  CS_PLAYBOOKS_UNARY(UpdateSuccessPlan);
  CS_PLAYBOOKS_UNARY(CompleteMilestone);
  CS_PLAYBOOKS_UNARY(CreateSuccessPlanTemplate);
  CS_PLAYBOOKS_UNARY(ListSuccessPlanTemplates);
#undef CS_PLAYBOOKS_UNARY
  void AttachSuccessPlans(SuccessPlanService* plans);
  void AttachOutcomes(OnboardingService* onboarding, AdvocacyService* advocacy) {
    onboarding_ = onboarding;
    advocacy_ = advocacy;
  }

  grpc::Status WatchTasks(grpc::ServerContext* context,
                          const cs::playbooks::v1::WatchTasksRequest* request,
                          grpc::ServerWriter<cs::playbooks::v1::WatchTasksResponse>* writer) override;

  // The audit trail (common/server/audit.h), read with the admin scope; UNAVAILABLE
  // until attached.
  void AttachAuditLog(db::AuditLog* log) { audit_log_ = log; }
  grpc::Status ListAuditEvents(grpc::ServerContext*,
                               const cs::playbooks::v1::ListAuditEventsRequest* request,
                               cs::playbooks::v1::ListAuditEventsResponse* response) override {
    return ServeListAuditEvents(audit_log_, request->filter(), request->page(),
                                response->mutable_events(), response->mutable_page());
  }

 private:
  // Sets success_plan_id on a QBR task: the plan it reviews (success_plan_handler.cc).
  absl::Status LinkPlan(const Task& task, cs::playbooks::v1::Task* out);

  SuccessPlanService* plans_ = nullptr;
  db::ResultCodec<SuccessPlan> plan_codec_;
  db::ResultCodec<PlanTemplate> template_codec_;
  OnboardingService* onboarding_ = nullptr;
  AdvocacyService* advocacy_ = nullptr;
  EscalationService* escalations_;
  db::AuditLog* audit_log_ = nullptr;
  PlaybookService* playbooks_;
  db::ResultCodec<EscalationChain> chain_codec_;
  db::ResultCodec<Playbook> playbook_codec_;
  db::ResultCodec<StartResult> start_codec_;
  db::ResultCodec<Run> run_codec_;
  db::ResultCodec<Task> task_codec_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_GRPC_HANDLER_H_
