#include "services/expansion/grpc_handler.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/server/common_mapping.h"
#include "common/server/grpc_status.h"
#include "common/server/proto_util.h"
#include "services/expansion/proto_mapping.h"

namespace cs::expansion {

namespace v1 = ::cs::expansion::v1;

ExpansionHandler::ExpansionHandler(RevenueService* revenue)
    : revenue_(revenue),
      movement_codec_(ProtoCodec<RevenueMovement, v1::RevenueMovement>(MovementToProto,
                                                                        MovementFromProto)) {}

grpc::Status ExpansionHandler::RecordRevenueMovement(
    grpc::ServerContext*, const v1::RecordRevenueMovementRequest* request,
    v1::RecordRevenueMovementResponse* response) {
  absl::StatusOr<RevenueMovement> movement = MovementFromProto(request->movement());
  if (!movement.ok()) return ToGrpcStatus(movement.status());
  absl::StatusOr<RevenueMovement> stored = revenue_->RecordMovement(
      WriteKeyOf("RecordRevenueMovement", *request, request->request_id()), movement_codec_,
      *movement);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  MovementToProto(*stored, response->mutable_movement());
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::ListRevenueMovements(
    grpc::ServerContext*, const v1::ListRevenueMovementsRequest* request,
    v1::ListRevenueMovementsResponse* response) {
  absl::StatusOr<int> page_size = PageSize(request->page());
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  int64_t after_id = 0;
  if (!request->page().page_token().empty()) {
    absl::StatusOr<std::string> position = DecodePageToken(request->page().page_token());
    if (!position.ok()) return ToGrpcStatus(position.status());
    if (!absl::SimpleAtoi(*position, &after_id) || after_id < 0) {
      return ToGrpcStatus(
          absl::InvalidArgumentError("page.page_token: not a token returned by this list"));
    }
  }
  absl::StatusOr<MovementPage> page =
      revenue_->ListMovements(request->account_id(), after_id, *page_size);
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const RevenueMovement& m : page->movements) MovementToProto(m, response->add_movements());
  if (page->next_after_id != 0) {
    response->mutable_page()->set_next_page_token(
        EncodePageToken(absl::StrCat(page->next_after_id)));
  }
  return grpc::Status::OK;
}

}  // namespace cs::expansion
