#include "services/playbooks/grpc_handler.h"

#include "absl/strings/str_cat.h"
#include "common/server/common_mapping.h"
#include "common/server/grpc_status.h"
#include "common/server/proto_util.h"
#include "services/playbooks/proto_mapping.h"

namespace cs::playbooks {

namespace {

absl::StatusOr<Playbook> PlaybookOf(const v1::Playbook& p) { return PlaybookFromProto(p); }
absl::StatusOr<Task> TaskOf(const v1::Task& p) { return TaskFromProto(p); }
absl::StatusOr<Run> RunOf(const v1::Run& p) { return RunFromProto(p); }

}  // namespace

PlaybookHandler::PlaybookHandler(EscalationService* escalations, PlaybookService* playbooks)
    : escalations_(escalations),
      playbooks_(playbooks),
      chain_codec_(ProtoCodec<EscalationChain, v1::EscalationChain>(ChainToProto, ChainFromProto)),
      playbook_codec_(ProtoCodec<Playbook, v1::Playbook>(PlaybookToProto, PlaybookOf)),
      start_codec_(ProtoCodec<StartResult, v1::StartPlaybookResponse>(StartResultToProto,
                                                                      StartResultFromProto)),
      run_codec_(ProtoCodec<Run, v1::Run>(RunToProto, RunOf)),
      task_codec_(ProtoCodec<Task, v1::Task>(TaskToProto, TaskOf)) {}

grpc::Status PlaybookHandler::UpsertEscalationChain(
    grpc::ServerContext*, const v1::UpsertEscalationChainRequest* request,
    v1::UpsertEscalationChainResponse* response) {
  absl::StatusOr<EscalationChain> chain = ChainFromProto(request->chain());
  if (!chain.ok()) return ToGrpcStatus(chain.status());
  absl::StatusOr<EscalationChain> stored = escalations_->UpsertChain(
      WriteKeyOf("UpsertEscalationChain", *request, request->request_id()), chain_codec_, *chain);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  ChainToProto(*stored, response->mutable_chain());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::GetEscalationChain(grpc::ServerContext*,
                                                 const v1::GetEscalationChainRequest* request,
                                                 v1::GetEscalationChainResponse* response) {
  absl::StatusOr<EscalationChain> chain = escalations_->GetChain(request->chain_id());
  if (!chain.ok()) return ToGrpcStatus(chain.status());
  ChainToProto(*chain, response->mutable_chain());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::ListEscalationChains(grpc::ServerContext*,
                                                   const v1::ListEscalationChainsRequest*,
                                                   v1::ListEscalationChainsResponse* response) {
  absl::StatusOr<std::vector<EscalationChain>> chains = escalations_->ListChains();
  if (!chains.ok()) return ToGrpcStatus(chains.status());
  for (const EscalationChain& chain : *chains) ChainToProto(chain, response->add_chains());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::CreatePlaybook(grpc::ServerContext*,
                                             const v1::CreatePlaybookRequest* request,
                                             v1::CreatePlaybookResponse* response) {
  absl::StatusOr<Playbook> playbook = PlaybookFromProto(request->playbook());
  if (!playbook.ok()) return ToGrpcStatus(playbook.status());
  absl::StatusOr<Playbook> stored = playbooks_->CreatePlaybook(
      WriteKeyOf("CreatePlaybook", *request, request->request_id()), playbook_codec_, *playbook);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  PlaybookToProto(*stored, response->mutable_playbook());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::UpdatePlaybook(grpc::ServerContext*,
                                             const v1::UpdatePlaybookRequest* request,
                                             v1::UpdatePlaybookResponse* response) {
  absl::StatusOr<Playbook> playbook = PlaybookFromProto(request->playbook());
  if (!playbook.ok()) return ToGrpcStatus(playbook.status());
  absl::StatusOr<Playbook> stored = playbooks_->UpdatePlaybook(
      WriteKeyOf("UpdatePlaybook", *request, request->request_id()), playbook_codec_, *playbook);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  PlaybookToProto(*stored, response->mutable_playbook());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::GetPlaybook(grpc::ServerContext*,
                                          const v1::GetPlaybookRequest* request,
                                          v1::GetPlaybookResponse* response) {
  absl::StatusOr<Playbook> playbook =
      playbooks_->GetPlaybook(request->playbook_id(), request->version());
  if (!playbook.ok()) return ToGrpcStatus(playbook.status());
  PlaybookToProto(*playbook, response->mutable_playbook());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::ListPlaybooks(grpc::ServerContext*, const v1::ListPlaybooksRequest*,
                                            v1::ListPlaybooksResponse* response) {
  absl::StatusOr<std::vector<Playbook>> playbooks = playbooks_->ListPlaybooks();
  if (!playbooks.ok()) return ToGrpcStatus(playbooks.status());
  for (const Playbook& p : *playbooks) PlaybookToProto(p, response->add_playbooks());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::StartPlaybook(grpc::ServerContext*,
                                            const v1::StartPlaybookRequest* request,
                                            v1::StartPlaybookResponse* response) {
  absl::StatusOr<StartResult> started = playbooks_->StartPlaybook(
      WriteKeyOf("StartPlaybook", *request, request->request_id()), start_codec_,
      request->playbook_id(), request->account_id());
  if (!started.ok()) return ToGrpcStatus(started.status());
  StartResultToProto(*started, response);
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::GetRun(grpc::ServerContext*, const v1::GetRunRequest* request,
                                     v1::GetRunResponse* response) {
  auto run = playbooks_->GetRun(request->run_id());
  if (!run.ok()) return ToGrpcStatus(run.status());
  RunToProto(run->first, response->mutable_run());
  for (const Task& t : run->second) {
    v1::Task* out = response->add_tasks();
    TaskToProto(t, out);
    if (absl::Status s = LinkPlan(t, out); !s.ok()) return ToGrpcStatus(s);
  }
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::ListRuns(grpc::ServerContext*, const v1::ListRunsRequest* request,
                                       v1::ListRunsResponse* response) {
  RunFilter filter;
  filter.account_id = request->account_id();
  filter.playbook_id = request->playbook_id();
  if (!v1::RunState_IsValid(request->state())) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat("state: unknown value ", request->state())));
  }
  if (request->state() != v1::RUN_STATE_UNSPECIFIED) {
    filter.state = static_cast<RunState>(request->state());
  }
  filter.page_size = request->page_size();
  if (!request->page_token().empty()) {
    absl::StatusOr<std::string> after = DecodePageToken(request->page_token());
    if (!after.ok()) return ToGrpcStatus(after.status());
    filter.after = *after;
  }
  absl::StatusOr<RunPage> page = playbooks_->ListRuns(filter);
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const Run& r : page->runs) RunToProto(r, response->add_runs());
  if (!page->next.empty()) response->set_next_page_token(EncodePageToken(page->next));
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::CancelRun(grpc::ServerContext*, const v1::CancelRunRequest* request,
                                        v1::CancelRunResponse* response) {
  absl::StatusOr<Run> run =
      playbooks_->CancelRun(WriteKeyOf("CancelRun", *request, request->request_id()), run_codec_,
                            request->run_id(), request->reason());
  if (!run.ok()) return ToGrpcStatus(run.status());
  RunToProto(*run, response->mutable_run());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::ListTasks(grpc::ServerContext*, const v1::ListTasksRequest* request,
                                        v1::ListTasksResponse* response) {
  TaskFilter filter;
  filter.assignee_id = request->assignee_id();
  filter.account_id = request->account_id();
  filter.run_id = request->run_id();
  if (!v1::TaskStatus_IsValid(request->status())) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat("status: unknown value ", request->status())));
  }
  if (request->status() != v1::TASK_STATUS_UNSPECIFIED) {
    filter.status = static_cast<TaskStatus>(request->status());
  }
  filter.overdue_only = request->overdue_only();
  filter.page_size = request->page_size();
  if (!request->page_token().empty()) {
    absl::StatusOr<std::string> after = DecodePageToken(request->page_token());
    if (!after.ok()) return ToGrpcStatus(after.status());
    filter.after = *after;
  }
  absl::StatusOr<TaskPage> page = playbooks_->ListTasks(filter);
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const Task& t : page->tasks) {
    v1::Task* out = response->add_tasks();
    TaskToProto(t, out);
    if (absl::Status s = LinkPlan(t, out); !s.ok()) return ToGrpcStatus(s);
  }
  if (!page->next.empty()) response->set_next_page_token(EncodePageToken(page->next));
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::GetTask(grpc::ServerContext*, const v1::GetTaskRequest* request,
                                      v1::GetTaskResponse* response) {
  absl::StatusOr<Task> task = playbooks_->GetTask(request->task_id());
  if (!task.ok()) return ToGrpcStatus(task.status());
  TaskToProto(*task, response->mutable_task());
  if (absl::Status s = LinkPlan(*task, response->mutable_task()); !s.ok()) return ToGrpcStatus(s);
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::CompleteTask(grpc::ServerContext*,
                                           const v1::CompleteTaskRequest* request,
                                           v1::CompleteTaskResponse* response) {
  absl::StatusOr<Task> task = playbooks_->CompleteTask(
      WriteKeyOf("CompleteTask", *request, request->request_id()), task_codec_, request->task_id(),
      request->outcome(), request->note());
  if (!task.ok()) return ToGrpcStatus(task.status());
  TaskToProto(*task, response->mutable_task());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::SnoozeTask(grpc::ServerContext*,
                                         const v1::SnoozeTaskRequest* request,
                                         v1::SnoozeTaskResponse* response) {
  if (!request->has_until()) {
    return ToGrpcStatus(absl::InvalidArgumentError("until: must be set"));
  }
  absl::StatusOr<Task> task = playbooks_->SnoozeTask(
      WriteKeyOf("SnoozeTask", *request, request->request_id()), task_codec_, request->task_id(),
      FromTimestamp(request->until()), request->reason());
  if (!task.ok()) return ToGrpcStatus(task.status());
  TaskToProto(*task, response->mutable_task());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::ReassignTask(grpc::ServerContext*,
                                           const v1::ReassignTaskRequest* request,
                                           v1::ReassignTaskResponse* response) {
  absl::StatusOr<Task> task = playbooks_->ReassignTask(
      WriteKeyOf("ReassignTask", *request, request->request_id()), task_codec_, request->task_id(),
      request->assignee_id(), request->reason());
  if (!task.ok()) return ToGrpcStatus(task.status());
  TaskToProto(*task, response->mutable_task());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::ListEscalations(grpc::ServerContext*,
                                              const v1::ListEscalationsRequest* request,
                                              v1::ListEscalationsResponse* response) {
  absl::StatusOr<std::vector<Escalation>> escalations =
      playbooks_->ListEscalations(request->task_id());
  if (!escalations.ok()) return ToGrpcStatus(escalations.status());
  for (const Escalation& e : *escalations) EscalationToProto(e, response->add_escalations());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::ListTaskEvents(grpc::ServerContext*,
                                             const v1::ListTaskEventsRequest* request,
                                             v1::ListTaskEventsResponse* response) {
  auto page = playbooks_->ListTaskEvents(request->after_sequence(), request->page_size());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const TaskEvent& e : page->events) TaskEventToProto(e, response->add_events());
  response->set_last_sequence(page->last_sequence);
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::WatchTasks(grpc::ServerContext* context,
                                         const v1::WatchTasksRequest* request,
                                         grpc::ServerWriter<v1::WatchTasksResponse>* writer) {
  PlaybookService::WatchSink sink;
  sink.event = [&](const TaskEvent& e) {
    if (context->IsCancelled()) return false;
    v1::WatchTasksResponse item;
    TaskEventToProto(e, item.mutable_event());
    return writer->Write(item);
  };
  sink.heartbeat = [&](int64_t last_sequence, absl::Time at) {
    if (context->IsCancelled()) return false;
    v1::WatchTasksResponse item;
    item.mutable_heartbeat()->set_last_sequence(last_sequence);
    ToTimestamp(at, item.mutable_heartbeat()->mutable_sent_at());
    return writer->Write(item);
  };
  absl::Status s = playbooks_->WatchTasks(request->after_sequence(),
                                          FromDuration(request->heartbeat_interval()), sink);
  if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  return ToGrpcStatus(s);
}

grpc::Status PlaybookHandler::GetProgramMetrics(grpc::ServerContext*,
                                                const v1::GetProgramMetricsRequest* request,
                                                v1::GetProgramMetricsResponse* response) {
  std::optional<absl::Time> from, to;
  if (request->has_from()) from = FromTimestamp(request->from());
  if (request->has_to()) to = FromTimestamp(request->to());
  absl::StatusOr<ProgramReport> report = playbooks_->GetProgramMetrics(from, to);
  if (!report.ok()) return ToGrpcStatus(report.status());
  ProgramMetricsToProto(report->overall, response->mutable_overall());
  for (const ProgramMetrics& m : report->by_tier) ProgramMetricsToProto(m, response->add_by_tier());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::GetPlaybookLift(grpc::ServerContext*,
                                              const v1::GetPlaybookLiftRequest* request,
                                              v1::GetPlaybookLiftResponse* response) {
  absl::StatusOr<PlaybookLift> lift = playbooks_->GetPlaybookLift(request->playbook_id());
  if (!lift.ok()) return ToGrpcStatus(lift.status());
  LiftToProto(*lift, response);
  return grpc::Status::OK;
}

}  // namespace cs::playbooks
