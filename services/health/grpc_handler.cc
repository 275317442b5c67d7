#include "services/health/grpc_handler.h"

#include "common/server/common_mapping.h"
#include "common/server/grpc_status.h"
#include "common/server/proto_util.h"
#include "services/health/proto_mapping.h"

namespace cs::health {

namespace v1 = ::cs::health::v1;

AccountHealthHandler::AccountHealthHandler(AccountService* accounts, EventService* events)
    : accounts_(accounts),
      events_(events),
      upsert_codec_(ProtoCodec<UpsertAccountResult, v1::UpsertAccountResponse>(
          UpsertResultToProto, UpsertResultFromProto)),
      account_codec_(ProtoCodec<Account, v1::Account>(AccountToProto, StoredAccountFromProto)) {}

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

grpc::Status AccountHealthHandler::MarkChurned(grpc::ServerContext*,
                                               const v1::MarkChurnedRequest* request,
                                               v1::MarkChurnedResponse* response) {
  absl::StatusOr<std::optional<absl::CivilDay>> day =
      DateFromProto("churned_on", request->churned_on());
  if (!day.ok()) return ToGrpcStatus(day.status());
  absl::StatusOr<Account> account = accounts_->MarkChurned(
      WriteKeyOf("MarkChurned", *request, request->request_id()), account_codec_,
      request->account_id(), *day, request->reason());
  if (!account.ok()) return ToGrpcStatus(account.status());
  AccountToProto(*account, response->mutable_account());
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::ListAccounts(grpc::ServerContext*,
                                                const v1::ListAccountsRequest* request,
                                                v1::ListAccountsResponse* response) {
  absl::StatusOr<AccountFilter> filter = FilterFromProto(*request);
  if (!filter.ok()) return ToGrpcStatus(filter.status());
  absl::StatusOr<int> page_size = PageSize(request->page());
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  std::string after_id;
  if (!request->page().page_token().empty()) {
    absl::StatusOr<std::string> decoded = DecodePageToken(request->page().page_token());
    if (!decoded.ok()) return ToGrpcStatus(decoded.status());
    after_id = *std::move(decoded);
  }
  absl::StatusOr<AccountPage> page = accounts_->ListAccounts(*filter, after_id, *page_size);
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const Account& a : page->accounts) AccountToProto(a, response->add_accounts());
  if (!page->next_after_id.empty()) {
    response->mutable_page()->set_next_page_token(EncodePageToken(page->next_after_id));
  }
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::ListEvents(grpc::ServerContext*,
                                              const v1::ListEventsRequest* request,
                                              v1::ListEventsResponse* response) {
  absl::StatusOr<EventPage> page =
      events_->ListEvents(request->after_sequence(), request->page_size());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const Event& e : page->events) {
    if (absl::Status s = EventToProto(e, response->add_events()); !s.ok()) return ToGrpcStatus(s);
  }
  response->set_last_sequence(page->last_sequence);
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::WatchEvents(
    grpc::ServerContext* context, const v1::WatchEventsRequest* request,
    grpc::ServerWriter<v1::WatchEventsResponse>* writer) {
  absl::Status mapping_error;
  EventService::WatchSink sink;
  sink.event = [&](const Event& e) {
    if (context->IsCancelled()) return false;
    v1::WatchEventsResponse item;
    mapping_error = EventToProto(e, item.mutable_event());
    if (!mapping_error.ok()) return false;
    return writer->Write(item);
  };
  sink.heartbeat = [&](int64_t last_sequence, absl::Time at) {
    if (context->IsCancelled()) return false;
    v1::WatchEventsResponse item;
    item.mutable_heartbeat()->set_last_sequence(last_sequence);
    ToTimestamp(at, item.mutable_heartbeat()->mutable_sent_at());
    return writer->Write(item);
  };
  const absl::Duration heartbeat = absl::Seconds(request->heartbeat_interval().seconds()) +
                                   absl::Nanoseconds(request->heartbeat_interval().nanos());
  absl::Status s = events_->Watch(request->after_sequence(), heartbeat, sink);
  if (!mapping_error.ok()) return ToGrpcStatus(mapping_error);
  if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  return ToGrpcStatus(s);
}

}  // namespace cs::health
