#include "services/health/packed_rows.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <vector>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
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
  // Most names hold no escape: one copy.
  if (text.find('\\') == absl::string_view::npos) {
    out.assign(text.data(), text.size());
    return true;
  }
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

// The most fields a packed line has.
constexpr size_t kMaxFields = 6;

// A line's tab-separated fields, without allocating; `count` past kMaxFields means
// the line has more fields than any packed line.
struct Fields {
  absl::string_view field[kMaxFields];
  size_t count = 0;
  size_t size() const { return count; }
  absl::string_view operator[](size_t i) const { return field[i]; }
};

// Calls fn(fields, line) with each non-empty line's tab-separated fields. Counters
// are read for every account a rescore scores, so this walks the text once, byte by
// byte: lines and fields are short, and a memchr call per tab cost more than the scan.
template <typename Fn>
absl::Status ForEachRow(absl::string_view text, Fn fn) {
  int line = 1;
  Fields fields;
  const char* const data = text.data();
  const size_t size = text.size();
  size_t field_start = 0;
  auto close_field = [&](size_t end) {
    if (fields.count < kMaxFields) {
      fields.field[fields.count] = absl::string_view(data + field_start, end - field_start);
    }
    ++fields.count;
    field_start = end + 1;
  };
  size_t row_start = 0;
  for (size_t i = 0; i <= size; ++i) {
    const char c = i < size ? data[i] : '\n';
    if (c == '\t') {
      close_field(i);
    } else if (c == '\n') {
      if (i > row_start) {
        close_field(i);
        RETURN_IF_ERROR(fn(fields, line));
      }
      fields.count = 0;
      ++line;
      row_start = i + 1;
      field_start = i + 1;
    }
  }
  return absl::OkStatus();
}

// Plain digits, 1 to `max_digits` of them, as a number.
bool ParseDigits(absl::string_view text, size_t max_digits, int64_t& out) {
  if (text.empty() || text.size() > max_digits) return false;
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

// A day of month, 1-31, written as plain digits.
bool ParseDay(absl::string_view text, int& day) {
  int64_t n = 0;
  if (!ParseDigits(text, 2, n) || n < 1 || n > 31) return false;
  day = static_cast<int>(n);
  return true;
}

// A counter's value. Counts are whole numbers far more often than not: digits alone
// (up to 15, exact in a double) are read here, anything else by SimpleAtod.
bool ParseValue(absl::string_view text, double& value) {
  int64_t whole = 0;
  if (ParseDigits(text, 15, whole)) {
    value = static_cast<double>(whole);
    return true;
  }
  return absl::SimpleAtod(text, &value);
}

// Rows of the grouped format start with this line (see packed_rows.h).
constexpr absl::string_view kGroupedMark = "#2\n";

bool IsGrouped(absl::string_view text) { return absl::StartsWith(text, kGroupedMark); }

// The counter name of a line, unescaped into `buffer` when it holds an escape.
bool CounterName(absl::string_view escaped, std::string& buffer, absl::string_view& name) {
  name = escaped;
  if (std::find(escaped.begin(), escaped.end(), '\\') != escaped.end()) {
    if (!Unescape(escaped, buffer)) return false;
    name = buffer;
  }
  return !name.empty();
}

// Calls visit(day, counter, value) for each line of the first format; visit returns
// false for a day the month does not have. The counter is a view of the text when
// its name holds no escape, else of a buffer reused across lines.
template <typename Visit>
absl::Status ForEachDayLine(absl::string_view text, Visit visit) {
  std::string unescaped;
  return ForEachRow(text, [&](const Fields& f, int line) -> absl::Status {
    if (f.size() != 3) return Malformed("counters", line, "not three fields");
    int day = 0;
    double value = 0;
    if (!ParseDay(f[0], day)) {
      return Malformed("counters", line, "day of month not 1-31");
    }
    absl::string_view counter;
    if (!CounterName(f[1], unescaped, counter)) {
      return Malformed("counters", line, "bad counter name");
    }
    if (!ParseValue(f[2], value)) return Malformed("counters", line, "bad value");
    if (!visit(day, counter, value)) return Malformed("counters", line, "day past the month's end");
    return absl::OkStatus();
  });
}

// One line of the grouped format: a counter and its (day, value) pairs.
struct CounterLine {
  absl::string_view escaped_name;
  absl::string_view name;  // unescaped
  struct Day {
    int day;
    double value;
    absl::string_view text;  // the value as stored
  };
  std::vector<Day> days;
};

// Calls fn(line, number) with each non-empty line of a grouped row (after the
// mark), its days parsed. Counters are read for every account a rescore scores:
// one pass over the bytes, and the line's buffers are reused.
template <typename Fn>
absl::Status ForEachCounterLine(absl::string_view text, Fn fn) {
  CounterLine line;
  std::string unescaped;
  int number = 1;  // the mark's
  const char* p = text.data() + kGroupedMark.size();
  const char* const end = text.data() + text.size();
  while (p < end) {
    ++number;
    const char* eol = std::find(p, end, '\n');
    if (eol == p) {
      p = eol + 1;
      continue;
    }
    const char* tab = std::find(p, eol, '\t');
    if (tab == eol) return Malformed("counters", number, "a counter without days");
    line.escaped_name = absl::string_view(p, tab - p);
    if (!CounterName(line.escaped_name, unescaped, line.name)) {
      return Malformed("counters", number, "bad counter name");
    }
    line.days.clear();
    for (const char* q = tab + 1;;) {
      const char* t1 = std::find(q, eol, '\t');
      if (t1 == eol) return Malformed("counters", number, "a day without a value");
      const char* t2 = std::find(t1 + 1, eol, '\t');
      CounterLine::Day d{0, 0, absl::string_view(t1 + 1, t2 - t1 - 1)};
      if (!ParseDay(absl::string_view(q, t1 - q), d.day)) {
        return Malformed("counters", number, "day of month not 1-31");
      }
      if (!ParseValue(d.text, d.value)) return Malformed("counters", number, "bad value");
      line.days.push_back(d);
      if (t2 == eol) break;
      q = t2 + 1;
    }
    RETURN_IF_ERROR(fn(line, number));
    p = eol + 1;
  }
  return absl::OkStatus();
}

// Calls visit(day, counter, value) for each day of each counter, in either format;
// visit returns false for a day the month does not have.
template <typename Visit>
absl::Status ForEachCounter(absl::string_view text, Visit visit) {
  if (!IsGrouped(text)) return ForEachDayLine(text, visit);
  return ForEachCounterLine(text, [&](const CounterLine& line, int number) -> absl::Status {
    for (const CounterLine::Day& d : line.days) {
      if (!visit(d.day, line.name, d.value)) {
        return Malformed("counters", number, "day past the month's end");
      }
    }
    return absl::OkStatus();
  });
}

// A month's additions in the grouped format's order: by counter, then day.
std::vector<const MonthCounters::value_type*> ByCounterThenDay(const MonthCounters& counters) {
  std::vector<const MonthCounters::value_type*> out;
  out.reserve(counters.size());
  for (const auto& entry : counters) out.push_back(&entry);
  std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) {
    if (a->first.second != b->first.second) return a->first.second < b->first.second;
    return a->first.first < b->first.first;
  });
  return out;
}

void AppendDay(int day, double value, std::string& out) {
  absl::StrAppend(&out, "\t", day, "\t");
  AppendNumber(value, out);
}

}  // namespace

std::string EncodeMonthCounters(const MonthCounters& counters) {
  std::string out;
  if (counters.empty()) return out;
  out.reserve(kGroupedMark.size() + counters.size() * 8 + 64);
  out.append(kGroupedMark.data(), kGroupedMark.size());
  const std::string* current = nullptr;
  for (const MonthCounters::value_type* entry : ByCounterThenDay(counters)) {
    const std::string& name = entry->first.second;
    if (current == nullptr || *current != name) {
      if (current != nullptr) out += '\n';
      AppendEscaped(name, out);
      current = &name;
    }
    AppendDay(entry->first.first, entry->second, out);
  }
  return out;
}

absl::Status DecodeMonthCounters(absl::string_view text, MonthCounters& out) {
  return ForEachCounter(text, [&](int day, absl::string_view counter, double value) {
    out[{day, std::string(counter)}] += value;
    return true;
  });
}

absl::Status MergeMonthCounters(absl::string_view stored, const MonthCounters& add,
                                std::string& out) {
  out.clear();
  // Whole: a row of the first format (written in the grouped one from now on), or
  // one that is not in order (not written by EncodeMonthCounters).
  auto whole = [&]() -> absl::Status {
    MonthCounters merged = add;
    RETURN_IF_ERROR(DecodeMonthCounters(stored, merged));
    out = EncodeMonthCounters(merged);
    return absl::OkStatus();
  };
  if (!IsGrouped(stored)) return whole();
  // Lines `add` does not touch are copied as they are, so a month's row is not read
  // into a map to add one day's counts.
  out.reserve(stored.size() + add.size() * 8 + 32);
  out.append(kGroupedMark.data(), kGroupedMark.size());
  const std::vector<const MonthCounters::value_type*> adds = ByCounterThenDay(add);
  size_t next = 0;
  bool first_line = true;
  auto start_line = [&]() {
    if (!first_line) out += '\n';
    first_line = false;
  };
  // The additions to one counter not in the stored text, as a line of their own.
  auto emit_added = [&]() {
    start_line();
    const std::string& name = adds[next]->first.second;
    AppendEscaped(name, out);
    for (; next < adds.size() && adds[next]->first.second == name; ++next) {
      AppendDay(adds[next]->first.first, adds[next]->second, out);
    }
  };
  std::string previous;
  bool ordered = true;
  absl::Status status =
      ForEachCounterLine(stored, [&](const CounterLine& line, int) -> absl::Status {
        if (!ordered) return absl::OkStatus();  // only checked from here on
        if (!(absl::string_view(previous) < line.name)) {  // names are never empty
          ordered = false;
          return absl::OkStatus();
        }
        for (size_t i = 1; i < line.days.size(); ++i) {
          if (line.days[i - 1].day >= line.days[i].day) {
            ordered = false;
            return absl::OkStatus();
          }
        }
        previous.assign(line.name.data(), line.name.size());
        while (next < adds.size() && absl::string_view(adds[next]->first.second) < line.name) {
          emit_added();
        }
        start_line();
        out.append(line.escaped_name.data(), line.escaped_name.size());
        for (const CounterLine::Day& d : line.days) {
          while (next < adds.size() && adds[next]->first.second == line.name &&
                 adds[next]->first.first < d.day) {
            AppendDay(adds[next]->first.first, adds[next]->second, out);
            ++next;
          }
          if (next < adds.size() && adds[next]->first.second == line.name &&
              adds[next]->first.first == d.day) {
            AppendDay(d.day, d.value + adds[next]->second, out);
            ++next;
          } else {
            // Untouched: the value as stored.
            absl::StrAppend(&out, "\t", d.day, "\t", d.text);
          }
        }
        while (next < adds.size() && adds[next]->first.second == line.name) {
          AppendDay(adds[next]->first.first, adds[next]->second, out);
          ++next;
        }
        return absl::OkStatus();
      });
  RETURN_IF_ERROR(status);
  if (!ordered) return whole();
  while (next < adds.size()) emit_added();
  if (first_line) out.clear();  // nothing stored and nothing added
  return absl::OkStatus();
}

namespace {

// Calls add(day, counter, value) for the lines of a packed month dated from..to.
template <typename Add>
absl::Status ForEachCounterIn(absl::CivilMonth month, absl::string_view text,
                              absl::CivilDay from, absl::CivilDay to, Add add) {
  const absl::CivilDay first(month);
  const int days_in_month = static_cast<int>(absl::CivilDay(month + 1) - first);
  return ForEachCounter(text, [&](int day, absl::string_view counter, double value) {
    if (day > days_in_month) return false;
    const absl::CivilDay d = first + (day - 1);
    if (d >= from && d <= to) add(d, counter, value);
    return true;
  });
}

}  // namespace

absl::Status AppendCounterRows(absl::CivilMonth month, absl::string_view text,
                               absl::CivilDay from, absl::CivilDay to,
                               std::vector<CounterRow>& out) {
  return ForEachCounterIn(month, text, from, to,
                          [&](absl::CivilDay d, absl::string_view counter, double value) {
                            out.push_back(CounterRow{d, std::string(counter), value});
                          });
}

absl::Status AddCounters(absl::CivilMonth month, absl::string_view text, absl::CivilDay from,
                         absl::CivilDay to, CounterWindow& out) {
  return ForEachCounterIn(month, text, from, to,
                          [&](absl::CivilDay d, absl::string_view counter, double value) {
                            out.Add(d, counter, value);
                          });
}

void AppendSignalLine(const Signal& s, std::string& out) {
  if (!out.empty()) out += '\n';
  AppendSignalFields(s, out);
}

void AppendSignalFields(const Signal& s, std::string& out) {
  absl::StrAppend(&out, s.event_id, "\t", SignalKindName(s.kind), "\t",
                  absl::ToUnixMicros(s.occurred_at), "\t");
  AppendNumber(s.value, out);
  out += '\t';
  AppendNumber(s.csat, out);
  out += '\t';
  AppendEscaped(s.feature, out);
}

absl::Status ForEachLoggedKey(absl::string_view text,
                              const std::function<void(absl::string_view)>& visit) {
  return ForEachRow(text, [&](const Fields& f, int line) -> absl::Status {
    if (f.size() != 6) return Malformed("signals", line, "not six fields");
    if (f[0].empty()) return Malformed("signals", line, "no event id");
    visit(f[0]);
    return absl::OkStatus();
  });
}

absl::Status ForEachLoggedSignal(absl::string_view text,
                                 const std::function<void(const Signal&)>& visit) {
  Signal s;
  return ForEachRow(text, [&](const Fields& f, int line) -> absl::Status {
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

namespace {

// The measure DefaultScorecard gives each component, by component number; empty for
// a component it leaves out.
const std::vector<std::string>& DefaultMeasures() {
  static const std::vector<std::string>* const measures = [] {
    auto* out = new std::vector<std::string>();
    for (const ComponentSpec& c : DefaultScorecard().components) {
      const auto i = static_cast<size_t>(c.component);
      if (out->size() <= i) out->resize(i + 1);
      (*out)[i] = c.measure.measure;
    }
    return out;
  }();
  return *measures;
}

absl::string_view DefaultMeasure(Component component) {
  const auto i = static_cast<size_t>(component);
  const std::vector<std::string>& measures = DefaultMeasures();
  return i < measures.size() ? absl::string_view(measures[i]) : absl::string_view();
}

absl::Status MalformedComponent(int part, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("stored score components, part ", part, ": ", why));
}

}  // namespace

std::string EncodeComponents(const std::vector<ComponentScore>& components) {
  std::string out;
  out.reserve(components.size() * 32);
  for (const ComponentScore& c : components) {
    if (!out.empty()) out += ';';
    absl::StrAppend(&out, static_cast<int>(c.component), "|");
    if (c.measure != DefaultMeasure(c.component)) out += c.measure;
    absl::StrAppend(&out, "|", c.weight, "|");
    AppendNumber(c.raw, out);
    out += '|';
    AppendNumber(c.normalized, out);
    out += '|';
    AppendNumber(c.contribution, out);
    out += c.missing ? "|1" : "|0";
  }
  return out;
}

absl::StatusOr<std::vector<ComponentScore>> DecodeComponents(absl::string_view text) {
  std::vector<ComponentScore> out;
  int part_no = 0;
  for (absl::string_view part : absl::StrSplit(text, ';', absl::SkipEmpty())) {
    ++part_no;
    const std::vector<absl::string_view> f = absl::StrSplit(part, '|');
    if (f.size() != 7) return MalformedComponent(part_no, "not seven fields");
    ComponentScore c;
    std::optional<Component> component;
    int number = 0;
    if (!f[0].empty() && f[0][0] >= '0' && f[0][0] <= '9') {
      // The current format: the component's number, the measure empty for its default.
      if (absl::SimpleAtoi(f[0], &number) && number > 0 &&
          ComponentName(static_cast<Component>(number)) != ComponentName(Component::kUnspecified)) {
        component = static_cast<Component>(number);
      }
    } else {
      component = ComponentFromName(f[0]);  // the first format
    }
    if (!component.has_value()) return MalformedComponent(part_no, "unknown component");
    c.component = *component;
    c.measure = f[1].empty() ? std::string(DefaultMeasure(c.component)) : std::string(f[1]);
    if (c.measure.empty()) return MalformedComponent(part_no, "no measure");
    int missing = 0;
    if (!absl::SimpleAtoi(f[2], &c.weight) || !absl::SimpleAtod(f[3], &c.raw) ||
        !absl::SimpleAtod(f[4], &c.normalized) || !absl::SimpleAtod(f[5], &c.contribution) ||
        !absl::SimpleAtoi(f[6], &missing) || (missing != 0 && missing != 1)) {
      return MalformedComponent(part_no, "bad number");
    }
    c.missing = missing != 0;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace cs::health
