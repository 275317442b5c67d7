#ifndef CS_COMMON_LOG_H_
#define CS_COMMON_LOG_H_

// Structured JSON logs on stdout, one object per line:
//   {"ts":"...","level":"info","service":"health","msg":"...", <fields>}

#include <cstdint>
#include <initializer_list>
#include <string>
#include "absl/strings/string_view.h"

namespace cs::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// One key/value of a log line. Numbers and booleans are written unquoted.
struct Field {
  Field(absl::string_view k, absl::string_view v) : key(k), value(v), quoted(true) {}
  Field(absl::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
  Field(absl::string_view k, const char* v) : key(k), value(v), quoted(true) {}
  Field(absl::string_view k, int64_t v);
  Field(absl::string_view k, int v) : Field(k, static_cast<int64_t>(v)) {}
  Field(absl::string_view k, uint64_t v);
  Field(absl::string_view k, double v);
  Field(absl::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}

  absl::string_view key;
  std::string value;
  bool quoted;
};

using Fields = std::initializer_list<Field>;

void SetService(absl::string_view service);
void SetMinLevel(Level level);
// Parses "debug", "info", "warn" or "error".
bool ParseLevel(absl::string_view text, Level* level);

// Whether a line at `level` would be written: callers skip building costly fields.
bool Enabled(Level level);

void Write(Level level, absl::string_view msg, Fields fields = {});
inline void Debug(absl::string_view msg, Fields f = {}) { Write(Level::kDebug, msg, f); }
inline void Info(absl::string_view msg, Fields f = {}) { Write(Level::kInfo, msg, f); }
inline void Warn(absl::string_view msg, Fields f = {}) { Write(Level::kWarn, msg, f); }
inline void Error(absl::string_view msg, Fields f = {}) { Write(Level::kError, msg, f); }

// Appends `text` to `out` as the inside of a JSON string.
void AppendJsonEscaped(std::string* out, absl::string_view text);

}  // namespace cs::log

#endif  // CS_COMMON_LOG_H_
