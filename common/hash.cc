#include "common/hash.h"

#include "absl/strings/str_format.h"

namespace cs {

std::string Fingerprint64Hex(absl::string_view data) {
  return absl::StrFormat("%016x", Fingerprint64(data));
}

}  // namespace cs
