#ifndef CS_COMMON_MONEY_H_
#define CS_COMMON_MONEY_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace cs {

// An amount in minor units (cents for USD) of an ISO-4217 currency.
struct Money {
  int64_t minor_units = 0;
  std::string currency_code;

  bool operator==(const Money&) const = default;
};

// True for an active ISO-4217 alphabetic code ("USD", "EUR", ...).
bool IsIsoCurrency(absl::string_view code);

// Checks the currency code (and, unless allow_negative, the sign); `field` names
// the field in the error, e.g. "account.arr".
absl::Status ValidateMoney(absl::string_view field, const Money& money, bool allow_negative);

}  // namespace cs

#endif  // CS_COMMON_MONEY_H_
