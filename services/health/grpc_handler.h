#ifndef CS_SERVICES_HEALTH_GRPC_HANDLER_H_
#define CS_SERVICES_HEALTH_GRPC_HANDLER_H_

#include "cs/health/v1/health.grpc.pb.h"
#include "services/health/account_service.h"
#include "services/health/event_service.h"

namespace cs::health {

// Thin: map the request, call the service, map the answer and the status.
class AccountHealthHandler final : public cs::health::v1::AccountHealthService::Service {
 public:
  AccountHealthHandler(AccountService* accounts, EventService* events);

  grpc::Status UpsertAccount(grpc::ServerContext* context,
                             const cs::health::v1::UpsertAccountRequest* request,
                             cs::health::v1::UpsertAccountResponse* response) override;
  grpc::Status GetAccount(grpc::ServerContext* context,
                          const cs::health::v1::GetAccountRequest* request,
                          cs::health::v1::GetAccountResponse* response) override;
  grpc::Status MarkChurned(grpc::ServerContext* context,
                           const cs::health::v1::MarkChurnedRequest* request,
                           cs::health::v1::MarkChurnedResponse* response) override;
  grpc::Status ListAccounts(grpc::ServerContext* context,
                            const cs::health::v1::ListAccountsRequest* request,
                            cs::health::v1::ListAccountsResponse* response) override;
  grpc::Status ListEvents(grpc::ServerContext* context,
                          const cs::health::v1::ListEventsRequest* request,
                          cs::health::v1::ListEventsResponse* response) override;
  grpc::Status WatchEvents(grpc::ServerContext* context,
                           const cs::health::v1::WatchEventsRequest* request,
                           grpc::ServerWriter<cs::health::v1::WatchEventsResponse>* writer) override;

 private:
  AccountService* accounts_;
  EventService* events_;
  db::ResultCodec<UpsertAccountResult> upsert_codec_;
  db::ResultCodec<Account> account_codec_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_GRPC_HANDLER_H_
