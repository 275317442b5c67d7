#ifndef CS_COMMON_ENUM_NAMES_H_
#define CS_COMMON_ENUM_NAMES_H_

// A fixed table between a domain enum and the stable names stored in the database
// ("ENTERPRISE", "CSM", "EXPANSION"): names, not numbers, so reordering an enum
// never changes what stored rows mean.

#include <array>
#include <cstddef>
#include <optional>
#include <utility>

#include "absl/strings/string_view.h"

namespace cs {

template <typename E, size_t N>
class EnumNames {
 public:
  constexpr explicit EnumNames(std::array<std::pair<E, absl::string_view>, N> table)
      : table_(table) {}

  // The value's name, or `fallback` for a value not in the table.
  constexpr absl::string_view Name(E value, absl::string_view fallback = "UNSPECIFIED") const {
    for (const auto& [e, name] : table_) {
      if (e == value) return name;
    }
    return fallback;
  }

  constexpr std::optional<E> Parse(absl::string_view name) const {
    for (const auto& [e, n] : table_) {
      if (n == name) return e;
    }
    return std::nullopt;
  }

 private:
  std::array<std::pair<E, absl::string_view>, N> table_;
};

}  // namespace cs

#endif  // CS_COMMON_ENUM_NAMES_H_
