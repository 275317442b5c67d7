#include "services/health/proto_mapping.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/server/common_mapping.h"
#include "common/server/proto_util.h"
#include "common/status.h"
#include "services/health/scorecard.h"

namespace cs::health {

absl::StatusOr<Account> AccountFromProto(const v1::Account& p) {
  Account a;
  a.account_id = p.account_id();
  a.name = p.name();
  if (!v1::Tier_IsValid(p.tier())) {
    return absl::InvalidArgumentError(absl::StrCat("account.tier: unknown value ", p.tier()));
  }
  a.tier = static_cast<Tier>(p.tier());
  a.employee_count = p.employee_count();
  if (!v1::Industry_IsValid(p.industry())) {
    return absl::InvalidArgumentError(
        absl::StrCat("account.industry: unknown value ", p.industry()));
  }
  a.industry = static_cast<Industry>(p.industry());
  a.owner_id = p.owner_id();
  if (!v1::Lifecycle_IsValid(p.lifecycle())) {
    return absl::InvalidArgumentError(
        absl::StrCat("account.lifecycle: unknown value ", p.lifecycle()));
  }
  a.lifecycle = static_cast<Lifecycle>(p.lifecycle());
  ASSIGN_OR_RETURN(a.contract_start, DateFromProto("account.contract_start", p.contract_start()));
  ASSIGN_OR_RETURN(a.renewal_date, DateFromProto("account.renewal_date", p.renewal_date()));
  a.arr = FromProto(p.arr());
  ASSIGN_OR_RETURN(a.churned_on, DateFromProto("account.churned_on", p.churned_on()));
  a.churn_reason = p.churn_reason();
  return a;
}

absl::StatusOr<Account> StoredAccountFromProto(const v1::Account& p) {
  ASSIGN_OR_RETURN(Account a, AccountFromProto(p));
  a.created_at = FromTimestamp(p.created_at());
  a.updated_at = FromTimestamp(p.updated_at());
  if (!absl::SimpleAtoi(p.etag(), &a.version)) {
    return absl::InternalError("stored account has a bad etag");
  }
  return a;
}

void AccountToProto(const Account& a, v1::Account* out) {
  out->set_account_id(a.account_id);
  out->set_name(a.name);
  out->set_tier(static_cast<v1::Tier>(a.tier));
  out->set_employee_count(a.employee_count);
  out->set_industry(static_cast<v1::Industry>(a.industry));
  out->set_owner_id(a.owner_id);
  out->set_lifecycle(static_cast<v1::Lifecycle>(a.lifecycle));
  DateToProto(a.contract_start, out->mutable_contract_start());
  DateToProto(a.renewal_date, out->mutable_renewal_date());
  if (!a.arr.currency_code.empty()) ToProto(a.arr, out->mutable_arr());
  ToTimestamp(a.created_at, out->mutable_created_at());
  ToTimestamp(a.updated_at, out->mutable_updated_at());
  out->set_etag(absl::StrCat(a.version));
  DateToProto(a.churned_on, out->mutable_churned_on());
  out->set_churn_reason(a.churn_reason);
}

void UpsertResultToProto(const UpsertAccountResult& r, v1::UpsertAccountResponse* out) {
  AccountToProto(r.account, out->mutable_account());
  out->set_created(r.created);
}

absl::StatusOr<UpsertAccountResult> UpsertResultFromProto(const v1::UpsertAccountResponse& p) {
  UpsertAccountResult r;
  ASSIGN_OR_RETURN(r.account, StoredAccountFromProto(p.account()));
  r.created = p.created();
  return r;
}

absl::StatusOr<AccountFilter> FilterFromProto(const v1::ListAccountsRequest& p) {
  AccountFilter f;
  if (!v1::Tier_IsValid(p.tier())) {
    return absl::InvalidArgumentError(absl::StrCat("tier: unknown value ", p.tier()));
  }
  if (p.tier() != v1::TIER_UNSPECIFIED) f.tier = static_cast<Tier>(p.tier());
  if (!v1::Industry_IsValid(p.industry())) {
    return absl::InvalidArgumentError(absl::StrCat("industry: unknown value ", p.industry()));
  }
  if (p.industry() != v1::INDUSTRY_UNSPECIFIED) f.industry = static_cast<Industry>(p.industry());
  if (!v1::Lifecycle_IsValid(p.lifecycle())) {
    return absl::InvalidArgumentError(absl::StrCat("lifecycle: unknown value ", p.lifecycle()));
  }
  if (p.lifecycle() != v1::LIFECYCLE_UNSPECIFIED) {
    f.lifecycle = static_cast<Lifecycle>(p.lifecycle());
  }
  f.owner_id = p.owner_id();
  if (!v1::Band_IsValid(p.band())) {
    return absl::InvalidArgumentError(absl::StrCat("band: unknown value ", p.band()));
  }
  if (p.band() != v1::BAND_UNSPECIFIED) f.band = static_cast<Band>(p.band());
  f.account_ids.assign(p.account_ids().begin(), p.account_ids().end());
  return f;
}

std::string EncodeAccountEvent(const Account& a) {
  v1::Account p;
  AccountToProto(a, &p);
  return p.SerializeAsString();
}

absl::Status EventToProto(const Event& e, v1::Event* out) {
  out->set_sequence(e.sequence);
  out->set_kind(static_cast<v1::EventKind>(e.kind));
  out->set_account_id(e.account_id);
  ToTimestamp(e.occurred_at, out->mutable_occurred_at());
  bool parsed = true;
  switch (e.kind) {
    case EventKind::kAccountUpserted:
    case EventKind::kAccountChurned:
      parsed = out->mutable_account()->ParseFromString(e.payload);
      break;
    case EventKind::kScoreChanged:
    case EventKind::kBandChanged:
      parsed = out->mutable_score_change()->ParseFromString(e.payload);
      break;
    case EventKind::kAlertOpened:
    case EventKind::kAlertResolved:
      parsed = out->mutable_alert()->ParseFromString(e.payload);
      break;
    case EventKind::kExpansionSignal:
      parsed = out->mutable_expansion_signal()->ParseFromString(e.payload);
      break;
    case EventKind::kFirstValueReached:
      parsed = out->mutable_first_value_reached()->ParseFromString(e.payload);
      break;
    case EventKind::kNpsRecorded:
      parsed = out->mutable_nps_recorded()->ParseFromString(e.payload);
      break;
    default:
      break;
  }
  if (!parsed) return absl::InternalError("stored event payload does not parse");
  return absl::OkStatus();
}

}  // namespace cs::health
