// How fast a rescore turns packed counter rows into an account's counter window
// (AddCounters for each month row, then Seal), the health service's largest
// CPU cost per account in a rescore. Two shapes: the rescore bench's seeded
// accounts (six counters on one day a week) and an account active every day
// (eight counters a day). Prints ns per account and per counter line, the median
// of --rounds rounds.

#include <algorithm>
#include <chrono>
#include <map>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "services/health/measures.h"
#include "services/health/packed_rows.h"

ABSL_FLAG(int, accounts, 20000, "accounts decoded per round");
ABSL_FLAG(int, rounds, 5, "rounds; the median is reported");

namespace {

using cs::health::CounterWindow;
using cs::health::MonthCounters;

struct Shape {
  const char* name;
  std::vector<std::string> counters;
  int every_days;
};

struct MonthRow {
  absl::CivilMonth month;
  std::string text;
  int lines = 0;
};

// The packed month rows of one account over the 90 days before `today`.
std::vector<MonthRow> AccountRows(const Shape& shape, absl::CivilDay today, int seed) {
  std::vector<MonthRow> rows;
  std::map<absl::CivilMonth, MonthCounters> months;
  for (int back = 0; back < 90; back += shape.every_days) {
    const absl::CivilDay day = today - back;
    for (size_t c = 0; c < shape.counters.size(); ++c) {
      const double value = 1 + (seed * 7 + back * 3 + static_cast<int>(c)) % 29;
      months[absl::CivilMonth(day)][{day.day(), shape.counters[c]}] = value;
    }
  }
  for (const auto& [month, counters] : months) {
    rows.push_back({month, cs::health::EncodeMonthCounters(counters),
                    static_cast<int>(counters.size())});
  }
  return rows;
}

double MedianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Run(const Shape& shape) {
  const int accounts = absl::GetFlag(FLAGS_accounts);
  const absl::CivilDay today(2026, 12, 4);
  const absl::CivilDay from = today - 89;
  // A handful of distinct accounts, reused: the decode, not the data, is measured.
  std::vector<std::vector<MonthRow>> sample;
  int lines_per_account = 0;
  for (int i = 0; i < 64; ++i) sample.push_back(AccountRows(shape, today, i));
  for (const MonthRow& r : sample[0]) lines_per_account += r.lines;
  std::vector<double> per_account;
  double checksum = 0;
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int a = 0; a < accounts; ++a) {
      CounterWindow window;
      for (const MonthRow& r : sample[a % sample.size()]) {
        if (!cs::health::AddCounters(r.month, r.text, from, absl::CivilDay(9999, 12, 31), window)
                 .ok()) {
          std::fprintf(stderr, "decode failed\n");
          return 1;
        }
      }
      window.Seal();
      checksum += window.Sum(shape.counters[0], from, today);
    }
    const double ns = std::chrono::duration<double, std::nano>(
                          std::chrono::steady_clock::now() - start).count();
    per_account.push_back(ns / accounts);
  }
  const double median = MedianOf(per_account);
  std::printf("counters.%s  %.0f ns/account  %.1f ns/value  (%d values per account, checksum %.0f)\n",
              shape.name, median, median / lines_per_account, lines_per_account, checksum);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const Shape weekly{"weekly_6", {"logins", "feature_uses", "feature:f1", "tickets_opened",
                                  "payments_succeeded", "email_opens"}, 7};
  const Shape daily{"daily_8", {"logins", "session_minutes", "feature_uses", "feature:reports",
                                "feature:exports", "tickets_opened", "payments_succeeded",
                                "email_opens"}, 1};
  return Run(weekly) | Run(daily);
}
