#include "common/money.h"

#include "absl/strings/str_cat.h"

namespace cs {
namespace {

// Active ISO-4217 alphabetic codes, sorted.
constexpr absl::string_view kCodes =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN "
    "BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD "
    "FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY "
    "KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP "
    "MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR "
    "RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT "
    "TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR "
    "ZMW ZWG";

}  // namespace

bool IsIsoCurrency(absl::string_view code) {
  if (code.size() != 3) return false;
  for (char c : code) {
    if (c < 'A' || c > 'Z') return false;
  }
  for (size_t i = 0; i + 3 <= kCodes.size(); i += 4) {
    if (kCodes.substr(i, 3) == code) return true;
  }
  return false;
}

absl::Status ValidateMoney(absl::string_view field, const Money& money, bool allow_negative) {
  if (!IsIsoCurrency(money.currency_code)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".currency_code: '", money.currency_code, "' is not an ISO-4217 currency code"));
  }
  if (!allow_negative && money.minor_units < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".minor_units: must not be negative"));
  }
  return absl::OkStatus();
}

}  // namespace cs
