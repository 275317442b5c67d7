#ifndef CS_COMMON_HASH_H_
#define CS_COMMON_HASH_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

namespace cs {

// FNV-1a, 64 bit: stable across processes and builds (unlike absl::Hash), so it
// can be stored (migration checksums, request fingerprints).
inline uint64_t Fingerprint64(absl::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The fingerprint as 16 lower-case hex digits.
std::string Fingerprint64Hex(absl::string_view data);

}  // namespace cs

#endif  // CS_COMMON_HASH_H_
