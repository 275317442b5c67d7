#ifndef CS_SERVICES_HEALTH_PROTO_MAPPING_H_
#define CS_SERVICES_HEALTH_PROTO_MAPPING_H_

#include "absl/status/statusor.h"
#include "cs/health/v1/health.pb.h"
#include "services/health/account.h"
#include "services/health/event.h"

namespace cs::health {

// Unknown enum numbers are INVALID_ARGUMENT naming the field.
absl::StatusOr<Account> AccountFromProto(const cs::health::v1::Account& p);
void AccountToProto(const Account& a, cs::health::v1::Account* out);
// As AccountFromProto, plus what only the service sets (times, version): for
// reading back answers the service itself stored.
absl::StatusOr<Account> StoredAccountFromProto(const cs::health::v1::Account& p);

void UpsertResultToProto(const UpsertAccountResult& r, cs::health::v1::UpsertAccountResponse* out);
absl::StatusOr<UpsertAccountResult> UpsertResultFromProto(
    const cs::health::v1::UpsertAccountResponse& p);

// Unset (zero) enums and an empty owner mean "any"; unknown enum numbers are
// INVALID_ARGUMENT naming the field.
absl::StatusOr<AccountFilter> FilterFromProto(const cs::health::v1::ListAccountsRequest& p);

// The payload of an ACCOUNT_UPSERTED event: the serialized cs.health.v1.Account.
std::string EncodeAccountEvent(const Account& a);
// INTERNAL when a stored payload does not parse.
absl::Status EventToProto(const Event& e, cs::health::v1::Event* out);

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_PROTO_MAPPING_H_
