#ifndef CS_COMMON_VALIDATION_H_
#define CS_COMMON_VALIDATION_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cs {

// Checks a client-chosen id (request_id, account_id, ...): 1-128 printable ASCII
// characters without spaces. `field` names the field in the error.
absl::Status ValidateId(absl::string_view field, absl::string_view value, bool required = true);

}  // namespace cs

#endif  // CS_COMMON_VALIDATION_H_
