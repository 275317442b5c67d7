#include "services/expansion/grpc_handler.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/server/common_mapping.h"
#include "common/server/grpc_status.h"
#include "common/server/proto_util.h"
#include "services/expansion/proto_mapping.h"

namespace cs::expansion {

// The handler's one way out of a failed step: the status bridge.
#define CS_GRPC_CONCAT_INNER_(a, b) a##b
#define CS_GRPC_CONCAT_(a, b) CS_GRPC_CONCAT_INNER_(a, b)
#define ASSIGN_OR_RETURN_GRPC(lhs, expr) \
  ASSIGN_OR_RETURN_GRPC_IMPL_(CS_GRPC_CONCAT_(grpc_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_GRPC_IMPL_(statusor, lhs, expr)      \
  auto statusor = (expr);                                     \
  if (!statusor.ok()) return ToGrpcStatus(statusor.status()); \
  lhs = std::move(statusor).value()

namespace {

// The id after which a page starts, from an opaque token (empty: the beginning).
absl::StatusOr<int64_t> AfterId(const cs::common::v1::PageRequest& page) {
  if (page.page_token().empty()) return 0;
  absl::StatusOr<std::string> position = DecodePageToken(page.page_token());
  if (!position.ok()) return position.status();
  int64_t after_id = 0;
  if (!absl::SimpleAtoi(*position, &after_id) || after_id < 0) {
    return absl::InvalidArgumentError("page.page_token: not a token returned by this list");
  }
  return after_id;
}

void SetNextPage(int64_t next_after_id, cs::common::v1::PageResponse* out) {
  if (next_after_id != 0) out->set_next_page_token(EncodePageToken(absl::StrCat(next_after_id)));
}

std::string CurrencyOrUsd(const std::string& code) { return code.empty() ? "USD" : code; }

}  // namespace

ExpansionHandler::ExpansionHandler(RevenueService* revenue, OpportunityService* opportunities,
                                   MetricsService* metrics)
    : revenue_(revenue),
      opportunities_(opportunities),
      metrics_(metrics),
      movement_codec_(
          ProtoCodec<RevenueMovement, v1::RevenueMovement>(MovementToProto, MovementFromProto)),
      opportunity_codec_(ProtoCodec<Opportunity, v1::Opportunity>(
          [](const Opportunity& o, v1::Opportunity* p) { OpportunityToProto(o, p); },
          OpportunityFromProto)),
      advance_codec_(
          ProtoCodec<AdvanceResult, v1::AdvanceStageResponse>(AdvanceToProto, AdvanceFromProto)),
      probabilities_codec_(ProtoCodec<StageProbabilities, v1::SetStageProbabilitiesResponse>(
          [](const StageProbabilities& s, v1::SetStageProbabilitiesResponse* p) {
            ProbabilitiesToProto(s, p);
          },
          ProbabilitiesFromProto)),
      profile_codec_(
          ProtoCodec<AccountProfile, v1::AccountProfile>(ProfileToProto, ProfileFromProto)),
      import_codec_(ProtoCodec<ImportResult, v1::ImportSubscriptionsResponse>(
          ImportResultToProto, ImportResultFromProto)),
      snapshot_codec_(
          ProtoCodec<ForecastSnapshot, v1::ForecastSnapshot>(SnapshotToProto, SnapshotFromProto)) {}

grpc::Status ExpansionHandler::CreateOpportunity(grpc::ServerContext*,
                                                 const v1::CreateOpportunityRequest* request,
                                                 v1::CreateOpportunityResponse* response) {
  ASSIGN_OR_RETURN_GRPC(Opportunity o, OpportunityFromProto(request->opportunity()));
  ASSIGN_OR_RETURN_GRPC(
      Opportunity stored,
      opportunities_->Create(WriteKeyOf("CreateOpportunity", *request, request->request_id()),
                             opportunity_codec_, o));
  OpportunityToProto(stored, response->mutable_opportunity());
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::GetOpportunity(grpc::ServerContext*,
                                              const v1::GetOpportunityRequest* request,
                                              v1::GetOpportunityResponse* response) {
  ASSIGN_OR_RETURN_GRPC(int64_t id, ParseId("opportunity_id", request->opportunity_id()));
  ASSIGN_OR_RETURN_GRPC(Opportunity o, opportunities_->Get(id));
  OpportunityToProto(o, response->mutable_opportunity());
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::ListOpportunities(grpc::ServerContext*,
                                                 const v1::ListOpportunitiesRequest* request,
                                                 v1::ListOpportunitiesResponse* response) {
  OpportunityFilter filter;
  filter.account_id = request->account_id();
  if (!v1::OpportunityKind_IsValid(request->kind())) {
    return ToGrpcStatus(
        absl::InvalidArgumentError(absl::StrCat("kind: unknown value ", request->kind())));
  }
  filter.kind = static_cast<OpportunityKind>(request->kind());
  if (!v1::Stage_IsValid(request->stage())) {
    return ToGrpcStatus(
        absl::InvalidArgumentError(absl::StrCat("stage: unknown value ", request->stage())));
  }
  filter.stage = static_cast<Stage>(request->stage());
  filter.owner_id = request->owner_id();
  ASSIGN_OR_RETURN_GRPC(filter.tier, TierFromProto("tier", request->tier()));
  if (request->has_close_quarter()) {
    filter.close_quarter =
        Quarter{request->close_quarter().year(), request->close_quarter().quarter()};
  }
  ASSIGN_OR_RETURN_GRPC(int page_size, PageSize(request->page()));
  ASSIGN_OR_RETURN_GRPC(int64_t after_id, AfterId(request->page()));
  ASSIGN_OR_RETURN_GRPC(OpportunityPage page, opportunities_->List(filter, after_id, page_size));
  for (const Opportunity& o : page.opportunities) {
    OpportunityToProto(o, response->add_opportunities(), /*with_history=*/false);
  }
  SetNextPage(page.next_after_id, response->mutable_page());
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::UpdateOpportunity(grpc::ServerContext*,
                                                 const v1::UpdateOpportunityRequest* request,
                                                 v1::UpdateOpportunityResponse* response) {
  const v1::Opportunity& p = request->opportunity();
  ASSIGN_OR_RETURN_GRPC(int64_t id, ParseId("opportunity.opportunity_id", p.opportunity_id()));
  std::vector<OpportunityField> fields;
  for (const std::string& path : request->update_mask().paths()) {
    std::optional<OpportunityField> f = OpportunityFieldFromPath(path);
    if (!f.has_value()) {
      return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
          "update_mask: '", path, "' cannot be updated (stage moves by AdvanceStage)")));
    }
    fields.push_back(*f);
  }
  ASSIGN_OR_RETURN_GRPC(Opportunity patch, OpportunityFromProto(p));
  ASSIGN_OR_RETURN_GRPC(
      Opportunity stored,
      opportunities_->Update(WriteKeyOf("UpdateOpportunity", *request, request->request_id()),
                             opportunity_codec_, id, p.etag(), patch, fields));
  OpportunityToProto(stored, response->mutable_opportunity());
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::AdvanceStage(grpc::ServerContext*,
                                            const v1::AdvanceStageRequest* request,
                                            v1::AdvanceStageResponse* response) {
  AdvanceRequest advance;
  ASSIGN_OR_RETURN_GRPC(advance.opportunity_id,
                        ParseId("opportunity_id", request->opportunity_id()));
  if (!v1::Stage_IsValid(request->to_stage())) {
    return ToGrpcStatus(
        absl::InvalidArgumentError(absl::StrCat("to_stage: unknown value ", request->to_stage())));
  }
  advance.to = static_cast<Stage>(request->to_stage());
  advance.etag = request->etag();
  advance.loss_reason = request->loss_reason();
  advance.health_override_reason = request->health_override_reason();
  advance.actor_id = request->actor_id();
  ASSIGN_OR_RETURN_GRPC(
      AdvanceResult result,
      opportunities_->Advance(WriteKeyOf("AdvanceStage", *request, request->request_id()),
                              advance_codec_, advance));
  AdvanceToProto(result, response);
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::GetStageProbabilities(grpc::ServerContext*,
                                                     const v1::GetStageProbabilitiesRequest*,
                                                     v1::GetStageProbabilitiesResponse* response) {
  ASSIGN_OR_RETURN_GRPC(StageProbabilities p, opportunities_->GetProbabilities());
  ProbabilitiesToProto(p, response->mutable_probabilities());
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::SetStageProbabilities(
    grpc::ServerContext*, const v1::SetStageProbabilitiesRequest* request,
    v1::SetStageProbabilitiesResponse* response) {
  std::map<Stage, int> changes;
  for (int i = 0; i < request->probabilities_size(); ++i) {
    const v1::StageProbability& e = request->probabilities(i);
    if (!v1::Stage_IsValid(e.stage()) || e.stage() == v1::STAGE_UNSPECIFIED) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("probabilities[", i, "].stage: must be a stage")));
    }
    if (!changes.emplace(static_cast<Stage>(e.stage()), e.probability_percent()).second) {
      return ToGrpcStatus(
          absl::InvalidArgumentError(absl::StrCat("probabilities[", i, "].stage: given twice")));
    }
  }
  ASSIGN_OR_RETURN_GRPC(StageProbabilities p,
                        opportunities_->SetProbabilities(
                            WriteKeyOf("SetStageProbabilities", *request, request->request_id()),
                            probabilities_codec_, changes));
  ProbabilitiesToProto(p, response);
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::UpsertAccountProfile(grpc::ServerContext*,
                                                    const v1::UpsertAccountProfileRequest* request,
                                                    v1::UpsertAccountProfileResponse* response) {
  ASSIGN_OR_RETURN_GRPC(AccountProfile profile, ProfileFromProto(request->profile()));
  ASSIGN_OR_RETURN_GRPC(AccountProfile stored,
                        opportunities_->UpsertProfile(
                            WriteKeyOf("UpsertAccountProfile", *request, request->request_id()),
                            profile_codec_, profile));
  ProfileToProto(stored, response->mutable_profile());
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::GetAccountProfile(grpc::ServerContext*,
                                                 const v1::GetAccountProfileRequest* request,
                                                 v1::GetAccountProfileResponse* response) {
  ASSIGN_OR_RETURN_GRPC(AccountProfile p, opportunities_->GetProfile(request->account_id()));
  ProfileToProto(p, response->mutable_profile());
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::SuggestOpportunities(grpc::ServerContext*,
                                                    const v1::SuggestOpportunitiesRequest* request,
                                                    v1::SuggestOpportunitiesResponse* response) {
  ASSIGN_OR_RETURN_GRPC(SuggestResult result, opportunities_->Suggest(request->account_id()));
  for (const Suggestion& s : result.suggestions) {
    v1::Suggestion* out = response->add_suggestions();
    out->set_kind(static_cast<v1::OpportunityKind>(s.kind));
    out->set_rule(s.rule);
    for (const std::string& e : s.evidence) out->add_evidence(e);
    out->set_subject(s.subject);
    if (s.existing_opportunity_id != 0) {
      out->set_existing_opportunity_id(absl::StrCat(s.existing_opportunity_id));
    }
  }
  response->set_health_band(static_cast<v1::HealthBand>(result.band));
  response->set_withheld_reason(result.withheld_reason);
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::RecordRevenueMovement(
    grpc::ServerContext*, const v1::RecordRevenueMovementRequest* request,
    v1::RecordRevenueMovementResponse* response) {
  ASSIGN_OR_RETURN_GRPC(RevenueMovement movement, MovementFromProto(request->movement()));
  ASSIGN_OR_RETURN_GRPC(
      RevenueMovement stored,
      revenue_->RecordMovement(WriteKeyOf("RecordRevenueMovement", *request, request->request_id()),
                               movement_codec_, movement));
  MovementToProto(stored, response->mutable_movement());
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::ListRevenueMovements(grpc::ServerContext*,
                                                    const v1::ListRevenueMovementsRequest* request,
                                                    v1::ListRevenueMovementsResponse* response) {
  ASSIGN_OR_RETURN_GRPC(int page_size, PageSize(request->page()));
  ASSIGN_OR_RETURN_GRPC(int64_t after_id, AfterId(request->page()));
  ASSIGN_OR_RETURN_GRPC(MovementPage page,
                        revenue_->ListMovements(request->account_id(), after_id, page_size));
  for (const RevenueMovement& m : page.movements) MovementToProto(m, response->add_movements());
  SetNextPage(page.next_after_id, response->mutable_page());
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::ImportSubscriptions(grpc::ServerContext*,
                                                   const v1::ImportSubscriptionsRequest* request,
                                                   v1::ImportSubscriptionsResponse* response) {
  ASSIGN_OR_RETURN_GRPC(std::vector<SubscriptionMonth> rows, SubscriptionsFromProto(*request));
  ASSIGN_OR_RETURN_GRPC(
      ImportResult result,
      revenue_->Import(WriteKeyOf("ImportSubscriptions", *request, request->request_id()),
                       import_codec_, rows));
  ImportResultToProto(result, response);
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::GetPipelineSummary(grpc::ServerContext*,
                                                  const v1::GetPipelineSummaryRequest* request,
                                                  v1::GetPipelineSummaryResponse* response) {
  ASSIGN_OR_RETURN_GRPC(Tier tier, TierFromProto("tier", request->tier()));
  ASSIGN_OR_RETURN_GRPC(PipelineReport report,
                        metrics_->Pipeline(request->currency_code(), request->owner_id(), tier));
  PipelineToProto(report, CurrencyOrUsd(request->currency_code()), response);
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::SnapshotForecast(grpc::ServerContext*,
                                                const v1::SnapshotForecastRequest* request,
                                                v1::SnapshotForecastResponse* response) {
  ASSIGN_OR_RETURN_GRPC(
      ForecastSnapshot snapshot,
      metrics_->Snapshot(WriteKeyOf("SnapshotForecast", *request, request->request_id()),
                         snapshot_codec_, request->currency_code()));
  SnapshotToProto(snapshot, response->mutable_snapshot());
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::ListForecastSnapshots(
    grpc::ServerContext*, const v1::ListForecastSnapshotsRequest* request,
    v1::ListForecastSnapshotsResponse* response) {
  ASSIGN_OR_RETURN_GRPC(int page_size, PageSize(request->page()));
  ASSIGN_OR_RETURN_GRPC(int64_t after_id, AfterId(request->page()));
  ASSIGN_OR_RETURN_GRPC(SnapshotPage page, metrics_->ListSnapshots(after_id, page_size));
  for (const ForecastSnapshot& s : page.snapshots) SnapshotToProto(s, response->add_snapshots());
  SetNextPage(page.next_after_id, response->mutable_page());
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::GetForecastAccuracy(grpc::ServerContext*,
                                                   const v1::GetForecastAccuracyRequest* request,
                                                   v1::GetForecastAccuracyResponse* response) {
  ASSIGN_OR_RETURN_GRPC(int64_t id, ParseId("snapshot_id", request->snapshot_id()));
  ASSIGN_OR_RETURN_GRPC(ForecastAccuracy accuracy, metrics_->Accuracy(id));
  AccuracyToProto(accuracy, response);
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::GetExpansionMetrics(grpc::ServerContext*,
                                                   const v1::GetExpansionMetricsRequest* request,
                                                   v1::GetExpansionMetricsResponse* response) {
  ASSIGN_OR_RETURN_GRPC(MonthPeriod period, PeriodFromProto(request->period()));
  ASSIGN_OR_RETURN_GRPC(Tier tier, TierFromProto("tier", request->tier()));
  ASSIGN_OR_RETURN_GRPC(ExpansionReport report,
                        metrics_->Expansion(period, request->currency_code(), tier));
  ExpansionToProto(report, CurrencyOrUsd(request->currency_code()), response);
  return grpc::Status::OK;
}

grpc::Status ExpansionHandler::GetRetentionMetrics(grpc::ServerContext*,
                                                   const v1::GetRetentionMetricsRequest* request,
                                                   v1::GetRetentionMetricsResponse* response) {
  ASSIGN_OR_RETURN_GRPC(MonthPeriod period, PeriodFromProto(request->period()));
  ASSIGN_OR_RETURN_GRPC(
      RetentionReport report,
      metrics_->Retention(period, request->currency_code(), request->gross_margin_percent()));
  RetentionToProto(report, CurrencyOrUsd(request->currency_code()), response);
  return grpc::Status::OK;
}

}  // namespace cs::expansion
