#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cs::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::mutex g_mu;
std::string* g_service = new std::string("cs");

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
    default: return "info";
  }
}

}  // namespace

Field::Field(absl::string_view k, int64_t v) : key(k), value(absl::StrCat(v)), quoted(false) {}
Field::Field(absl::string_view k, uint64_t v) : key(k), value(absl::StrCat(v)), quoted(false) {}
Field::Field(absl::string_view k, double v)
    : key(k), value(absl::StrFormat("%.6g", v)), quoted(false) {}

void SetService(absl::string_view service) {
  std::lock_guard<std::mutex> lock(g_mu);
  *g_service = std::string(service);
}

void SetMinLevel(Level level) { g_min_level.store(static_cast<int>(level)); }

bool ParseLevel(absl::string_view text, Level* level) {
  if (text == "debug") { *level = Level::kDebug; return true; }
  if (text == "info") { *level = Level::kInfo; return true; }
  if (text == "warn") { *level = Level::kWarn; return true; }
  if (text == "error") { *level = Level::kError; return true; }
  return false;
}

void AppendJsonEscaped(std::string* out, absl::string_view text) {
  for (unsigned char c : text) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          out->append(absl::StrFormat("\\u%04x", c));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
}

bool Enabled(Level level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void Write(Level level, absl::string_view msg, Fields fields) {
  if (!Enabled(level)) return;
  std::string line = "{\"ts\":\"";
  line.append(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone()));
  absl::StrAppend(&line, "\",\"level\":\"", LevelName(level), "\",\"service\":\"");
  std::lock_guard<std::mutex> lock(g_mu);
  AppendJsonEscaped(&line, *g_service);
  line.append("\",\"msg\":\"");
  AppendJsonEscaped(&line, msg);
  line.push_back('"');
  for (const Field& f : fields) {
    line.append(",\"");
    AppendJsonEscaped(&line, f.key);
    line.append("\":");
    if (f.quoted) {
      line.push_back('"');
      AppendJsonEscaped(&line, f.value);
      line.push_back('"');
    } else {
      line.append(f.value);
    }
  }
  line.append("}\n");
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace cs::log
