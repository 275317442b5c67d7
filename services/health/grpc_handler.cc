#include "services/health/grpc_handler.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/server/common_mapping.h"
#include "common/server/grpc_status.h"
#include "common/server/proto_util.h"
#include "services/health/health_mapping.h"
#include "services/health/proto_mapping.h"

namespace cs::health {

AccountHealthHandler::AccountHealthHandler(AccountService* accounts, EventService* events,
                                           HealthService* health)
    : accounts_(accounts),
      events_(events),
      health_(health),
      upsert_codec_(ProtoCodec<UpsertAccountResult, v1::UpsertAccountResponse>(
          UpsertResultToProto, UpsertResultFromProto)),
      account_codec_(ProtoCodec<Account, v1::Account>(AccountToProto, StoredAccountFromProto)),
      ingest_codec_(ProtoCodec<IngestResult, v1::RecordSignalsResponse>(
          IngestResultToStored, IngestResultFromProto)),
      mapping_codec_(ProtoCodec<EventMapping, v1::EventMapping>(EventMappingToProto,
                                                                EventMappingFromProto)),
      scorecard_codec_(
          ProtoCodec<Scorecard, v1::Scorecard>(ScorecardToProto, ScorecardFromProto)),
      override_codec_(ProtoCodec<Override, v1::Override>(OverrideToProto, OverrideFromProto)),
      settings_codec_(ProtoCodec<AlertSettings, v1::AlertSettings>(AlertSettingsToProto,
                                                                   AlertSettingsFromProto)),
      churn_model_codec_(ProtoCodec<StoredChurnModel, v1::ChurnModel>(ChurnModelToProto,
                                                                       ChurnModelFromProto)) {}

grpc::Status AccountHealthHandler::UpsertAccount(grpc::ServerContext*,
                                                 const v1::UpsertAccountRequest* request,
                                                 v1::UpsertAccountResponse* response) {
  absl::StatusOr<Account> account = AccountFromProto(request->account());
  if (!account.ok()) return ToGrpcStatus(account.status());
  absl::StatusOr<UpsertAccountResult> result = accounts_->UpsertAccount(
      WriteKeyOf("UpsertAccount", *request, request->request_id()), upsert_codec_,
      *std::move(account));
  if (!result.ok()) return ToGrpcStatus(result.status());
  // The account's tier and lifecycle are part of its health view (churn risk). A
  // stream may carry the write's event before this: EventAboutToBeRead covers it.
  health_->InvalidateCachedViews(request->account().account_id());
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
  // A churned account has no churn risk any more: its cached view goes at once.
  health_->InvalidateCachedViews(request->account_id());
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
    health_->EventAboutToBeRead(e);
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
    health_->EventAboutToBeRead(e);
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

// ---------------------------------------------------------------------------
// Signals

grpc::Status AccountHealthHandler::RecordSignals(grpc::ServerContext*,
                                                 const v1::RecordSignalsRequest* request,
                                                 v1::RecordSignalsResponse* response) {
  absl::StatusOr<IngestResult> result = health_->RecordSignals(
      WriteKeyOf("RecordSignals", *request, request->request_id()), ingest_codec_,
      SignalsFromProto(*request), SignalPrinter(*request), request->atomic());
  if (!result.ok()) return ToGrpcStatus(result.status());
  MoveIngestResultToProto(*std::move(result), response);
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::TrackEvents(grpc::ServerContext*,
                                               const v1::TrackEventsRequest* request,
                                               v1::TrackEventsResponse* response) {
  absl::StatusOr<IngestResult> result =
      health_->TrackEvents(WriteKeyOf("TrackEvents", *request, request->request_id()),
                           ingest_codec_, TrackEventsFromProto(*request), request->atomic(),
                           TrackEventPrinter(*request));
  if (!result.ok()) return ToGrpcStatus(result.status());
  MoveIngestResultToProto(*std::move(result), response);
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::SetEventMapping(grpc::ServerContext*,
                                                   const v1::SetEventMappingRequest* request,
                                                   v1::SetEventMappingResponse* response) {
  absl::StatusOr<EventMapping> mapping = EventMappingFromProto(request->mapping());
  if (!mapping.ok()) return ToGrpcStatus(mapping.status());
  absl::StatusOr<EventMapping> stored = health_->SetEventMapping(
      WriteKeyOf("SetEventMapping", *request, request->request_id()), mapping_codec_, *mapping);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  EventMappingToProto(*stored, response->mutable_mapping());
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::ListEventMappings(grpc::ServerContext*,
                                                     const v1::ListEventMappingsRequest*,
                                                     v1::ListEventMappingsResponse* response) {
  absl::StatusOr<std::vector<EventMapping>> mappings = health_->ListEventMappings();
  if (!mappings.ok()) return ToGrpcStatus(mappings.status());
  for (const EventMapping& m : *mappings) EventMappingToProto(m, response->add_mappings());
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::ListRejectedRecords(
    grpc::ServerContext*, const v1::ListRejectedRecordsRequest* request,
    v1::ListRejectedRecordsResponse* response) {
  absl::StatusOr<RejectedQuery> query = RejectedQueryFromProto(*request);
  if (!query.ok()) return ToGrpcStatus(query.status());
  absl::StatusOr<RejectedPage> page = health_->ListRejectedRecords(*query);
  if (!page.ok()) return ToGrpcStatus(page.status());
  RejectedPageToProto(*page, response);
  return grpc::Status::OK;
}

// ---------------------------------------------------------------------------
// Scorecards

grpc::Status AccountHealthHandler::CreateScorecard(grpc::ServerContext*,
                                                   const v1::CreateScorecardRequest* request,
                                                   v1::CreateScorecardResponse* response) {
  absl::StatusOr<Scorecard> scorecard = ScorecardFromProto(request->scorecard());
  if (!scorecard.ok()) return ToGrpcStatus(scorecard.status());
  absl::StatusOr<Scorecard> stored = health_->CreateScorecard(
      WriteKeyOf("CreateScorecard", *request, request->request_id()), scorecard_codec_,
      *std::move(scorecard));
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  ScorecardToProto(*stored, response->mutable_scorecard());
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::UpdateScorecard(grpc::ServerContext*,
                                                   const v1::UpdateScorecardRequest* request,
                                                   v1::UpdateScorecardResponse* response) {
  absl::StatusOr<Scorecard> scorecard = ScorecardFromProto(request->scorecard());
  if (!scorecard.ok()) return ToGrpcStatus(scorecard.status());
  absl::StatusOr<Scorecard> stored = health_->UpdateScorecard(
      WriteKeyOf("UpdateScorecard", *request, request->request_id()), scorecard_codec_,
      *std::move(scorecard));
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  ScorecardToProto(*stored, response->mutable_scorecard());
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::GetScorecard(grpc::ServerContext*,
                                                const v1::GetScorecardRequest* request,
                                                v1::GetScorecardResponse* response) {
  absl::StatusOr<Scorecard> scorecard =
      health_->GetScorecard(request->scorecard_id(), request->version());
  if (!scorecard.ok()) return ToGrpcStatus(scorecard.status());
  ScorecardToProto(*scorecard, response->mutable_scorecard());
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::ListScorecards(grpc::ServerContext*,
                                                  const v1::ListScorecardsRequest*,
                                                  v1::ListScorecardsResponse* response) {
  absl::StatusOr<std::vector<Scorecard>> scorecards = health_->ListScorecards();
  if (!scorecards.ok()) return ToGrpcStatus(scorecards.status());
  for (const Scorecard& s : *scorecards) ScorecardToProto(s, response->add_scorecards());
  return grpc::Status::OK;
}

// ---------------------------------------------------------------------------
// Scores

grpc::Status AccountHealthHandler::GetHealth(grpc::ServerContext*,
                                             const v1::GetHealthRequest* request,
                                             v1::GetHealthResponse* response) {
  absl::StatusOr<std::shared_ptr<const HealthView>> view =
      health_->GetHealthShared(request->account_id(), request->score_name(),
                               OptionalTimeFromProto(request->has_as_of(), request->as_of()));
  if (!view.ok()) return ToGrpcStatus(view.status());
  HealthToProto(**view, response->mutable_health());
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::GetHealthHistory(grpc::ServerContext*,
                                                    const v1::GetHealthHistoryRequest* request,
                                                    v1::GetHealthHistoryResponse* response) {
  absl::StatusOr<std::optional<absl::CivilDay>> from = DateFromProto("from", request->from());
  if (!from.ok()) return ToGrpcStatus(from.status());
  absl::StatusOr<std::optional<absl::CivilDay>> to = DateFromProto("to", request->to());
  if (!to.ok()) return ToGrpcStatus(to.status());
  absl::StatusOr<std::vector<HealthPoint>> points =
      health_->GetHealthHistory(request->account_id(), request->score_name(), *from, *to);
  if (!points.ok()) return ToGrpcStatus(points.status());
  for (const HealthPoint& p : *points) HealthPointToProto(p, response->add_points());
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::ExplainChange(grpc::ServerContext*,
                                                 const v1::ExplainChangeRequest* request,
                                                 v1::ExplainChangeResponse* response) {
  absl::StatusOr<absl::Time> from =
      RequiredTimeFromProto("from", request->has_from(), request->from());
  if (!from.ok()) return ToGrpcStatus(from.status());
  absl::StatusOr<ExplainResult> result =
      health_->ExplainChange(request->account_id(), request->score_name(), *from,
                             OptionalTimeFromProto(request->has_to(), request->to()));
  if (!result.ok()) return ToGrpcStatus(result.status());
  ExplainResultToProto(*result, response);
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::ListAtRisk(grpc::ServerContext*,
                                              const v1::ListAtRiskRequest* request,
                                              v1::ListAtRiskResponse* response) {
  absl::StatusOr<AtRiskQuery> query = AtRiskQueryFromProto(*request);
  if (!query.ok()) return ToGrpcStatus(query.status());
  absl::StatusOr<AtRiskPage> page = health_->ListAtRisk(*std::move(query));
  if (!page.ok()) return ToGrpcStatus(page.status());
  AtRiskPageToProto(*page, response);
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::GetPortfolioSummary(
    grpc::ServerContext*, const v1::GetPortfolioSummaryRequest* request,
    v1::GetPortfolioSummaryResponse* response) {
  absl::StatusOr<PortfolioSummary> summary =
      health_->GetPortfolioSummary(request->score_name(), request->period_days());
  if (!summary.ok()) return ToGrpcStatus(summary.status());
  PortfolioSummaryToProto(*summary, response);
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::SetOverride(grpc::ServerContext*,
                                               const v1::SetOverrideRequest* request,
                                               v1::SetOverrideResponse* response) {
  absl::StatusOr<Override> stored = health_->SetOverride(
      WriteKeyOf("SetOverride", *request, request->request_id()), override_codec_,
      OverrideFromProto(request->override()));
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  OverrideToProto(*stored, response->mutable_override());
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::ListOverrides(grpc::ServerContext*,
                                                 const v1::ListOverridesRequest* request,
                                                 v1::ListOverridesResponse* response) {
  absl::StatusOr<std::vector<Override>> overrides = health_->ListOverrides(request->account_id());
  if (!overrides.ok()) return ToGrpcStatus(overrides.status());
  for (const Override& o : *overrides) OverrideToProto(o, response->add_overrides());
  return grpc::Status::OK;
}

// ---------------------------------------------------------------------------
// Alerts

grpc::Status AccountHealthHandler::ListAlerts(grpc::ServerContext*,
                                              const v1::ListAlertsRequest* request,
                                              v1::ListAlertsResponse* response) {
  absl::StatusOr<AlertQuery> query = AlertQueryFromProto(*request);
  if (!query.ok()) return ToGrpcStatus(query.status());
  absl::StatusOr<AlertPage> page = health_->ListAlerts(*query);
  if (!page.ok()) return ToGrpcStatus(page.status());
  AlertPageToProto(*page, response);
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::GetAlertSettings(grpc::ServerContext*,
                                                    const v1::GetAlertSettingsRequest*,
                                                    v1::GetAlertSettingsResponse* response) {
  absl::StatusOr<AlertSettings> settings = health_->GetAlertSettings();
  if (!settings.ok()) return ToGrpcStatus(settings.status());
  AlertSettingsToProto(*settings, response->mutable_settings());
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::SetAlertSettings(grpc::ServerContext*,
                                                    const v1::SetAlertSettingsRequest* request,
                                                    v1::SetAlertSettingsResponse* response) {
  absl::StatusOr<AlertSettings> stored = health_->SetAlertSettings(
      WriteKeyOf("SetAlertSettings", *request, request->request_id()), settings_codec_,
      AlertSettingsFromProto(request->settings()));
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  AlertSettingsToProto(*stored, response->mutable_settings());
  return grpc::Status::OK;
}

// ---------------------------------------------------------------------------
// Backtests and churn models

grpc::Status AccountHealthHandler::BacktestScorecard(grpc::ServerContext*,
                                                     const v1::BacktestScorecardRequest* request,
                                                     v1::BacktestScorecardResponse* response) {
  absl::StatusOr<BacktestQuery> query = BacktestQueryFromProto(*request);
  if (!query.ok()) return ToGrpcStatus(query.status());
  absl::StatusOr<BacktestResult> result = health_->BacktestScorecard(*query);
  if (!result.ok()) return ToGrpcStatus(result.status());
  BacktestResultToProto(*result, response);
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::TrainChurnModel(grpc::ServerContext*,
                                                   const v1::TrainChurnModelRequest* request,
                                                   v1::TrainChurnModelResponse* response) {
  absl::StatusOr<TrainChurnRequest> train = TrainChurnRequestFromProto(*request);
  if (!train.ok()) return ToGrpcStatus(train.status());
  absl::StatusOr<StoredChurnModel> model = health_->TrainChurnModel(
      WriteKeyOf("TrainChurnModel", *request, request->request_id()), churn_model_codec_, *train);
  if (!model.ok()) return ToGrpcStatus(model.status());
  ChurnModelToProto(*model, response->mutable_model());
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::GetChurnModel(grpc::ServerContext*,
                                                 const v1::GetChurnModelRequest* request,
                                                 v1::GetChurnModelResponse* response) {
  absl::StatusOr<StoredChurnModel> model = health_->GetChurnModel(request->model_id());
  if (!model.ok()) return ToGrpcStatus(model.status());
  ChurnModelToProto(*model, response->mutable_model());
  return grpc::Status::OK;
}

}  // namespace cs::health
