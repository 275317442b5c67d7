#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <utility>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file.h"

namespace cs::testing {

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path,
                           const std::vector<std::string>& extra_env) {
  // Built before fork: the child of a threaded process may only call async-signal-safe functions.
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (const std::string& e : extra_env) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    // The test blocks SIGTERM in no thread of the child: restore a clean mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execve(args[0], args.data(), env.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (running()) {
    kill(pid_, SIGKILL);
    WaitExit(absl::Seconds(10));
  }
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0 && !exit_code_.has_value()) kill(pid_, sig);
}

std::optional<int> ChildProcess::WaitExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!exit_code_.has_value()) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return exit_code_;
}

bool ChildProcess::running() { return !WaitExit(absl::ZeroDuration()).has_value(); }

namespace {

// Whether a listening socket could bind 127.0.0.1:port now.
// Binds a loopback socket to `port` (0: one the kernel picks) and closes it again:
// the port it got, or -1.
int BindLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int got = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) got = ntohs(addr.sin_port);
  }
  close(fd);
  return got;
}

// The kernel's ephemeral port range (ip_local_port_range), Linux's default when
// unreadable.
std::pair<int, int> EphemeralRange() {
  int low = 32768;
  int high = 60999;
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  if (in >> low >> high && low > 0 && high >= low) return {low, high};
  return {32768, 60999};
}

}  // namespace

int FreePort() {
  // Picked outside the ephemeral range: a port the kernel hands out there and the
  // test then releases can be taken by any outgoing connection (to MariaDB, say)
  // before the service binds it, which failed a start with "Address already in
  // use". Below the range nothing takes a port but a listener, and each port is
  // handed out once per process; parallel tests draw at random.
  static std::mutex mu;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  static std::set<int> handed_out;
  const auto [low, high] = EphemeralRange();
  const int first = low > 11024 ? 10000 : high + 1;
  const int last = low > 11024 ? low - 1 : 65535;
  std::lock_guard<std::mutex> lock(mu);
  if (last - first > 1000) {
    std::uniform_int_distribution<int> pick(first, last);
    for (int attempt = 0; attempt < 500; ++attempt) {
      const int port = pick(rng);
      if (handed_out.count(port) || BindLoopback(port) != port) continue;
      handed_out.insert(port);
      return port;
    }
  }
  // No room outside the range: one the kernel picks.
  return BindLoopback(0);
}

std::string HttpGet(const std::string& host, int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host, "\r\nConnection: close\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  // Read until the body is complete: servers may keep the connection open.
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    out.append(buf, static_cast<size_t>(n));
    const size_t header_end = out.find("\r\n\r\n");
    if (header_end == std::string::npos) continue;
    std::string headers = out.substr(0, header_end);
    for (char& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t cl = headers.find("content-length:");
    if (cl != std::string::npos &&
        out.size() >= header_end + 4 + std::strtoul(headers.c_str() + cl + 15, nullptr, 10)) {
      break;
    }
  }
  close(fd);
  return out;
}

std::string ReadFile(const std::string& path) { return ReadWholeFile(path).value_or(""); }

PrivateMariaDb::PrivateMariaDb(std::string script, std::string dir)
    : script_(std::move(script)), dir_(std::move(dir)), port_(FreePort()) {
  // Named after the test's pid, which a later run can get again: what that run left
  // would otherwise be this one's starting data.
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
  std::filesystem::remove(dir_ + ".script.log", ignored);
}

PrivateMariaDb::~PrivateMariaDb() {
  if (Stop()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

bool PrivateMariaDb::Start() {
  const std::string cmd = absl::StrCat(script_, " start ", dir_, " ", port_, " >>", dir_,
                                       ".script.log 2>&1");
  return std::system(cmd.c_str()) == 0;
}

bool PrivateMariaDb::Stop() {
  const std::string cmd = absl::StrCat(script_, " stop ", dir_, " ", port_, " >>", dir_,
                                       ".script.log 2>&1");
  return std::system(cmd.c_str()) == 0;
}

std::string PrivateMariaDb::uri(const std::string& schema) const {
  return absl::StrCat("mysql://root@127.0.0.1:", port_, "/", schema);
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  return ctx;
}

RunningService::RunningService(const std::string& name, const std::string& binary,
                               const std::string& db_uri, const std::string& tag,
                               const std::vector<std::string>& extra_args)
    : port_(FreePort()), metrics_port_(FreePort()),
      log_(absl::StrCat(::testing::TempDir(), "/", name, "-", tag, "-", getpid(), ".log")) {
  std::vector<std::string> argv{binary, absl::StrCat("--listen=127.0.0.1:", port_),
                                absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port_),
                                absl::StrCat("--db_uri=", db_uri), "--drain_timeout=10s",
                                "--health_check_interval=200ms", "--db_pool_wait=1s"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<ChildProcess>(argv, log_);
  // The first probes find nothing listening; keep reconnect backoff short so the
  // test sees the server as soon as it is up.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_),
                                       grpc::InsecureChannelCredentials(), args);
}

HealthStatus::ServingStatus RunningService::Check(const std::string& service_name) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service_name);
  HealthStatus resp;
  grpc::Status s = stub->Check(Context(absl::Seconds(1)).get(), req, &resp);
  return s.ok() ? resp.status() : HealthStatus::UNKNOWN;
}

bool RunningService::WaitFor(HealthStatus::ServingStatus want, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (Check() == want) return true;
    if (!process_->running()) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

std::string RunningService::Metrics() { return HttpGet("127.0.0.1", metrics_port_, "/metrics"); }

std::string RunningService::Log() { return ReadFile(log_); }

CommandRun RunCommand(const std::string& command) {
  CommandRun run;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.output.append(buffer, n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

}  // namespace cs::testing
