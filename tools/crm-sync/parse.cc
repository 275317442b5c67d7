#include "tools/crm-sync/parse.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"

namespace cs::crm_sync {

namespace pb = ::google::protobuf;

std::optional<size_t> InvalidUtf8At(absl::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
    const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += len;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// CSV

namespace {

// Skips a UTF-8 byte order mark at the very start of a file; returns the bytes skipped.
int64_t SkipBom(std::istream& in) {
  char bom[3];
  in.read(bom, 3);
  if (in.gcount() == 3 && static_cast<unsigned char>(bom[0]) == 0xEF &&
      static_cast<unsigned char>(bom[1]) == 0xBB && static_cast<unsigned char>(bom[2]) == 0xBF) {
    return 3;
  }
  in.clear();
  in.seekg(0);
  return 0;
}

}  // namespace

CsvReader::CsvReader(std::istream& in, int64_t offset, int64_t line)
    : in_(in), offset_(offset), line_(line) {
  if (offset_ == 0) offset_ = SkipBom(in_);
}

int CsvReader::Get() {
  const int c = in_.rdbuf()->sbumpc();
  if (c == std::char_traits<char>::eof()) return -1;
  ++offset_;
  return c;
}

int CsvReader::Peek() {
  const int c = in_.rdbuf()->sgetc();
  return c == std::char_traits<char>::eof() ? -1 : c;
}

bool CsvReader::Next(CsvRecord* record) {
  record->fields.clear();
  record->error.clear();
  // Blank lines separate nothing and carry no row.
  for (;;) {
    const int c = Peek();
    if (c == -1) return false;
    if (c == '\n') {
      Get();
      ++line_;
    } else if (c == '\r') {
      Get();
      if (Peek() == '\n') Get();
      ++line_;
    } else {
      break;
    }
  }
  record->line = line_;
  enum class State { kStart, kUnquoted, kQuoted, kAfterQuote } state = State::kStart;
  std::string field;
  size_t kept = 0;
  bool too_long = false;
  int64_t quote_line = line_;
  auto append = [&](char ch) {
    if (++kept > kMaxRecordBytes) {
      too_long = true;
      return;
    }
    field.push_back(ch);
  };
  auto note = [&](std::string message) {
    if (record->error.empty()) record->error = std::move(message);
  };
  auto end_field = [&] {
    record->fields.push_back(std::move(field));
    field.clear();
    state = State::kStart;
  };
  for (;;) {
    const int c = Get();
    if (c == -1) {
      if (state == State::kQuoted) {
        note(absl::StrCat("quoted field opened on line ", quote_line, " is never closed"));
      }
      end_field();
      break;
    }
    if (state == State::kQuoted) {
      if (c == '"') {
        if (Peek() == '"') {
          Get();
          append('"');
        } else {
          state = State::kAfterQuote;
        }
      } else {
        if (c == '\n') ++line_;
        append(static_cast<char>(c));
      }
      continue;
    }
    if (c == ',') {
      end_field();
      continue;
    }
    if (c == '\n' || c == '\r') {
      if (c == '\r' && Peek() == '\n') Get();
      ++line_;
      end_field();
      break;
    }
    if (state == State::kAfterQuote) {
      note("text after a closing quote (a quote inside a quoted field is written \"\")");
      state = State::kUnquoted;
      append(static_cast<char>(c));
      continue;
    }
    if (c == '"') {
      if (state == State::kStart) {
        state = State::kQuoted;
        quote_line = line_;
        continue;
      }
      note("quote inside an unquoted field");
    }
    state = State::kUnquoted;
    append(static_cast<char>(c));
  }
  if (too_long) {
    record->fields.clear();
    record->error = absl::StrCat("record longer than ", kMaxRecordBytes, " bytes");
  }
  record->end_offset = offset_;
  record->next_line = line_;
  return true;
}

// ---------------------------------------------------------------------------
// Lines

LineReader::LineReader(std::istream& in, int64_t offset, int64_t line)
    : in_(in), offset_(offset), line_(line) {
  if (offset_ == 0) offset_ = SkipBom(in_);
}

bool LineReader::Next(TextLine* out) {
  for (;;) {
    out->text.clear();
    out->error.clear();
    out->line = line_;
    std::streambuf* buf = in_.rdbuf();
    bool any = false;
    bool too_long = false;
    for (;;) {
      const int c = buf->sbumpc();
      if (c == std::char_traits<char>::eof()) break;
      any = true;
      ++offset_;
      if (c == '\n') break;
      if (out->text.size() >= kMaxLineBytes) {
        too_long = true;
        continue;
      }
      out->text.push_back(static_cast<char>(c));
    }
    if (!any) return false;
    ++line_;
    out->end_offset = offset_;
    out->next_line = line_;
    if (!out->text.empty() && out->text.back() == '\r') out->text.pop_back();
    if (too_long) {
      out->text.clear();
      out->error = absl::StrCat("line longer than ", kMaxLineBytes, " bytes");
      return true;
    }
    if (!absl::StripAsciiWhitespace(out->text).empty()) return true;
  }
}

// ---------------------------------------------------------------------------
// JSON and YAML

absl::StatusOr<pb::Value> ParseJson(absl::string_view text) {
  if (std::optional<size_t> bad = InvalidUtf8At(text)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at byte ", *bad + 1));
  }
  pb::Value value;
  const auto status = pb::util::JsonStringToMessage(std::string(text), &value);
  if (!status.ok()) {
    // The parser's message may go on to quote the input over several lines; the
    // first line says what is wrong.
    const std::string message = status.message().as_string();
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON: ", message.substr(0, message.find('\n'))));
  }
  return value;
}

namespace {

struct YamlLine {
  int number = 0;
  int indent = 0;
  std::string text;
};

absl::Status YamlError(const YamlLine& line, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line.number, ": ", why));
}

// Strips a comment ("#" at the start or after a space, outside quotes).
std::string StripComment(absl::string_view s) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      if (i == 0 || s[i - 1] == ' ' || s[i - 1] == ':' || s[i - 1] == '-' || s[i - 1] == '[' ||
          s[i - 1] == ',') {
        quote = c;
      }
    } else if (c == '#' && (i == 0 || s[i - 1] == ' ')) {
      return std::string(absl::StripTrailingAsciiWhitespace(s.substr(0, i)));
    }
  }
  return std::string(absl::StripTrailingAsciiWhitespace(s));
}

absl::StatusOr<std::string> YamlScalar(const YamlLine& line, absl::string_view raw) {
  absl::string_view s = absl::StripAsciiWhitespace(raw);
  if (s.size() >= 2 && s.front() == '\'' && s.back() == '\'') {
    std::string out;
    for (size_t i = 1; i + 1 < s.size(); ++i) {
      out.push_back(s[i]);
      if (s[i] == '\'' && s[i + 1] == '\'') ++i;
    }
    return out;
  }
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    std::string out;
    for (size_t i = 1; i + 1 < s.size(); ++i) {
      if (s[i] != '\\') {
        out.push_back(s[i]);
        continue;
      }
      if (i + 2 >= s.size()) return YamlError(line, "a backslash ends the quoted string");
      const char e = s[++i];
      switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        default: return YamlError(line, absl::StrCat("unknown escape \\", std::string(1, e)));
      }
    }
    return out;
  }
  if (!s.empty() && (s.front() == '"' || s.front() == '\'')) {
    return YamlError(line, "quoted string is not closed");
  }
  return std::string(s);
}

// Where "key: value" splits, or npos when the text is not a map entry.
size_t KeyColon(absl::string_view s) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (i == 0 && (c == '"' || c == '\'')) {
      quote = c;
      continue;
    }
    if (c == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) return i;
  }
  return absl::string_view::npos;
}

bool IsListItem(absl::string_view s) { return s == "-" || absl::StartsWith(s, "- "); }

class YamlParser {
 public:
  explicit YamlParser(std::vector<YamlLine> lines) : lines_(std::move(lines)) {}

  absl::StatusOr<pb::Value> Parse() {
    pb::Value root;
    if (lines_.empty()) {
      root.mutable_struct_value();
      return root;
    }
    absl::StatusOr<pb::Value> value = Block(lines_[0].indent);
    if (!value.ok()) return value;
    if (i_ < lines_.size()) return YamlError(lines_[i_], "unexpected indentation");
    return value;
  }

 private:
  absl::StatusOr<pb::Value> Block(int indent) {
    if (IsListItem(lines_[i_].text)) return List(indent);
    return Map(indent);
  }

  absl::StatusOr<pb::Value> Inline(const YamlLine& line, absl::string_view raw) {
    pb::Value v;
    absl::string_view s = absl::StripAsciiWhitespace(raw);
    if (s == "[]") {
      v.mutable_list_value();
    } else if (s == "{}") {
      v.mutable_struct_value();
    } else if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
      auto* list = v.mutable_list_value();
      for (absl::string_view item : absl::StrSplit(s.substr(1, s.size() - 2), ',')) {
        absl::StatusOr<std::string> text = YamlScalar(line, item);
        if (!text.ok()) return text.status();
        list->add_values()->set_string_value(*text);
      }
    } else {
      absl::StatusOr<std::string> text = YamlScalar(line, s);
      if (!text.ok()) return text.status();
      v.set_string_value(*text);
    }
    return v;
  }

  // The value after "key:" or "-" with nothing on its line: the block below it, or
  // an empty string when there is none.
  absl::StatusOr<pb::Value> Nested(int indent, bool list_may_align) {
    if (i_ < lines_.size() && lines_[i_].indent > indent) return Block(lines_[i_].indent);
    if (list_may_align && i_ < lines_.size() && lines_[i_].indent == indent &&
        IsListItem(lines_[i_].text)) {
      return List(indent);
    }
    pb::Value empty;
    empty.set_string_value("");
    return empty;
  }

  absl::StatusOr<pb::Value> Map(int indent) {
    pb::Value v;
    auto* fields = v.mutable_struct_value()->mutable_fields();
    while (i_ < lines_.size() && lines_[i_].indent >= indent) {
      const YamlLine& line = lines_[i_];
      if (line.indent > indent) return YamlError(line, "unexpected indentation");
      if (IsListItem(line.text)) return YamlError(line, "a list item where a key was expected");
      const size_t colon = KeyColon(line.text);
      if (colon == absl::string_view::npos) return YamlError(line, "expected \"key: value\"");
      absl::StatusOr<std::string> key = YamlScalar(line, line.text.substr(0, colon));
      if (!key.ok()) return key.status();
      if (fields->count(*key)) return YamlError(line, absl::StrCat("key '", *key, "' appears twice"));
      const std::string rest(absl::StripAsciiWhitespace(absl::string_view(line.text).substr(colon + 1)));
      ++i_;
      absl::StatusOr<pb::Value> value = rest.empty() ? Nested(indent, true) : Inline(line, rest);
      if (!value.ok()) return value.status();
      (*fields)[*key] = *std::move(value);
    }
    return v;
  }

  absl::StatusOr<pb::Value> List(int indent) {
    pb::Value v;
    auto* list = v.mutable_list_value();
    while (i_ < lines_.size() && lines_[i_].indent >= indent) {
      YamlLine& line = lines_[i_];
      if (line.indent > indent) return YamlError(line, "unexpected indentation");
      if (!IsListItem(line.text)) break;
      const std::string rest = line.text.size() > 1 ? line.text.substr(2) : "";
      const size_t pad = rest.find_first_not_of(' ');
      if (rest.empty() || pad == std::string::npos) {
        ++i_;
        absl::StatusOr<pb::Value> value = Nested(indent, false);
        if (!value.ok()) return value.status();
        *list->add_values() = *std::move(value);
      } else if (KeyColon(rest.substr(pad)) != absl::string_view::npos) {
        // "- key: value" opens a map whose keys line up with "key".
        line.indent = indent + 2 + static_cast<int>(pad);
        line.text = rest.substr(pad);
        absl::StatusOr<pb::Value> value = Map(line.indent);
        if (!value.ok()) return value.status();
        *list->add_values() = *std::move(value);
      } else {
        ++i_;
        absl::StatusOr<pb::Value> value = Inline(line, rest);
        if (!value.ok()) return value.status();
        *list->add_values() = *std::move(value);
      }
    }
    return v;
  }

  std::vector<YamlLine> lines_;
  size_t i_ = 0;
};

}  // namespace

absl::StatusOr<pb::Value> ParseYaml(absl::string_view text) {
  if (std::optional<size_t> bad = InvalidUtf8At(text)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at byte ", *bad + 1));
  }
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<YamlLine> lines;
  int number = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++number;
    if (absl::EndsWith(raw, "\r")) raw.remove_suffix(1);
    if (raw == "---" || raw == "...") continue;
    const size_t indent = raw.find_first_not_of(' ');
    if (indent == absl::string_view::npos) continue;
    if (raw[indent] == '\t') {
      return absl::InvalidArgumentError(absl::StrCat("line ", number, ": tabs are not allowed for indentation"));
    }
    std::string content = StripComment(raw.substr(indent));
    if (content.empty()) continue;
    lines.push_back(YamlLine{number, static_cast<int>(indent), std::move(content)});
  }
  return YamlParser(std::move(lines)).Parse();
}

std::optional<std::string> ScalarText(const pb::Value& value) {
  switch (value.kind_case()) {
    case pb::Value::kStringValue: return value.string_value();
    case pb::Value::kBoolValue: return std::string(value.bool_value() ? "true" : "false");
    case pb::Value::kNumberValue: {
      const double d = value.number_value();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
        return absl::StrCat(static_cast<int64_t>(d));
      }
      return absl::StrCat(d);
    }
    default: return std::nullopt;
  }
}

const pb::Value* FindPath(const pb::Value& root, absl::string_view path) {
  if (root.kind_case() != pb::Value::kStructValue) return nullptr;
  const auto& fields = root.struct_value().fields();
  if (auto it = fields.find(std::string(path)); it != fields.end()) return &it->second;
  // Try each split point, so keys that contain dots still resolve.
  for (size_t dot = path.find('.'); dot != absl::string_view::npos; dot = path.find('.', dot + 1)) {
    auto it = fields.find(std::string(path.substr(0, dot)));
    if (it == fields.end()) continue;
    if (const pb::Value* found = FindPath(it->second, path.substr(dot + 1))) return found;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Numbers, money, dates

namespace {

absl::Status NotA(absl::string_view what, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not ", what));
}

// Digits with optional thousands separators ("1,234,567"); the digits without them.
std::optional<std::string> GroupedDigits(absl::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string digits;
  const bool grouped = absl::StrContains(s, ',');
  size_t since_comma = 0;
  bool seen_comma = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ',') {
      if (i == 0 || (seen_comma && since_comma != 3) || (!seen_comma && since_comma > 3)) {
        return std::nullopt;
      }
      seen_comma = true;
      since_comma = 0;
      continue;
    }
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    digits.push_back(c);
    ++since_comma;
  }
  if (grouped && since_comma != 3) return std::nullopt;
  return digits;
}

}  // namespace

absl::StatusOr<int64_t> ParseWholeNumber(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  const bool negative = absl::ConsumePrefix(&s, "-");
  absl::string_view whole = s;
  if (const size_t dot = s.find('.'); dot != absl::string_view::npos) {
    // "1500.0" is whole; "1500.5" is not.
    if (s.substr(dot + 1).find_first_not_of('0') != absl::string_view::npos) {
      return NotA("a whole number", text);
    }
    whole = s.substr(0, dot);
  }
  std::optional<std::string> digits = GroupedDigits(whole);
  int64_t value = 0;
  if (!digits || digits->size() > 18 || !absl::SimpleAtoi(*digits, &value)) {
    return NotA("a whole number", text);
  }
  return negative ? -value : value;
}

absl::StatusOr<int64_t> ParseMinorUnits(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  bool negative = absl::ConsumePrefix(&s, "-");
  // Accounting exports write negatives in parentheses.
  if (!negative && absl::StartsWith(s, "(") && absl::EndsWith(s, ")")) {
    negative = true;
    s = s.substr(1, s.size() - 2);
  }
  for (absl::string_view symbol : {"$", "\xE2\x82\xAC", "\xC2\xA3"}) {
    if (absl::ConsumePrefix(&s, symbol)) break;
  }
  absl::string_view whole = s;
  absl::string_view fraction;
  if (const size_t dot = s.find('.'); dot != absl::string_view::npos) {
    whole = s.substr(0, dot);
    fraction = s.substr(dot + 1);
  }
  std::optional<std::string> digits = GroupedDigits(whole.empty() && !fraction.empty() ? "0" : whole);
  if (!digits || digits->size() > 15) return NotA("an amount", text);
  for (char c : fraction) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return NotA("an amount", text);
  }
  if (fraction.size() > 2 && fraction.substr(2).find_first_not_of('0') != absl::string_view::npos) {
    return NotA("an amount in cents (more than two decimals)", text);
  }
  int64_t units = 0;
  absl::SimpleAtoi(*digits, &units);
  int64_t cents = 0;
  if (!fraction.empty()) cents = (fraction[0] - '0') * 10;
  if (fraction.size() > 1) cents += fraction[1] - '0';
  const int64_t minor = units * 100 + cents;
  return negative ? -minor : minor;
}

absl::StatusOr<double> ParseDecimal(absl::string_view text) {
  double value = 0;
  absl::string_view s = absl::StripAsciiWhitespace(text);
  if (!absl::SimpleAtod(s, &value) || !std::isfinite(value)) return NotA("a number", text);
  return value;
}

absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text) {
  const std::string s(absl::StripAsciiWhitespace(text));
  if (s.empty()) return absl::InvalidArgumentError("empty date");
  if (s.find_first_not_of("0123456789") == std::string::npos) {
    int64_t n = 0;
    if (s.size() <= 11 && absl::SimpleAtoi(s, &n)) return absl::FromUnixSeconds(n);
    if (s.size() == 13 && absl::SimpleAtoi(s, &n)) return absl::FromUnixMillis(n);
    return NotA("a date", text);
  }
  static const char* const kFormats[] = {
      "%Y-%m-%d%ET%H:%M:%E*S%Ez", "%Y-%m-%d%ET%H:%M:%E*S", "%Y-%m-%d%ET%H:%M%Ez",
      "%Y-%m-%d%ET%H:%M",         "%Y-%m-%d %H:%M:%E*S%Ez", "%Y-%m-%d %H:%M:%E*S %z",
      "%Y-%m-%d %H:%M:%E*S",      "%Y-%m-%d %H:%M",        "%Y-%m-%d",
      "%m/%d/%Y %H:%M:%S",        "%m/%d/%Y %H:%M",        "%m/%d/%Y",
  };
  for (const char* format : kFormats) {
    absl::Time t;
    std::string err;
    if (absl::ParseTime(format, s, absl::UTCTimeZone(), &t, &err)) {
      const int64_t year = absl::ToCivilYear(t, absl::UTCTimeZone()).year();
      if (year < 1900 || year > 9999) break;
      return t;
    }
  }
  return NotA("a date (use YYYY-MM-DD, an ISO 8601 time, M/D/YYYY or Unix seconds)", text);
}

absl::StatusOr<absl::CivilDay> ParseDay(absl::string_view text) {
  absl::StatusOr<absl::Time> t = ParseTimestamp(text);
  if (!t.ok()) return t.status();
  return absl::ToCivilDay(*t, absl::UTCTimeZone());
}

std::string CsvField(absl::string_view value) {
  const bool needs_quotes = value.find_first_of(",\"\r\n") != absl::string_view::npos ||
                            (!value.empty() && (value.front() == ' ' || value.back() == ' '));
  if (!needs_quotes) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += CsvField(fields[i]);
  }
  out += "\r\n";
  return out;
}

}  // namespace cs::crm_sync
