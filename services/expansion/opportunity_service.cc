#include "services/expansion/opportunity_service.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/expansion/revenue_service.h"

namespace cs::expansion {
namespace {

absl::Status CheckReason(absl::string_view field, const std::string& value, bool required) {
  if (value.empty()) {
    if (required) return absl::InvalidArgumentError(absl::StrCat(field, ": must be set"));
    return absl::OkStatus();
  }
  if (value.size() > 500) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": at most 500 characters"));
  }
  return absl::OkStatus();
}

absl::Status CheckId(int64_t id) {
  if (id <= 0) return absl::InvalidArgumentError("opportunity_id: must be set");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Opportunity> OpportunityService::Create(const db::WriteKey& key,
                                                       const db::ResultCodec<Opportunity>& codec,
                                                       const Opportunity& opportunity) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id));
  const absl::Time now = clock_->Now();
  Opportunity o = opportunity;
  o.created_at = absl::Time();  // set by the repository; the close date is checked against today
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  // A playbook or signal rule opening an opportunity rarely knows when it will close:
  // DOMAIN §4's expansion cycle (90 days from identified to won) stands in.
  if (!o.expected_close_date.has_value()) o.expected_close_date = today + kDefaultCloseDays;
  RETURN_IF_ERROR(ValidateNewOpportunity(o, today));
  return repository_->Create(key, codec, o, now);
}

absl::StatusOr<Opportunity> OpportunityService::Get(int64_t opportunity_id) {
  RETURN_IF_ERROR(CheckId(opportunity_id));
  return repository_->Get(opportunity_id);
}

absl::StatusOr<OpportunityPage> OpportunityService::List(const OpportunityFilter& filter,
                                                         int64_t after_id, int page_size) {
  RETURN_IF_ERROR(ValidateId("account_id", filter.account_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("owner_id", filter.owner_id, /*required=*/false));
  if (filter.close_quarter.has_value() &&
      (filter.close_quarter->quarter < 1 || filter.close_quarter->quarter > 4 ||
       filter.close_quarter->year < 1970 || filter.close_quarter->year > 9999)) {
    return absl::InvalidArgumentError("close_quarter: year 1970-9999 and quarter 1-4");
  }
  if (page_size < 1 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError("page.page_size: must be in 1-1000");
  }
  return repository_->List(filter, after_id, page_size);
}

absl::StatusOr<Opportunity> OpportunityService::Update(
    const db::WriteKey& key, const db::ResultCodec<Opportunity>& codec, int64_t opportunity_id,
    const std::string& etag, const Opportunity& patch,
    const std::vector<OpportunityField>& fields) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id));
  RETURN_IF_ERROR(CheckId(opportunity_id));
  if (etag.empty()) return absl::InvalidArgumentError("opportunity.etag: must be set");
  if (fields.empty())
    return absl::InvalidArgumentError("update_mask: must name at least one field");
  return repository_->Update(
      key, codec, opportunity_id, etag,
      [&](Opportunity& o) -> absl::Status {
        if (IsClosed(o.stage)) {
          return absl::FailedPreconditionError(absl::StrCat(
              "opportunity ", o.opportunity_id, " is ", StageName(o.stage), " and cannot change"));
        }
        for (OpportunityField f : fields) ApplyField(f, patch, o);
        return ValidateOpportunityFields(o);
      },
      clock_->Now());
}

absl::StatusOr<AdvanceResult> OpportunityService::Advance(
    const db::WriteKey& key, const db::ResultCodec<AdvanceResult>& codec,
    const AdvanceRequest& request) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id));
  RETURN_IF_ERROR(CheckId(request.opportunity_id));
  if (request.to == Stage::kUnspecified) {
    return absl::InvalidArgumentError("to_stage: must be set");
  }
  RETURN_IF_ERROR(CheckReason("loss_reason", request.loss_reason,
                              /*required=*/request.to == Stage::kClosedLost));
  if (request.to != Stage::kClosedLost && !request.loss_reason.empty()) {
    return absl::InvalidArgumentError("loss_reason: only for CLOSED_LOST");
  }
  RETURN_IF_ERROR(CheckReason("health_override_reason", request.health_override_reason, false));
  RETURN_IF_ERROR(ValidateId("actor_id", request.actor_id, /*required=*/false));
  // A retry of a move that went through replays its answer, even if health is down
  // now or the stage machine would refuse the move from where it stands.
  ASSIGN_OR_RETURN(std::optional<AdvanceResult> stored, repository_->FindStoredAdvance(key, codec));
  if (stored.has_value()) return *std::move(stored);

  ASSIGN_OR_RETURN(Opportunity current, repository_->Get(request.opportunity_id));
  RETURN_IF_ERROR(CheckStageMove(current.stage, request.to));
  if (!request.etag.empty() && request.etag != EtagOf(current)) {
    return absl::AbortedError(absl::StrCat("etag: opportunity ", current.opportunity_id,
                                           " changed since it was read (etag ", EtagOf(current),
                                           "); read it again"));
  }
  StageMove move;
  move.opportunity_id = request.opportunity_id;
  move.expected_from = current.stage;
  move.to = request.to;
  move.etag = request.etag;
  move.loss_reason = request.loss_reason;
  move.actor_id = request.actor_id;
  if (NeedsHealthGuard(request.to)) {
    // Asked outside any transaction: no row lock is held while health answers.
    absl::StatusOr<HealthBand> band = health_->GetBand(current.account_id);
    if (!band.ok()) {
      if (band.status().code() == absl::StatusCode::kUnavailable) {
        return absl::UnavailableError(absl::StrCat(
            "health could not be asked about account '", current.account_id,
            "'; moving past QUALIFIED needs its answer (retry): ", band.status().message()));
      }
      return band.status();
    }
    move.health_band = *band;
    if (*band == HealthBand::kRed) {
      if (request.health_override_reason.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("account '", current.account_id,
                         "' is RED in health: moving past QUALIFIED needs health_override_reason"));
      }
      move.health_override_reason = request.health_override_reason;
    }
  }
  return repository_->Advance(key, codec, move, clock_->Now());
}

absl::StatusOr<StageProbabilities> OpportunityService::GetProbabilities() {
  return repository_->GetProbabilities();
}

absl::StatusOr<StageProbabilities> OpportunityService::SetProbabilities(
    const db::WriteKey& key, const db::ResultCodec<StageProbabilities>& codec,
    const std::map<Stage, int>& changes) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id));
  if (changes.empty()) return absl::InvalidArgumentError("probabilities: must not be empty");
  StageProbabilities check;
  for (const auto& [stage, percent] : changes) {
    if (stage == Stage::kUnspecified) {
      return absl::InvalidArgumentError("probabilities.stage: must be set");
    }
    check.percent[static_cast<int>(stage)] = percent;
  }
  RETURN_IF_ERROR(ValidateStageProbabilities(check));
  return repository_->SetProbabilities(key, codec, changes);
}

absl::StatusOr<AccountProfile> OpportunityService::UpsertProfile(
    const db::WriteKey& key, const db::ResultCodec<AccountProfile>& codec,
    const AccountProfile& profile) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id));
  RETURN_IF_ERROR(ValidateProfile(profile));
  return repository_->UpsertProfile(key, codec, profile, clock_->Now());
}

absl::StatusOr<AccountProfile> OpportunityService::GetProfile(const std::string& account_id) {
  RETURN_IF_ERROR(ValidateId("account_id", account_id));
  return repository_->GetProfile(account_id);
}

absl::StatusOr<SuggestResult> OpportunityService::Suggest(const std::string& account_id) {
  RETURN_IF_ERROR(ValidateId("account_id", account_id));
  ASSIGN_OR_RETURN(AccountProfile profile, repository_->GetProfile(account_id));
  SuggestResult result;
  // DOMAIN §4: red accounts are not pushed for expansion, so health must answer.
  ASSIGN_OR_RETURN(result.band, health_->GetBand(account_id));
  if (result.band == HealthBand::kRed) {
    result.withheld_reason = "account is RED in health: no expansion suggestions";
    return result;
  }
  ASSIGN_OR_RETURN(auto open, repository_->OpenKinds(account_id));
  result.suggestions = SuggestFromProfile(profile, open, suggestions_);
  return result;
}

}  // namespace cs::expansion
