#include "services/playbooks/grpc_handler.h"

#include "common/server/grpc_status.h"
#include "common/server/proto_util.h"
#include "services/playbooks/proto_mapping.h"

namespace cs::playbooks {

namespace v1 = ::cs::playbooks::v1;

PlaybookHandler::PlaybookHandler(EscalationService* escalations)
    : escalations_(escalations),
      chain_codec_(ProtoCodec<EscalationChain, v1::EscalationChain>(ChainToProto, ChainFromProto)) {
}

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

}  // namespace cs::playbooks
