#include "services/playbooks/advocacy_service.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/validation.h"

namespace cs::playbooks {
namespace {

bool KnownTier(const std::string& tier) {
  return tier == "ENTERPRISE" || tier == "MID_MARKET" || tier == "SMB" || tier == "SOLO";
}

}  // namespace

absl::StatusOr<std::vector<AdvocateCandidate>> AdvocacyService::ListCandidates(
    CandidateCriteria c) {
  if (!(c.min_score >= 0 && c.min_score <= 100)) {
    return absl::InvalidArgumentError("min_score: must be 0-100");
  }
  if (!(c.min_nps >= 0 && c.min_nps <= 10)) {
    return absl::InvalidArgumentError("min_nps: must be 0-10");
  }
  if (c.min_green_days < 0 || c.min_green_days > 730) {
    return absl::InvalidArgumentError("min_green_days: must be 0-730");
  }
  if (!c.tier.empty() && !KnownTier(c.tier)) return absl::InvalidArgumentError("tier: unknown tier");
  if (c.limit < 0 || c.limit > kMaxLimit) {
    return absl::InvalidArgumentError(absl::StrCat("limit: must be 0-", kMaxLimit));
  }
  if (c.limit == 0) c.limit = 50;
  return repository_->ListCandidates(c, clock_->Now());
}

absl::StatusOr<AdvocacyAsk> AdvocacyService::RecordAsk(const db::WriteKey& key,
                                                       const db::ResultCodec<AdvocacyAsk>& codec,
                                                       AdvocacyAsk ask) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("account_id", ask.account_id));
  if (ask.kind == AdvocacyKind::kUnspecified || AdvocacyKindName(ask.kind) == "UNSPECIFIED") {
    return absl::InvalidArgumentError("kind: required (reference, case study or referral)");
  }
  if (ask.status == AskStatus::kUnspecified) ask.status = AskStatus::kRequested;
  if (AskStatusName(ask.status) == "UNSPECIFIED") {
    return absl::InvalidArgumentError("status: unknown value");
  }
  if (ask.asked_by.empty() || ask.asked_by.size() > 128) {
    return absl::InvalidArgumentError("asked_by: must be 1-128 characters");
  }
  if (ask.note.size() > 1000) return absl::InvalidArgumentError("note: longer than 1000 characters");
  if (ask.override_reason.size() > 500) {
    return absl::InvalidArgumentError("override_reason: longer than 500 characters");
  }
  return repository_->RecordAsk(key, codec, ask, clock_->Now());
}

absl::StatusOr<AdvocacyAsk> AdvocacyService::UpdateAsk(const db::WriteKey& key,
                                                       const db::ResultCodec<AdvocacyAsk>& codec,
                                                       int64_t ask_id, AskStatus status,
                                                       const std::string& note) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  if (ask_id <= 0) return absl::InvalidArgumentError("ask_id: required");
  if (status == AskStatus::kUnspecified || AskStatusName(status) == "UNSPECIFIED") {
    return absl::InvalidArgumentError("status: required");
  }
  if (note.size() > 1000) return absl::InvalidArgumentError("note: longer than 1000 characters");
  return repository_->UpdateAsk(key, codec, ask_id, status, note, clock_->Now());
}

absl::StatusOr<AskPage> AdvocacyService::ListAsks(AskFilter f) {
  if (f.page_size < 0 || f.page_size > kMaxLimit) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: must be 0-", kMaxLimit));
  }
  if (f.page_size == 0) f.page_size = 50;
  if (f.before_ask_id < 0) return absl::InvalidArgumentError("page_token: not a token this service issued");
  return repository_->ListAsks(f);
}

}  // namespace cs::playbooks
