#ifndef CS_SERVICES_PLAYBOOKS_PROTO_MAPPING_H_
#define CS_SERVICES_PLAYBOOKS_PROTO_MAPPING_H_

#include <string>

#include "absl/status/statusor.h"
#include "cs/playbooks/v1/playbooks.pb.h"
#include "services/playbooks/escalation.h"
#include "services/playbooks/playbook.h"
#include "services/playbooks/playbook_repository.h"
#include "services/playbooks/playbook_service.h"

namespace cs::playbooks {

absl::StatusOr<EscalationChain> ChainFromProto(const cs::playbooks::v1::EscalationChain& p);
void ChainToProto(const EscalationChain& c, cs::playbooks::v1::EscalationChain* out);

// INVALID_ARGUMENT naming the field for an enum value this service does not know.
absl::StatusOr<Playbook> PlaybookFromProto(const cs::playbooks::v1::Playbook& p);
void PlaybookToProto(const Playbook& p, cs::playbooks::v1::Playbook* out);

void RunToProto(const Run& r, cs::playbooks::v1::Run* out);
absl::StatusOr<Run> RunFromProto(const cs::playbooks::v1::Run& p);
void TaskToProto(const Task& t, cs::playbooks::v1::Task* out);
absl::StatusOr<Task> TaskFromProto(const cs::playbooks::v1::Task& p);
void EscalationToProto(const Escalation& e, cs::playbooks::v1::Escalation* out);

// The outbox payload: a TaskEvent message (its sequence is the log's).
std::string EncodeTaskEvent(const TaskEvent& e);
absl::StatusOr<TaskEvent> DecodeTaskEvent(const std::string& bytes);
void TaskEventToProto(const TaskEvent& e, cs::playbooks::v1::TaskEvent* out);
TaskEventCodec TaskEventCodecForOutbox();

void StartResultToProto(const StartResult& r, cs::playbooks::v1::StartPlaybookResponse* out);
absl::StatusOr<StartResult> StartResultFromProto(const cs::playbooks::v1::StartPlaybookResponse& p);

void ProgramMetricsToProto(const ProgramMetrics& m, cs::playbooks::v1::ProgramMetrics* out);
void LiftToProto(const PlaybookLift& l, cs::playbooks::v1::GetPlaybookLiftResponse* out);

// An enum value's name without its prefix ("TIER_ENTERPRISE" -> "ENTERPRISE");
// "" for the unspecified value. The health and playbooks protos share the names.
std::string EnumSuffix(const std::string& name, absl::string_view prefix);
absl::Duration FromDuration(const google::protobuf::Duration& d);

// "ENTERPRISE" <-> TIER_ENTERPRISE; "" for the unspecified value.
std::string TierName(cs::playbooks::v1::Tier tier);
cs::playbooks::v1::Tier TierFromName(const std::string& name);

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_PROTO_MAPPING_H_
