#include "services/health/account_service.h"

#include "absl/strings/str_cat.h"
#include "common/validation.h"
#include "common/status.h"

namespace cs::health {

absl::Status ValidateAccount(const Account& a) {
  RETURN_IF_ERROR(ValidateId("account.account_id", a.account_id));
  if (a.name.empty()) return absl::InvalidArgumentError("account.name: must not be empty");
  if (a.name.size() > 255) {
    return absl::InvalidArgumentError("account.name: longer than 255 characters");
  }
  if (a.employee_count < 0) {
    return absl::InvalidArgumentError("account.employee_count: must not be negative");
  }
  RETURN_IF_ERROR(ValidateId("account.owner_id", a.owner_id, /*required=*/false));
  if (a.arr.minor_units != 0 || !a.arr.currency_code.empty()) {
    RETURN_IF_ERROR(ValidateMoney("account.arr", a.arr, /*allow_negative=*/false));
  }
  if (a.contract_start.has_value() && a.renewal_date.has_value() &&
      *a.renewal_date < *a.contract_start) {
    return absl::InvalidArgumentError("account.renewal_date: before account.contract_start");
  }
  return absl::OkStatus();
}

absl::StatusOr<UpsertAccountResult> AccountService::UpsertAccount(
    const db::WriteKey& key, const db::ResultCodec<UpsertAccountResult>& codec,
    Account account) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateAccount(account));
  if (account.tier == Tier::kUnspecified) account.tier = DeriveTier(account.employee_count);
  return repository_->Upsert(key, codec, account, clock_->Now());
}

absl::StatusOr<Account> AccountService::MarkChurned(const db::WriteKey& key,
                                                   const db::ResultCodec<Account>& codec,
                                                   const std::string& account_id,
                                                   std::optional<absl::CivilDay> churned_on,
                                                   const std::string& reason) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("account_id", account_id));
  if (!churned_on.has_value()) return absl::InvalidArgumentError("churned_on: must be set");
  const absl::Time now = clock_->Now();
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  if (*churned_on > today + 1) {
    return absl::InvalidArgumentError("churned_on: more than a day in the future");
  }
  if (reason.empty() || reason.size() > 500) {
    return absl::InvalidArgumentError("reason: must be 1-500 characters");
  }
  return repository_->MarkChurned(key, codec, account_id, *churned_on, reason, now);
}

absl::StatusOr<Account> AccountService::GetAccount(const std::string& account_id) {
  RETURN_IF_ERROR(ValidateId("account_id", account_id));
  return repository_->Get(account_id);
}

absl::StatusOr<AccountPage> AccountService::ListAccounts(const AccountFilter& filter,
                                                         const std::string& after_id,
                                                         int page_size) {
  RETURN_IF_ERROR(ValidateId("owner_id", filter.owner_id, /*required=*/false));
  if (filter.account_ids.size() > kMaxListedAccountIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("account_ids: at most ", kMaxListedAccountIds, " ids"));
  }
  for (size_t i = 0; i < filter.account_ids.size(); ++i) {
    RETURN_IF_ERROR(ValidateId(absl::StrCat("account_ids[", i, "]"), filter.account_ids[i]));
  }
  if (page_size < 1 || page_size > 1000) {
    return absl::InvalidArgumentError("page.page_size: must be in 1-1000");
  }
  return repository_->List(filter, after_id, page_size);
}

}  // namespace cs::health
