#include "services/health/packed_rows.h"

#include <charconv>
#include <optional>
#include <vector>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace cs::health {
namespace {

void AppendEscaped(absl::string_view name, std::string& out) {
  for (char c : name) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

bool Unescape(absl::string_view text, std::string& out) {
  out.clear();
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) return false;
    switch (text[i]) {
      case '\\': out += '\\'; break;
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      default: return false;
    }
  }
  return true;
}

absl::Status Malformed(absl::string_view what, int line, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("packed ", what, ", line ", line, ": ", why));
}

// The shortest text that reads back as the same double.
void AppendNumber(double value, std::string& out) {
  char number[32];
  const std::to_chars_result r = std::to_chars(number, number + sizeof(number), value);
  out.append(number, r.ptr);
}

// Calls fn(fields, line) with each non-empty line's tab-separated fields.
template <typename Fn>
absl::Status ForEachRow(absl::string_view text, Fn fn) {
  int line = 0;
  for (absl::string_view row : absl::StrSplit(text, '\n')) {
    ++line;
    if (row.empty()) continue;
    const std::vector<absl::string_view> fields = absl::StrSplit(row, '\t');
    RETURN_IF_ERROR(fn(fields, line));
  }
  return absl::OkStatus();
}

// Calls visit(day, counter, value) for each line; visit returns false for a day the
// month does not have.
template <typename Visit>
absl::Status ForEachCounter(absl::string_view text, Visit visit) {
  std::string counter;
  return ForEachRow(text, [&](const std::vector<absl::string_view>& f, int line) -> absl::Status {
    if (f.size() != 3) return Malformed("counters", line, "not three fields");
    int day = 0;
    double value = 0;
    if (!absl::SimpleAtoi(f[0], &day) || day < 1 || day > 31) {
      return Malformed("counters", line, "day of month not 1-31");
    }
    if (!Unescape(f[1], counter) || counter.empty()) {
      return Malformed("counters", line, "bad counter name");
    }
    if (!absl::SimpleAtod(f[2], &value)) return Malformed("counters", line, "bad value");
    if (!visit(day, counter, value)) return Malformed("counters", line, "day past the month's end");
    return absl::OkStatus();
  });
}

}  // namespace

std::string EncodeMonthCounters(const MonthCounters& counters) {
  std::string out;
  out.reserve(counters.size() * 24);
  for (const auto& [key, value] : counters) {
    if (!out.empty()) out += '\n';
    absl::StrAppend(&out, key.first, "\t");
    AppendEscaped(key.second, out);
    out += '\t';
    AppendNumber(value, out);
  }
  return out;
}

absl::Status DecodeMonthCounters(absl::string_view text, MonthCounters& out) {
  return ForEachCounter(text, [&](int day, const std::string& counter, double value) {
    out[{day, counter}] += value;
    return true;
  });
}

absl::Status AppendCounterRows(absl::CivilMonth month, absl::string_view text,
                               absl::CivilDay from, absl::CivilDay to,
                               std::vector<CounterRow>& out) {
  const absl::CivilDay first(month);
  return ForEachCounter(text, [&](int day, const std::string& counter, double value) {
    const absl::CivilDay d = first + (day - 1);
    if (absl::CivilMonth(d) != month) return false;
    if (d >= from && d <= to) out.push_back(CounterRow{d, counter, value});
    return true;
  });
}

void AppendSignalLine(const Signal& s, std::string& out) {
  if (!out.empty()) out += '\n';
  absl::StrAppend(&out, s.event_id, "\t", SignalKindName(s.kind), "\t",
                  absl::ToUnixMicros(s.occurred_at), "\t");
  AppendNumber(s.value, out);
  out += '\t';
  AppendNumber(s.csat, out);
  out += '\t';
  AppendEscaped(s.feature, out);
}

absl::Status ForEachLoggedSignal(absl::string_view text,
                                 const std::function<void(const Signal&)>& visit) {
  Signal s;
  return ForEachRow(text, [&](const std::vector<absl::string_view>& f, int line) -> absl::Status {
    if (f.size() != 6) return Malformed("signals", line, "not six fields");
    s.event_id = std::string(f[0]);
    std::optional<SignalKind> kind = SignalKindFromName(f[1]);
    if (s.event_id.empty() || !kind.has_value()) {
      return Malformed("signals", line, "no event id or an unknown kind");
    }
    s.kind = *kind;
    int64_t micros = 0;
    if (!absl::SimpleAtoi(f[2], &micros)) return Malformed("signals", line, "bad occurred_at");
    s.occurred_at = absl::FromUnixMicros(micros);
    if (!absl::SimpleAtod(f[3], &s.value) || !absl::SimpleAtod(f[4], &s.csat)) {
      return Malformed("signals", line, "bad value or csat");
    }
    if (!Unescape(f[5], s.feature)) return Malformed("signals", line, "bad feature");
    visit(s);
    return absl::OkStatus();
  });
}

}  // namespace cs::health
