// The PlaybookService methods of onboarding metrics and advocacy: thin, like the
// rest of grpc_handler.cc.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/server/grpc_status.h"
#include "common/server/proto_util.h"
#include "services/playbooks/advocacy_mapping.h"
#include "services/playbooks/grpc_handler.h"

namespace cs::playbooks {

namespace {

grpc::Status NotAttached() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "onboarding and advocacy are not served here");
}

const db::ResultCodec<AdvocacyAsk>& AskCodec() {
  static const db::ResultCodec<AdvocacyAsk> codec = ProtoCodec<AdvocacyAsk, v1::AdvocacyAsk>(
      AskToProto, [](const v1::AdvocacyAsk& p) { return AskFromProto(p); });
  return codec;
}

}  // namespace

grpc::Status PlaybookHandler::GetOnboardingMetrics(grpc::ServerContext*,
                                                   const v1::GetOnboardingMetricsRequest* request,
                                                   v1::GetOnboardingMetricsResponse* response) {
  if (onboarding_ == nullptr) return NotAttached();
  absl::StatusOr<OnboardingQuery> query = OnboardingQueryFromProto(*request);
  if (!query.ok()) return ToGrpcStatus(query.status());
  absl::StatusOr<OnboardingReport> report = onboarding_->GetOnboardingMetrics(*query);
  if (!report.ok()) return ToGrpcStatus(report.status());
  OnboardingReportToProto(*report, response);
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::ListAdvocateCandidates(
    grpc::ServerContext*, const v1::ListAdvocateCandidatesRequest* request,
    v1::ListAdvocateCandidatesResponse* response) {
  if (advocacy_ == nullptr) return NotAttached();
  absl::StatusOr<CandidateCriteria> criteria = CandidateCriteriaFromProto(*request);
  if (!criteria.ok()) return ToGrpcStatus(criteria.status());
  absl::StatusOr<std::vector<AdvocateCandidate>> candidates = advocacy_->ListCandidates(*criteria);
  if (!candidates.ok()) return ToGrpcStatus(candidates.status());
  for (const AdvocateCandidate& c : *candidates) CandidateToProto(c, response->add_candidates());
  response->set_min_score(criteria->min_score);
  response->set_min_nps(criteria->min_nps);
  response->set_min_green_days(criteria->min_green_days);
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::RecordAdvocacyAsk(grpc::ServerContext*,
                                                const v1::RecordAdvocacyAskRequest* request,
                                                v1::RecordAdvocacyAskResponse* response) {
  if (advocacy_ == nullptr) return NotAttached();
  absl::StatusOr<AdvocacyAsk> ask = AskFromRequest(*request);
  if (!ask.ok()) return ToGrpcStatus(ask.status());
  absl::StatusOr<AdvocacyAsk> stored = advocacy_->RecordAsk(
      WriteKeyOf("RecordAdvocacyAsk", *request, request->request_id()), AskCodec(), *ask);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  AskToProto(*stored, response->mutable_ask());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::UpdateAdvocacyAsk(grpc::ServerContext*,
                                                const v1::UpdateAdvocacyAskRequest* request,
                                                v1::UpdateAdvocacyAskResponse* response) {
  if (advocacy_ == nullptr) return NotAttached();
  if (!v1::AdvocacyAskStatus_IsValid(request->status())) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("status: unknown value ", request->status())));
  }
  absl::StatusOr<AdvocacyAsk> stored = advocacy_->UpdateAsk(
      WriteKeyOf("UpdateAdvocacyAsk", *request, request->request_id()), AskCodec(),
      request->ask_id(), static_cast<AskStatus>(request->status()), request->note());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  AskToProto(*stored, response->mutable_ask());
  return grpc::Status::OK;
}

grpc::Status PlaybookHandler::ListAdvocacyAsks(grpc::ServerContext*,
                                               const v1::ListAdvocacyAsksRequest* request,
                                               v1::ListAdvocacyAsksResponse* response) {
  if (advocacy_ == nullptr) return NotAttached();
  if (!v1::AdvocacyKind_IsValid(request->kind()) ||
      !v1::AdvocacyAskStatus_IsValid(request->status())) {
    return ToGrpcStatus(absl::InvalidArgumentError("kind or status: unknown value"));
  }
  AskFilter filter;
  filter.account_id = request->account_id();
  if (request->kind() != v1::ADVOCACY_KIND_UNSPECIFIED) {
    filter.kind = static_cast<AdvocacyKind>(request->kind());
  }
  if (request->status() != v1::ADVOCACY_ASK_STATUS_UNSPECIFIED) {
    filter.status = static_cast<AskStatus>(request->status());
  }
  filter.page_size = request->page_size();
  // The page token is the last ask id of the previous page.
  if (!request->page_token().empty() &&
      (!absl::SimpleAtoi(request->page_token(), &filter.before_ask_id) || filter.before_ask_id <= 0)) {
    return ToGrpcStatus(absl::InvalidArgumentError("page_token: not a token this service issued"));
  }
  absl::StatusOr<AskPage> page = advocacy_->ListAsks(filter);
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const AdvocacyAsk& a : page->asks) AskToProto(a, response->add_asks());
  if (page->next_before > 0) response->set_next_page_token(absl::StrCat(page->next_before));
  return grpc::Status::OK;
}

}  // namespace cs::playbooks
