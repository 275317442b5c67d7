#include "common/server/runtime.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/file.h"
#include "common/server/auth.h"
#include "common/db/idempotency.h"
#include "common/log.h"

namespace cs {

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A write to a socket the database or a client already closed must fail with
  // EPIPE, not end the process.
  signal(SIGPIPE, SIG_IGN);
}

void ApplySyncServerSettings(grpc::ServerBuilder& builder, const ServerConfig& config) {
  // gRPC's defaults keep at most 2 idle pollers: with more concurrent calls than
  // that, every call past the second started a thread that ended after it (thread
  // creation, stack pages and thread-local set-up showed in the profile of the
  // GetHealth benchmark). Threads above the minimum still end when idle.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  // Without a bound, a server that falls behind starts a thread for every call that
  // arrives while the others still run: under an open-loop load a little past what
  // 2 cores serve, health grew past 11,000 threads and 3 GiB, the switching between
  // them took the CPU the calls needed, and it never caught up. Bounded, the excess
  // waits in the clients (streams per connection) or is refused at once (threads).
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, config.max_concurrent_streams);
  if (config.max_threads > 0) {
    grpc::ResourceQuota quota(absl::StrCat(config.service_name, "-grpc"));
    quota.SetMaxThreads(config.max_threads);
    builder.SetResourceQuota(quota);
  }
  // Debian's Abseil tracks the order of every Mutex acquisition (its deadlock
  // detector, on unless Abseil itself was built with NDEBUG), and gRPC locks
  // absl::Mutex many times per call: GraphCycles showed in the GetHealth profile.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

ServiceRuntime::ServiceRuntime(ServerConfig config, db::Pool* pool)
    : config_(std::move(config)),
      pool_(pool),
      registry_(std::make_shared<prometheus::Registry>()),
      metrics_(std::make_unique<RpcMetrics>(*registry_)),
      audit_log_(pool == nullptr ? nullptr : std::make_unique<db::AuditLog>(pool)) {}

ServiceRuntime::~ServiceRuntime() { Shutdown(); }

void ServiceRuntime::AddService(grpc::Service* service) { services_.push_back(service); }

void ServiceRuntime::AddShutdownHook(std::function<void()> hook) {
  shutdown_hooks_.push_back(std::move(hook));
}

namespace {

// How often an idle gRPC polling thread wakes up (see Start).
constexpr int kPollerWakeupMs = 100;

// Opens and closes one TCP connection to `address` ("host:port"); a wildcard host
// means this machine.
void Knock(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), address.substr(colon + 1).c_str(), &hints, &found) != 0) return;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const bool connected = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    close(fd);
    if (connected) break;
  }
  freeaddrinfo(found);
}

// Stops the metrics HTTP server. Its listener thread (civetweb) checks for shutdown
// only between polls of its sockets, each up to 2 s long, so a plain stop took 0-2 s
// on an idle process; a connection to the port ends the poll at once, so the stop
// knocks until the listener is gone.
void StopExposer(std::unique_ptr<prometheus::Exposer> exposer, const std::string& address) {
  if (exposer == nullptr) return;
  std::atomic<bool> stopped{false};
  std::thread knocker([&] {
    while (!stopped.load()) {
      Knock(address);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  exposer.reset();
  stopped.store(true);
  knocker.join();
}

absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  std::optional<std::string> content = ReadWholeFile(path);
  if (!content) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": cannot read ", path));
  return *std::move(content);
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServiceRuntime::ServerCredentials() {
  if (!config_.tls.enabled()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadPem("tls_cert_file", config_.tls.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem("tls_key_file", config_.tls.key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!config_.tls.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem("tls_client_ca_file", config_.tls.client_ca_file);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(options);
  if (!config_.auth_tokens_file.empty()) {
    // Rate limits are per principal, so they need the principal the token names.
    auto& limited = prometheus::BuildCounter()
                        .Name("cs_rate_limited_total")
                        .Help("Calls refused with RESOURCE_EXHAUSTED by the per-principal rate limit.")
                        .Register(*registry_);
    auto limiter = std::make_shared<RateLimiter>(
        RateLimit{config_.rate_limit_per_second, config_.rate_limit_burst},
        &RealClock::Instance(), [&limited](const std::string& principal) {
          limited.Add({{"principal", principal}}).Increment();
        });
    absl::StatusOr<std::shared_ptr<TokenAuthenticator>> auth = TokenAuthenticator::Create(
        config_.auth_tokens_file, config_.auth_exempt_reflection, std::move(limiter));
    if (!auth.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--auth_tokens_file: ", auth.status().message()));
    }
    authenticator_ = *auth;
    credentials->SetAuthMetadataProcessor(*std::move(auth));
  }
  return credentials;
}

absl::Status ServiceRuntime::Start() {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(config_.metrics_listen);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", config_.metrics_listen, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  const auto ports = exposer_->GetListeningPorts();
  const std::string metrics_host = config_.metrics_listen.substr(0, config_.metrics_listen.rfind(':'));
  metrics_address_ = absl::StrCat(metrics_host, ":", ports.empty() ? 0 : ports.front());

  grpc::EnableDefaultHealthCheckService(true);
  if (config_.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = ServerCredentials();
  if (!credentials.ok()) return credentials.status();
  grpc::ServerBuilder builder;
  // The sync server's polling threads wait on their completion queue up to this long
  // between checks (gRPC's default is 10 s), and Shutdown waits for each to come back;
  // a short wake-up keeps that wait out of the drain at a negligible idle cost.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC,
                              kPollerWakeupMs);
  builder.AddListeningPort(config_.listen, *credentials, &port_);
  ApplySyncServerSettings(builder, config_);
  builder.SetMaxReceiveMessageSize(config_.max_receive_message_bytes);
  for (grpc::Service* service : services_) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  // The audit interceptor goes first so that the status it may change (an audit row
  // that cannot be written) is the one the observability interceptor counts and logs.
  // It also strips the bearer token once it has the call's principal, so it runs
  // whenever there is a trail to write or a token to strip.
  PrincipalFn principal_of;
  if (authenticator_ != nullptr) {
    principal_of = [auth = authenticator_](absl::string_view header) {
      return auth->PrincipalOf(header);
    };
  }
  if (audit_log_ != nullptr || principal_of != nullptr) {
    creators.push_back(std::make_unique<AuditInterceptorFactory>(
        audit_log_.get(), regulated_, std::move(principal_of), &RealClock::Instance(),
        *registry_, config_.audit_stream_recheck));
  }
  creators.push_back(std::make_unique<ObservabilityInterceptorFactory>(metrics_.get()));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("grpc: cannot listen on ", config_.listen));
  }

  if (!config_.probe_listen.empty()) {
    // Plaintext on purpose: the kubelet's gRPC probes cannot do TLS. It registers no
    // service of the suite, so the only thing it answers with data is the default
    // grpc.health.v1 service, whose statuses SetServing keeps equal to the main
    // port's.
    grpc::ServerBuilder probe_builder;
    probe_builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC,
                                      kPollerWakeupMs);
    probe_builder.AddListeningPort(config_.probe_listen, grpc::InsecureServerCredentials(),
                                   &probe_port_);
    probe_server_ = probe_builder.BuildAndStart();
    if (probe_server_ == nullptr || probe_port_ == 0) {
      probe_server_.reset();
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
      server_.reset();
      return absl::UnavailableError(
          absl::StrCat("probe: cannot listen on ", config_.probe_listen));
    }
  }

  // Serving only once the database has answered: the watcher's first check runs now.
  const bool db_ok = pool_ == nullptr || pool_->Ping().ok();
  SetServing("", db_ok);
  // "liveness" answers whether the process works, whatever its database does, so a
  // liveness probe does not restart pods through a database outage.
  SetServing(kLivenessService, true);
  metrics_->db_up().Set(db_ok ? 1 : 0);
  if (pool_ != nullptr) watcher_ = std::thread([this] { WatchDatabase(); });
  if (pool_ != nullptr && config_.idempotency_retention > absl::ZeroDuration()) {
    janitor_ = std::thread([this] { PurgeExpiredAnswers(); });
  }
  log::Info("serving", {{"listen", config_.listen},
                        {"tls", config_.tls.enabled() ? (config_.tls.client_ca_file.empty()
                                                             ? "on" : "mutual")
                                                       : "off"},
                        {"authentication", !config_.auth_tokens_file.empty()},
                        {"port", port_},
                        {"probe_port", probe_port_},
                        {"metrics", metrics_address_},
                        {"database_up", db_ok}});
  return absl::OkStatus();
}

void ServiceRuntime::SetServing(const std::string& service, bool serving) {
  server_->GetHealthCheckService()->SetServingStatus(service, serving);
  if (probe_server_ != nullptr) {
    probe_server_->GetHealthCheckService()->SetServingStatus(service, serving);
  }
}

void ServiceRuntime::WatchDatabase() {
  bool last_ok = true;
  bool first = true;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    const absl::Status status = pool_->Ping();
    const bool ok = status.ok();
    const db::Pool::Stats stats = pool_->stats();
    metrics_->pool_open().Set(stats.open);
    metrics_->pool_leased().Set(stats.leased);
    lock.lock();
    if (stopping_) break;
    if (first || ok != last_ok) {
      SetServing("", ok);
      metrics_->db_up().Set(ok ? 1 : 0);
      if (!first || !ok) {
        log::Write(ok ? log::Level::kInfo : log::Level::kWarn,
                   ok ? "database reachable: SERVING" : "database unreachable: NOT_SERVING",
                   {{"error", std::string(status.message())}});
      }
    }
    first = false;
    last_ok = ok;
    cv_.wait_for(lock, absl::ToChronoNanoseconds(config_.health_check_interval),
                 [this] { return stopping_; });
  }
}

void ServiceRuntime::PurgeExpiredAnswers() {
  // Replicas may purge at the same time: each DELETE takes whatever rows are left.
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    absl::StatusOr<int64_t> purged =
        db::PurgeStoredResponses(*pool_, absl::Now() - config_.idempotency_retention);
    if (purged.ok() && *purged > 0) {
      log::Info("expired write answers purged", {{"rows", *purged}});
    } else if (!purged.ok()) {
      log::Warn("purging expired write answers failed; retrying later",
                {{"error", std::string(purged.status().message())}});
    }
    lock.lock();
    cv_.wait_for(lock, std::chrono::hours(1), [this] { return stopping_; });
  }
}

void ServiceRuntime::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_ || server_ == nullptr) {
      stopped_ = true;
      return;
    }
    stopping_ = true;
    stopped_ = true;
  }
  cv_.notify_all();
  log::Info("shutting down: draining in-flight calls",
            {{"drain_timeout_ms", absl::ToInt64Milliseconds(config_.drain_timeout)}});
  const auto deadline = std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(config_.drain_timeout);
  // Every status, on both ports, turns NOT_SERVING for the rest of the drain.
  server_->GetHealthCheckService()->Shutdown();
  if (probe_server_ != nullptr) probe_server_->GetHealthCheckService()->Shutdown();
  // The hooks (ending streams, stopping background loops, each of which may be in
  // the middle of a round) run while the server refuses new calls and drains the
  // ones in flight: run one after the other, a loop's last round used to keep the
  // port accepting calls, and the two waits added up.
  std::thread hooks([this] {
    for (auto& hook : shutdown_hooks_) hook();
  });
  std::atomic<bool> shutdown_begun{false};
  std::atomic<bool> drained{false};
  std::thread drain([&] {
    shutdown_begun.store(true);
    server_->Shutdown(deadline);
    server_->Wait();
    drained.store(true);
  });
  hooks.join();
  // gRPC's shutdown also waits for every client connection to go away after its
  // GOAWAY, and an idle client only reads it when its backup poller runs (every 5 s):
  // an idle process with one connected client took up to 5 s to exit. Once no call is
  // in flight, nothing is left to drain, so the connections are closed from this side.
  absl::SleepFor(absl::Milliseconds(20));  // the GOAWAY and listener stop go out first
  while (!drained.load() && metrics_->in_flight() > 0 &&
         std::chrono::system_clock::now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (!drained.load() && shutdown_begun.load()) grpc_server_cancel_all_calls(server_->c_server());
  drain.join();
  if (probe_server_ != nullptr) {
    probe_server_->Shutdown(std::chrono::system_clock::now());
    probe_server_->Wait();
  }
  // Joined last: a database check in progress may wait for its connect timeout, and
  // nothing above depends on it (it sets no status once stopping_ is set).
  if (watcher_.joinable()) watcher_.join();
  if (janitor_.joinable()) janitor_.join();
  log::Info("grpc drained");
  StopExposer(std::move(exposer_), metrics_address_);
  log::Info("stopped");
}

int ServiceRuntime::RunUntilSignal() {
  if (absl::Status s = Start(); !s.ok()) {
    log::Error("cannot start", {{"error", std::string(s.message())}});
    return 1;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  log::Info("signal received", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  Shutdown();
  return 0;
}

}  // namespace cs
