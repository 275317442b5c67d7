#include "common/validation.h"

#include "absl/strings/str_cat.h"

namespace cs {

absl::Status ValidateId(absl::string_view field, absl::string_view value, bool required) {
  if (value.empty()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  }
  if (value.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": longer than 128 characters"));
  }
  for (unsigned char c : value) {
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": only printable ASCII without spaces is allowed"));
    }
  }
  return absl::OkStatus();
}

}  // namespace cs
