#ifndef CS_SERVICES_PLAYBOOKS_GRPC_HANDLER_H_
#define CS_SERVICES_PLAYBOOKS_GRPC_HANDLER_H_

#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "services/playbooks/escalation_service.h"
#include "services/playbooks/playbook_service.h"

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
#undef CS_PLAYBOOKS_UNARY

  grpc::Status WatchTasks(grpc::ServerContext* context,
                          const cs::playbooks::v1::WatchTasksRequest* request,
                          grpc::ServerWriter<cs::playbooks::v1::WatchTasksResponse>* writer) override;

 private:
  EscalationService* escalations_;
  PlaybookService* playbooks_;
  db::ResultCodec<EscalationChain> chain_codec_;
  db::ResultCodec<Playbook> playbook_codec_;
  db::ResultCodec<StartResult> start_codec_;
  db::ResultCodec<Run> run_codec_;
  db::ResultCodec<Task> task_codec_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_GRPC_HANDLER_H_
