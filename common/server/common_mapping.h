#ifndef CS_COMMON_SERVER_COMMON_MAPPING_H_
#define CS_COMMON_SERVER_COMMON_MAPPING_H_

// cs.common.v1 messages <-> domain values, shared by every service's mapping layer.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "common/money.h"
#include "cs/common/v1/common.pb.h"

namespace cs {

Money FromProto(const cs::common::v1::Money& p);
void ToProto(const Money& m, cs::common::v1::Money* out);

// An unset date (all zero) is nullopt; an impossible one is INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::optional<absl::CivilDay>> DateFromProto(absl::string_view field,
                                                            const cs::common::v1::Date& p);
void DateToProto(const std::optional<absl::CivilDay>& day, cs::common::v1::Date* out);

// Page size: 0 -> default_size; over max_size or negative -> INVALID_ARGUMENT.
absl::StatusOr<int> PageSize(const cs::common::v1::PageRequest& page, int default_size = 50,
                             int max_size = 1000);

// Page tokens are opaque to clients: the position (a key) in URL-safe base64.
std::string EncodePageToken(absl::string_view position);
// INVALID_ARGUMENT naming page.page_token when it is not a token this service issued.
absl::StatusOr<std::string> DecodePageToken(absl::string_view token);

}  // namespace cs

#endif  // CS_COMMON_SERVER_COMMON_MAPPING_H_
