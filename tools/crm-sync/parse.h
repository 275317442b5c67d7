#ifndef CS_TOOLS_CRM_SYNC_PARSE_H_
#define CS_TOOLS_CRM_SYNC_PARSE_H_

// The readers and value parsers crm-sync needs: a streaming CSV reader (RFC 4180
// quoting, embedded commas and newlines, CRLF, UTF-8 BOM), a line reader for
// newline-delimited JSON, JSON and a small YAML subset into google.protobuf.Value,
// and the numbers, money and dates CRM exports write.
//
// Readers keep at most one record in memory and report the byte offset after each
// record, so an import can stop anywhere and resume from its checkpoint.

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"

namespace cs::crm_sync {

// The byte position of the first invalid UTF-8 sequence, or nullopt when `text` is valid.
std::optional<size_t> InvalidUtf8At(absl::string_view text);

struct CsvRecord {
  std::vector<std::string> fields;
  // The line the record starts on (1-based) and the byte offset just after it.
  int64_t line = 0;
  int64_t end_offset = 0;
  // The line the next record starts on.
  int64_t next_line = 0;
  // Set when the record is malformed (the fields then hold what could be read).
  std::string error;
};

class CsvReader {
 public:
  // Longest record kept; a longer one is reported as an error and skipped, so one
  // runaway quote cannot take all memory.
  static constexpr size_t kMaxRecordBytes = 1 << 20;

  // Reads `in` from its current position, which is byte `offset` of the file and the
  // start of line `line`. A UTF-8 byte order mark at offset 0 is skipped.
  CsvReader(std::istream& in, int64_t offset = 0, int64_t line = 1);

  // The next record; false at the end of the input. Blank lines are not records.
  bool Next(CsvRecord* record);

 private:
  int Get();
  int Peek();

  std::istream& in_;
  int64_t offset_;
  int64_t line_;
};

struct TextLine {
  std::string text;  // without the line end (LF or CRLF)
  int64_t line = 0;
  int64_t end_offset = 0;
  int64_t next_line = 0;
  std::string error;
};

// Lines of newline-delimited JSON; blank lines are skipped.
class LineReader {
 public:
  static constexpr size_t kMaxLineBytes = 4 << 20;
  LineReader(std::istream& in, int64_t offset = 0, int64_t line = 1);
  bool Next(TextLine* line);

 private:
  std::istream& in_;
  int64_t offset_;
  int64_t line_;
};

// A JSON document (checked for valid UTF-8 first).
absl::StatusOr<google::protobuf::Value> ParseJson(absl::string_view text);

// The YAML subset mapping files use: block maps ("key: value", "key:" then an
// indented block), block lists ("- item", "- key: value" starting a map), plain,
// single- and double-quoted scalars, "#" comments, and the empty forms [] and {}.
// Scalars become strings. Errors name the line.
absl::StatusOr<google::protobuf::Value> ParseYaml(absl::string_view text);

// A scalar as text: strings as they are, numbers without a trailing ".0", booleans
// as true/false; nullopt for null, lists and maps.
std::optional<std::string> ScalarText(const google::protobuf::Value& value);

// The value at a dotted path ("context.groupId"); a key that itself contains dots
// is found too when it is a direct member. nullptr when absent.
const google::protobuf::Value* FindPath(const google::protobuf::Value& root, absl::string_view path);

// "1500", "1,500", " 42 " -> whole numbers; anything else is an error naming the text.
absl::StatusOr<int64_t> ParseWholeNumber(absl::string_view text);
// "1234.5", "$1,234.50", "-3" -> minor units of a two-decimal currency.
absl::StatusOr<int64_t> ParseMinorUnits(absl::string_view text);
// A decimal number ("4.5", "-2", "1e3").
absl::StatusOr<double> ParseDecimal(absl::string_view text);
// ISO 8601 ("2026-03-01", "2026-03-01T10:00:00Z", "...+02:00", "2026-03-01 10:00:00"),
// US exports ("3/1/2026", "3/1/2026 14:05"), Unix seconds or milliseconds.
// Times without a zone are UTC.
absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text);
absl::StatusOr<absl::CivilDay> ParseDay(absl::string_view text);

// One CSV field, quoted when it needs to be.
std::string CsvField(absl::string_view value);
std::string CsvLine(const std::vector<std::string>& fields);

}  // namespace cs::crm_sync

#endif  // CS_TOOLS_CRM_SYNC_PARSE_H_
