#ifndef CS_SERVICES_HEALTH_GRPC_HANDLER_H_
#define CS_SERVICES_HEALTH_GRPC_HANDLER_H_

#include "common/server/audit.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "services/health/account_service.h"
#include "services/health/event_service.h"
#include "services/health/first_value.h"
#include "services/health/health_service.h"

namespace cs::health {

// Thin: map the request, call the service, map the answer and the status.
class AccountHealthHandler final : public cs::health::v1::AccountHealthService::Service {
 public:
  AccountHealthHandler(AccountService* accounts, EventService* events, HealthService* health);

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

  grpc::Status RecordSignals(grpc::ServerContext* context,
                             const cs::health::v1::RecordSignalsRequest* request,
                             cs::health::v1::RecordSignalsResponse* response) override;
  grpc::Status TrackEvents(grpc::ServerContext* context,
                           const cs::health::v1::TrackEventsRequest* request,
                           cs::health::v1::TrackEventsResponse* response) override;
  grpc::Status SetEventMapping(grpc::ServerContext* context,
                               const cs::health::v1::SetEventMappingRequest* request,
                               cs::health::v1::SetEventMappingResponse* response) override;
  grpc::Status ListEventMappings(grpc::ServerContext* context,
                                 const cs::health::v1::ListEventMappingsRequest* request,
                                 cs::health::v1::ListEventMappingsResponse* response) override;
  grpc::Status ListRejectedRecords(grpc::ServerContext* context,
                                   const cs::health::v1::ListRejectedRecordsRequest* request,
                                   cs::health::v1::ListRejectedRecordsResponse* response) override;
  grpc::Status CreateScorecard(grpc::ServerContext* context,
                               const cs::health::v1::CreateScorecardRequest* request,
                               cs::health::v1::CreateScorecardResponse* response) override;
  grpc::Status UpdateScorecard(grpc::ServerContext* context,
                               const cs::health::v1::UpdateScorecardRequest* request,
                               cs::health::v1::UpdateScorecardResponse* response) override;
  grpc::Status GetScorecard(grpc::ServerContext* context,
                            const cs::health::v1::GetScorecardRequest* request,
                            cs::health::v1::GetScorecardResponse* response) override;
  grpc::Status ListScorecards(grpc::ServerContext* context,
                              const cs::health::v1::ListScorecardsRequest* request,
                              cs::health::v1::ListScorecardsResponse* response) override;
  grpc::Status GetHealth(grpc::ServerContext* context,
                         const cs::health::v1::GetHealthRequest* request,
                         cs::health::v1::GetHealthResponse* response) override;
  grpc::Status GetHealthHistory(grpc::ServerContext* context,
                                const cs::health::v1::GetHealthHistoryRequest* request,
                                cs::health::v1::GetHealthHistoryResponse* response) override;
  grpc::Status ExplainChange(grpc::ServerContext* context,
                             const cs::health::v1::ExplainChangeRequest* request,
                             cs::health::v1::ExplainChangeResponse* response) override;
  grpc::Status ListAtRisk(grpc::ServerContext* context,
                          const cs::health::v1::ListAtRiskRequest* request,
                          cs::health::v1::ListAtRiskResponse* response) override;
  grpc::Status GetPortfolioSummary(grpc::ServerContext* context,
                                   const cs::health::v1::GetPortfolioSummaryRequest* request,
                                   cs::health::v1::GetPortfolioSummaryResponse* response) override;
  grpc::Status SetOverride(grpc::ServerContext* context,
                           const cs::health::v1::SetOverrideRequest* request,
                           cs::health::v1::SetOverrideResponse* response) override;
  grpc::Status ListOverrides(grpc::ServerContext* context,
                             const cs::health::v1::ListOverridesRequest* request,
                             cs::health::v1::ListOverridesResponse* response) override;
  grpc::Status ListAlerts(grpc::ServerContext* context,
                          const cs::health::v1::ListAlertsRequest* request,
                          cs::health::v1::ListAlertsResponse* response) override;
  grpc::Status GetAlertSettings(grpc::ServerContext* context,
                                const cs::health::v1::GetAlertSettingsRequest* request,
                                cs::health::v1::GetAlertSettingsResponse* response) override;
  grpc::Status SetAlertSettings(grpc::ServerContext* context,
                                const cs::health::v1::SetAlertSettingsRequest* request,
                                cs::health::v1::SetAlertSettingsResponse* response) override;
  grpc::Status BacktestScorecard(grpc::ServerContext* context,
                                 const cs::health::v1::BacktestScorecardRequest* request,
                                 cs::health::v1::BacktestScorecardResponse* response) override;
  grpc::Status TrainChurnModel(grpc::ServerContext* context,
                               const cs::health::v1::TrainChurnModelRequest* request,
                               cs::health::v1::TrainChurnModelResponse* response) override;
  grpc::Status GetChurnModel(grpc::ServerContext* context,
                             const cs::health::v1::GetChurnModelRequest* request,
                             cs::health::v1::GetChurnModelResponse* response) override;

  // Time to first value (first_value_handler.cc). Until attached, both answer UNIMPLEMENTED.
  void AttachFirstValue(FirstValueService* first_value) { first_value_ = first_value; }
  grpc::Status GetFirstValueDefinitions(
      grpc::ServerContext* context, const cs::health::v1::GetFirstValueDefinitionsRequest* request,
      cs::health::v1::GetFirstValueDefinitionsResponse* response) override;
  grpc::Status SetFirstValueDefinition(
      grpc::ServerContext* context, const cs::health::v1::SetFirstValueDefinitionRequest* request,
      cs::health::v1::SetFirstValueDefinitionResponse* response) override;

  // The audit trail (common/server/audit.h), read with the admin scope; UNAVAILABLE
  // until attached.
  void AttachAuditLog(db::AuditLog* log) { audit_log_ = log; }
  grpc::Status ListAuditEvents(grpc::ServerContext*,
                               const cs::health::v1::ListAuditEventsRequest* request,
                               cs::health::v1::ListAuditEventsResponse* response) override {
    return ServeListAuditEvents(audit_log_, request->filter(), request->page(),
                                response->mutable_events(), response->mutable_page());
  }

 private:
  FirstValueService* first_value_ = nullptr;
  db::AuditLog* audit_log_ = nullptr;
  AccountService* accounts_;
  EventService* events_;
  HealthService* health_;
  db::ResultCodec<UpsertAccountResult> upsert_codec_;
  db::ResultCodec<Account> account_codec_;
  // RecordSignals and TrackEvents store their answers in one shape.
  db::ResultCodec<IngestResult> ingest_codec_;
  db::ResultCodec<EventMapping> mapping_codec_;
  db::ResultCodec<Scorecard> scorecard_codec_;
  db::ResultCodec<Override> override_codec_;
  db::ResultCodec<AlertSettings> settings_codec_;
  db::ResultCodec<StoredChurnModel> churn_model_codec_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_GRPC_HANDLER_H_
