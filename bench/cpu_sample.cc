#include "bench/cpu_sample.h"

#include <unistd.h>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file.h"

namespace cs::bench {

std::optional<int64_t> ProcessTicksFromStat(absl::string_view stat) {
  const size_t close = stat.rfind(')');
  if (close == absl::string_view::npos) return std::nullopt;
  // After the name: state (field 3), ..., utime (14), stime (15).
  const std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
  constexpr size_t kUtime = 14 - 3;
  constexpr size_t kStime = 15 - 3;
  int64_t utime = 0;
  int64_t stime = 0;
  if (fields.size() <= kStime || !absl::SimpleAtoi(fields[kUtime], &utime) ||
      !absl::SimpleAtoi(fields[kStime], &stime)) {
    return std::nullopt;
  }
  return utime + stime;
}

std::optional<int64_t> BusyTicksFromProcStat(absl::string_view stat) {
  const absl::string_view line = stat.substr(0, stat.find('\n'));
  const std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
  // "cpu user nice system idle iowait irq softirq steal ..."
  if (fields.size() < 5 || fields[0] != "cpu") return std::nullopt;
  int64_t busy = 0;
  for (size_t i = 1; i < fields.size(); ++i) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(fields[i], &v)) return std::nullopt;
    // guest and guest_nice (9, 10) are already counted in user and nice.
    if (i == 4 || i == 5 || i >= 9) continue;
    busy += v;
  }
  return busy;
}

CpuSample SampleCpu(const std::map<std::string, int>& pids) {
  CpuSample out;
  for (const auto& [name, pid] : pids) {
    if (pid <= 0) continue;
    const std::optional<int64_t> ticks =
        ProcessTicksFromStat(ReadWholeFile(absl::StrCat("/proc/", pid, "/stat")).value_or(""));
    if (ticks.has_value()) out.process_ticks[name] = *ticks;
  }
  out.machine_busy_ticks =
      BusyTicksFromProcStat(ReadWholeFile("/proc/stat").value_or("")).value_or(-1);
  return out;
}

std::map<std::string, double> CpuMicrosPer(const CpuSample& from, const CpuSample& to,
                                           double units) {
  std::map<std::string, double> out;
  if (units <= 0) return out;
  const double us_per_tick = 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const auto& [name, ticks] : to.process_ticks) {
    auto before = from.process_ticks.find(name);
    if (before == from.process_ticks.end()) continue;
    out[name] = static_cast<double>(ticks - before->second) * us_per_tick / units;
  }
  if (from.machine_busy_ticks >= 0 && to.machine_busy_ticks >= 0) {
    out[""] = static_cast<double>(to.machine_busy_ticks - from.machine_busy_ticks) * us_per_tick /
              units;
  }
  return out;
}

}  // namespace cs::bench
