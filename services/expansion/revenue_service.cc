#include "services/expansion/revenue_service.h"

#include "common/status.h"
#include "common/validation.h"

namespace cs::expansion {

absl::StatusOr<RevenueMovement> RevenueService::RecordMovement(
    const db::WriteKey& key, const db::ResultCodec<RevenueMovement>& codec,
    const RevenueMovement& movement) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id));
  RETURN_IF_ERROR(ValidateMovement(movement));
  return repository_->Record(key, codec, movement, clock_->Now());
}

absl::StatusOr<ImportResult> RevenueService::Import(const db::WriteKey& key,
                                                    const db::ResultCodec<ImportResult>& codec,
                                                    const std::vector<SubscriptionMonth>& rows) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id));
  RETURN_IF_ERROR(ValidateImport(rows));
  return repository_->Import(key, codec, rows, clock_->Now());
}

absl::StatusOr<MovementPage> RevenueService::ListMovements(const std::string& account_id,
                                                           int64_t after_id, int page_size) {
  RETURN_IF_ERROR(ValidateId("account_id", account_id, /*required=*/false));
  if (page_size < 1 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError("page.page_size: must be in 1-1000");
  }
  return repository_->List(account_id, after_id, page_size);
}

}  // namespace cs::expansion
