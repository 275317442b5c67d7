#include "common/server/common_mapping.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cs {

Money FromProto(const cs::common::v1::Money& p) { return Money{p.minor_units(), p.currency_code()}; }

void ToProto(const Money& m, cs::common::v1::Money* out) {
  out->set_minor_units(m.minor_units);
  out->set_currency_code(m.currency_code);
}

absl::StatusOr<std::optional<absl::CivilDay>> DateFromProto(absl::string_view field,
                                                            const cs::common::v1::Date& p) {
  if (p.year() == 0 && p.month() == 0 && p.day() == 0) return std::optional<absl::CivilDay>();
  if (p.year() < 1900 || p.year() > 9999 || p.month() < 1 || p.month() > 12 || p.day() < 1 ||
      p.day() > 31) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a valid date"));
  }
  const absl::CivilDay day(p.year(), p.month(), p.day());
  // CivilDay normalises 2026-02-30 to March; a normalised date was not a real one.
  if (day.month() != p.month() || day.day() != p.day()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a valid date"));
  }
  return std::optional<absl::CivilDay>(day);
}

void DateToProto(const std::optional<absl::CivilDay>& day, cs::common::v1::Date* out) {
  if (!day.has_value()) return;
  out->set_year(static_cast<int32_t>(day->year()));
  out->set_month(day->month());
  out->set_day(day->day());
}

absl::StatusOr<int> PageSize(const cs::common::v1::PageRequest& page, int default_size,
                             int max_size) {
  if (page.page_size() < 0) {
    return absl::InvalidArgumentError("page.page_size: must not be negative");
  }
  if (page.page_size() > max_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("page.page_size: must be at most ", max_size));
  }
  return page.page_size() == 0 ? default_size : page.page_size();
}

namespace {
constexpr absl::string_view kTokenPrefix = "p1:";
}  // namespace

std::string EncodePageToken(absl::string_view position) {
  return absl::WebSafeBase64Escape(absl::StrCat(kTokenPrefix, position));
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || !absl::StartsWith(raw, kTokenPrefix)) {
    return absl::InvalidArgumentError("page.page_token: not a token returned by this list");
  }
  return raw.substr(kTokenPrefix.size());
}

}  // namespace cs
