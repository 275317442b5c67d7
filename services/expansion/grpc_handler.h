#ifndef CS_SERVICES_EXPANSION_GRPC_HANDLER_H_
#define CS_SERVICES_EXPANSION_GRPC_HANDLER_H_

#include "common/server/audit.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "services/expansion/metrics_service.h"
#include "services/expansion/opportunity_service.h"
#include "services/expansion/revenue_service.h"

namespace cs::expansion {

// Thin: maps proto to domain values, calls a service, maps the status back.
class ExpansionHandler final : public cs::expansion::v1::ExpansionService::Service {
 public:
  ExpansionHandler(RevenueService* revenue, OpportunityService* opportunities,
                   MetricsService* metrics);

#define CS_EXPANSION_RPC(Name)                                                                     \
  grpc::Status Name(grpc::ServerContext* context, const cs::expansion::v1::Name##Request* request, \
                    cs::expansion::v1::Name##Response* response) override;
  CS_EXPANSION_RPC(CreateOpportunity)
  CS_EXPANSION_RPC(GetOpportunity)
  CS_EXPANSION_RPC(ListOpportunities)
  CS_EXPANSION_RPC(UpdateOpportunity)
  CS_EXPANSION_RPC(AdvanceStage)
  CS_EXPANSION_RPC(GetStageProbabilities)
  CS_EXPANSION_RPC(SetStageProbabilities)
  CS_EXPANSION_RPC(UpsertAccountProfile)
  CS_EXPANSION_RPC(GetAccountProfile)
  CS_EXPANSION_RPC(SuggestOpportunities)
  CS_EXPANSION_RPC(RecordRevenueMovement)
  CS_EXPANSION_RPC(ListRevenueMovements)
  CS_EXPANSION_RPC(ImportSubscriptions)
  CS_EXPANSION_RPC(GetPipelineSummary)
  CS_EXPANSION_RPC(SnapshotForecast)
  CS_EXPANSION_RPC(ListForecastSnapshots)
  CS_EXPANSION_RPC(GetForecastAccuracy)
  CS_EXPANSION_RPC(GetExpansionMetrics)
  CS_EXPANSION_RPC(GetRetentionMetrics)
#undef CS_EXPANSION_RPC

  // The audit trail (common/server/audit.h), read with the admin scope; UNAVAILABLE
  // until attached.
  void AttachAuditLog(db::AuditLog* log) { audit_log_ = log; }
  grpc::Status ListAuditEvents(grpc::ServerContext*,
                               const cs::expansion::v1::ListAuditEventsRequest* request,
                               cs::expansion::v1::ListAuditEventsResponse* response) override {
    return ServeListAuditEvents(audit_log_, request->filter(), request->page(),
                                response->mutable_events(), response->mutable_page());
  }

 private:
  RevenueService* revenue_;
  db::AuditLog* audit_log_ = nullptr;
  OpportunityService* opportunities_;
  MetricsService* metrics_;
  db::ResultCodec<RevenueMovement> movement_codec_;
  db::ResultCodec<Opportunity> opportunity_codec_;
  db::ResultCodec<AdvanceResult> advance_codec_;
  db::ResultCodec<StageProbabilities> probabilities_codec_;
  db::ResultCodec<AccountProfile> profile_codec_;
  db::ResultCodec<ImportResult> import_codec_;
  db::ResultCodec<ForecastSnapshot> snapshot_codec_;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_GRPC_HANDLER_H_
