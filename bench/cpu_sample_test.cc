#include "bench/cpu_sample.h"

#include <unistd.h>

#include <chrono>
#include <cmath>

#include "gtest/gtest.h"

namespace cs::bench {
namespace {

TEST(CpuSampleTest, ProcessTicksAreUserPlusSystemAfterTheCommandName) {
  // A name with spaces and a closing parenthesis of its own.
  const char* stat =
      "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 3000 0 0 0 150 37 0 0 20 0 9 0 "
      "12345 1000000 2000 18446744073709551615";
  EXPECT_EQ(ProcessTicksFromStat(stat), 187);
  EXPECT_EQ(ProcessTicksFromStat("4242 (cut short) S 1 2"), std::nullopt);
  EXPECT_EQ(ProcessTicksFromStat("no name at all"), std::nullopt);
}

TEST(CpuSampleTest, BusyTicksLeaveOutIdleIowaitAndGuestTime) {
  // user nice system idle iowait irq softirq steal guest guest_nice
  EXPECT_EQ(BusyTicksFromProcStat("cpu  100 2 30 5000 40 0 7 1 50 3\ncpu0 1 2 3 4 5 6 7 8 9 10\n"),
            100 + 2 + 30 + 7 + 1);
  EXPECT_EQ(BusyTicksFromProcStat("cpu0 1 2 3 4 5"), std::nullopt);
  EXPECT_EQ(BusyTicksFromProcStat("cpu 1 2 x 4 5"), std::nullopt);
}

TEST(CpuSampleTest, MicrosPerUnitBetweenTwoSamples) {
  CpuSample from;
  from.process_ticks = {{"health", 1000}, {"gone", 5}};
  from.machine_busy_ticks = 10000;
  CpuSample to;
  to.process_ticks = {{"health", 1000 + sysconf(_SC_CLK_TCK)}, {"new", 9}};
  to.machine_busy_ticks = 10000 + 2 * sysconf(_SC_CLK_TCK);
  const std::map<std::string, double> per = CpuMicrosPer(from, to, 1000);
  // One second of the process and two of the machine over 1,000 units.
  EXPECT_DOUBLE_EQ(per.at("health"), 1000.0);
  EXPECT_DOUBLE_EQ(per.at(""), 2000.0);
  EXPECT_EQ(per.count("gone"), 0u);
  EXPECT_EQ(per.count("new"), 0u);
  EXPECT_TRUE(CpuMicrosPer(from, to, 0).empty());
}

TEST(CpuSampleTest, ThisProcessTicksGrowWhileItWorks) {
  const int self = static_cast<int>(getpid());
  const CpuSample before = SampleCpu({{"self", self}, {"none", 0}});
  ASSERT_EQ(before.process_ticks.count("self"), 1u);
  EXPECT_EQ(before.process_ticks.count("none"), 0u);
  EXPECT_GE(before.machine_busy_ticks, 0);
  // Busy until the kernel has charged this process and the machine for it (the two
  // are accounted apart, so not at the same instant); at most 10 s, however loaded
  // the machine is.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  CpuSample after = SampleCpu({{"self", self}});
  volatile double sink = 0;
  while ((after.process_ticks.at("self") == before.process_ticks.at("self") ||
          after.machine_busy_ticks == before.machine_busy_ticks) &&
         std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 100000; ++i) sink = sink + std::sqrt(sink + 2.0);
    after = SampleCpu({{"self", self}});
  }
  EXPECT_GT(after.process_ticks.at("self"), before.process_ticks.at("self"));
  EXPECT_GT(after.machine_busy_ticks, before.machine_busy_ticks);
}

}  // namespace
}  // namespace cs::bench
