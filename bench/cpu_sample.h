// CPU time from /proc: what a process has used (user + system) and what the whole
// machine has been busy for. The rescore scenario divides both by the accounts a
// pass rescored, a figure the machine's wandering speed moves less than wall time.
#ifndef CS_BENCH_CPU_SAMPLE_H_
#define CS_BENCH_CPU_SAMPLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace cs::bench {

// User + system time in clock ticks from the text of /proc/<pid>/stat; nullopt when
// it does not parse. The command name (field 2) may hold spaces and parentheses,
// so the fields are counted from its last ')'.
std::optional<int64_t> ProcessTicksFromStat(absl::string_view stat);

// Busy ticks (every state but idle and iowait) from the first line of /proc/stat;
// nullopt when it does not parse.
std::optional<int64_t> BusyTicksFromProcStat(absl::string_view stat);

// One reading of named processes and of the machine.
struct CpuSample {
  std::map<std::string, int64_t> process_ticks;  // by name; a process that went away is absent
  int64_t machine_busy_ticks = -1;
};

// Reads /proc for each named pid (pid <= 0: left out) and for the machine.
CpuSample SampleCpu(const std::map<std::string, int>& pids);

// Microseconds of CPU per unit of work between two samples ("" for the machine).
std::map<std::string, double> CpuMicrosPer(const CpuSample& from, const CpuSample& to,
                                           double units);

}  // namespace cs::bench

#endif  // CS_BENCH_CPU_SAMPLE_H_
