#ifndef CS_TESTS_SUPPORT_PROCESS_H_
#define CS_TESTS_SUPPORT_PROCESS_H_

// Helpers for tests that run the real binaries: child processes, free ports,
// plain HTTP GETs, a private MariaDB started through scripts/mariadb, and a
// running service binary with a gRPC channel to it.

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace cs::testing {

class ChildProcess {
 public:
  // Starts argv[0] with the given arguments and extra environment entries
  // ("NAME=value"); stdout and stderr go to `log_path`.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path,
               const std::vector<std::string>& extra_env = {});
  ~ChildProcess();  // SIGKILL if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void Signal(int sig);
  // The exit code once it exited within `timeout` (128+N for a signal), else nullopt.
  std::optional<int> WaitExit(absl::Duration timeout);
  bool running();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// A loopback port nothing listens on right now, outside the ephemeral range that
// outgoing connections take their ports from (process.cc).
int FreePort();

// GET http://host:port/path; the whole response (headers and body), or "" on failure.
std::string HttpGet(const std::string& host, int port, const std::string& path);

std::string ReadFile(const std::string& path);

// What a shell command printed (stdout and stderr together) and its exit code
// (-1 when it did not exit normally or could not be started).
struct CommandRun {
  int exit_code = -1;
  std::string output;
};
CommandRun RunCommand(const std::string& command);

// A MariaDB of the test's own (so it can stop and start it), on a free port.
class PrivateMariaDb {
 public:
  // `script` is scripts/mariadb; `dir` is emptied first, and removed at the end.
  PrivateMariaDb(std::string script, std::string dir);
  ~PrivateMariaDb();
  bool Start();
  bool Stop();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string uri(const std::string& schema) const;

 private:
  std::string script_;
  std::string dir_;
  int port_;
};

using HealthStatus = grpc::health::v1::HealthCheckResponse;

// A client context whose deadline is `timeout` from now.
std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(5));

// One running service binary (`binary`, logging to TempDir()/name-tag-pid.log)
// against `db_uri`, and a channel to its gRPC port.
class RunningService {
 public:
  // `extra_args` are appended to the command line (e.g. "--health_addr=...").
  RunningService(const std::string& name, const std::string& binary, const std::string& db_uri,
                 const std::string& tag, const std::vector<std::string>& extra_args = {});

  // grpc.health.v1 Check of `service_name`; UNKNOWN when the call fails.
  HealthStatus::ServingStatus Check(const std::string& service_name = "");
  // Polls Check() until it reports `want`; false on timeout or if the process exited.
  bool WaitFor(HealthStatus::ServingStatus want, absl::Duration timeout);

  std::string Metrics();
  std::string Log();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  ChildProcess& process() { return *process_; }
  const std::shared_ptr<grpc::Channel>& channel() { return channel_; }

 private:
  int port_;
  int metrics_port_;
  std::string log_;
  std::unique_ptr<ChildProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace cs::testing

#endif  // CS_TESTS_SUPPORT_PROCESS_H_
