#ifndef CS_SERVICES_EXPANSION_GRPC_HANDLER_H_
#define CS_SERVICES_EXPANSION_GRPC_HANDLER_H_

#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "services/expansion/revenue_service.h"

namespace cs::expansion {

class ExpansionHandler final : public cs::expansion::v1::ExpansionService::Service {
 public:
  explicit ExpansionHandler(RevenueService* revenue);

  grpc::Status RecordRevenueMovement(
      grpc::ServerContext* context, const cs::expansion::v1::RecordRevenueMovementRequest* request,
      cs::expansion::v1::RecordRevenueMovementResponse* response) override;
  grpc::Status ListRevenueMovements(
      grpc::ServerContext* context, const cs::expansion::v1::ListRevenueMovementsRequest* request,
      cs::expansion::v1::ListRevenueMovementsResponse* response) override;

 private:
  RevenueService* revenue_;
  db::ResultCodec<RevenueMovement> movement_codec_;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_GRPC_HANDLER_H_
