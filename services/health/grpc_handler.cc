#include "services/health/grpc_handler.h"

#include "common/server/grpc_status.h"
#include "common/server/proto_util.h"
#include "services/health/proto_mapping.h"

namespace cs::health {

namespace v1 = ::cs::health::v1;

AccountHealthHandler::AccountHealthHandler(AccountService* accounts)
    : accounts_(accounts),
      upsert_codec_(ProtoCodec<UpsertAccountResult, v1::UpsertAccountResponse>(
          UpsertResultToProto, UpsertResultFromProto)) {}

grpc::Status AccountHealthHandler::UpsertAccount(grpc::ServerContext*,
                                                 const v1::UpsertAccountRequest* request,
                                                 v1::UpsertAccountResponse* response) {
  absl::StatusOr<Account> account = AccountFromProto(request->account());
  if (!account.ok()) return ToGrpcStatus(account.status());
  absl::StatusOr<UpsertAccountResult> result = accounts_->UpsertAccount(
      WriteKeyOf("UpsertAccount", *request, request->request_id()), upsert_codec_,
      *std::move(account));
  if (!result.ok()) return ToGrpcStatus(result.status());
  UpsertResultToProto(*result, response);
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::GetAccount(grpc::ServerContext*,
                                              const v1::GetAccountRequest* request,
                                              v1::GetAccountResponse* response) {
  absl::StatusOr<Account> account = accounts_->GetAccount(request->account_id());
  if (!account.ok()) return ToGrpcStatus(account.status());
  AccountToProto(*account, response->mutable_account());
  return grpc::Status::OK;
}

}  // namespace cs::health
