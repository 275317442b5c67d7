#ifndef CS_SERVICES_PLAYBOOKS_GRPC_HANDLER_H_
#define CS_SERVICES_PLAYBOOKS_GRPC_HANDLER_H_

#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "services/playbooks/escalation_service.h"

namespace cs::playbooks {

class PlaybookHandler final : public cs::playbooks::v1::PlaybookService::Service {
 public:
  explicit PlaybookHandler(EscalationService* escalations);

  grpc::Status UpsertEscalationChain(
      grpc::ServerContext* context, const cs::playbooks::v1::UpsertEscalationChainRequest* request,
      cs::playbooks::v1::UpsertEscalationChainResponse* response) override;
  grpc::Status GetEscalationChain(grpc::ServerContext* context,
                                  const cs::playbooks::v1::GetEscalationChainRequest* request,
                                  cs::playbooks::v1::GetEscalationChainResponse* response) override;

 private:
  EscalationService* escalations_;
  db::ResultCodec<EscalationChain> chain_codec_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_GRPC_HANDLER_H_
