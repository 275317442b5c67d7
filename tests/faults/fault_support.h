#ifndef CS_TESTS_FAULTS_FAULT_SUPPORT_H_
#define CS_TESTS_FAULTS_FAULT_SUPPORT_H_

// What the fault tests share: polling with a deadline, a process's threads and
// memory from /proc, counting rows through the mariadb client, and signal batches
// whose event ids say which client sent them.

#include <sys/types.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "tests/support/process.h"

namespace cs::testing::faults {

// Polls `done` every 50 ms until it holds or `timeout` passes.
inline bool Eventually(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

// A numeric field ("Threads", "VmRSS" in kB) of /proc/PID/status; -1 when unreadable.
inline int64_t ProcStatusField(pid_t pid, const std::string& field) {
  const std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, field) || !absl::ConsumePrefix(&line, ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    line = line.substr(0, line.find(' '));
    int64_t value = 0;
    if (absl::SimpleAtoi(line, &value)) return value;
  }
  return -1;
}

inline int64_t ThreadCount(pid_t pid) { return ProcStatusField(pid, "Threads"); }

// One number printed by `sql`, run by the mariadb client against 127.0.0.1:`port`;
// -1 when the client failed or printed something else.
inline int64_t SqlNumber(int port, const std::string& schema, const std::string& sql) {
  const CommandRun run =
      RunCommand(absl::StrCat("mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P", port,
                              " -uroot -N -B ", schema, " -e \"", sql, "\""));
  int64_t value = 0;
  if (run.exit_code != 0 ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(run.output), &value)) {
    return -1;
  }
  return value;
}

// The port of a mysql://user@host:port/schema URI.
inline int UriPort(const std::string& uri) {
  const size_t at = uri.rfind('@');
  const size_t colon = uri.find(':', at);
  const size_t slash = uri.find('/', colon);
  int port = 0;
  if (at == std::string::npos || colon == std::string::npos ||
      !absl::SimpleAtoi(uri.substr(colon + 1, slash - colon - 1), &port)) {
    return -1;
  }
  return port;
}

// `count` LOGIN signals for `account_id`, event ids "<prefix>-<i>", dated in the
// last days so none is in the future.
inline cs::health::v1::RecordSignalsRequest SignalBatch(const std::string& request_id,
                                                        const std::string& account_id,
                                                        const std::string& prefix, int count) {
  cs::health::v1::RecordSignalsRequest req;
  req.set_request_id(request_id);
  for (int i = 0; i < count; ++i) {
    cs::health::v1::Signal* s = req.add_signals();
    s->set_event_id(absl::StrCat(prefix, "-", i));
    s->set_account_id(account_id);
    s->set_kind(cs::health::v1::SIGNAL_KIND_LOGIN);
    s->mutable_occurred_at()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Hours(1) - absl::Minutes(i % 600)));
  }
  return req;
}

inline grpc::Status UpsertAccount(cs::health::v1::AccountHealthService::Stub* health,
                                  const std::string& account_id) {
  cs::health::v1::UpsertAccountRequest req;
  req.set_request_id(absl::StrCat("upsert-", account_id));
  req.mutable_account()->set_account_id(account_id);
  req.mutable_account()->set_name(absl::StrCat("Account ", account_id));
  req.mutable_account()->set_employee_count(50);
  req.mutable_account()->set_owner_id("csm-faults");
  cs::health::v1::UpsertAccountResponse resp;
  return health->UpsertAccount(Context().get(), req, &resp);
}

}  // namespace cs::testing::faults

#endif  // CS_TESTS_FAULTS_FAULT_SUPPORT_H_
