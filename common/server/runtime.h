#ifndef CS_COMMON_SERVER_RUNTIME_H_
#define CS_COMMON_SERVER_RUNTIME_H_

// What every service binary shares: the gRPC server with grpc.health.v1 (tied to
// the database), reflection, Prometheus metrics, JSON logs, and a graceful drain.

#include <grpcpp/grpcpp.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/db/audit_log.h"
#include "common/db/pool.h"
#include "common/server/audit.h"
#include "common/server/auth.h"
#include "common/server/metrics.h"

namespace cs {

// grpc.health.v1 service name that stays SERVING while the process runs (for
// liveness probes); the empty name follows the database (readiness).
inline constexpr char kLivenessService[] = "liveness";

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts later,
// so that RunUntilSignal can wait for them, and ignores SIGPIPE. Call first thing
// in main().
void BlockShutdownSignals();

// The sync server's thread settings every service (and the benchmark's echo
// baseline) uses: enough pollers kept alive that concurrent calls do not make the
// server create and end a thread per call, and the overload bounds of `config`
// (max_concurrent_streams, max_threads).
void ApplySyncServerSettings(grpc::ServerBuilder& builder, const ServerConfig& config);

class ServiceRuntime {
 public:
  // `pool` may be null (no database); it must outlive the runtime.
  ServiceRuntime(ServerConfig config, db::Pool* pool);
  ~ServiceRuntime();

  void AddService(grpc::Service* service);
  // Called when shutdown starts, before in-flight calls drain (e.g. to end streams).
  void AddShutdownHook(std::function<void()> hook);

  prometheus::Registry& registry() { return *registry_; }

  // The service's audit trail (null without a database), for ListAuditEvents.
  db::AuditLog* audit_log() { return audit_log_.get(); }
  // How the audit interceptor tells regulated accounts (see common/server/audit.h);
  // without it only writes are audited. Call before Start.
  void SetRegulatedAccounts(RegulatedAccountsFn fn) { regulated_ = std::move(fn); }

  // Listens on config.listen and config.metrics_listen and starts the database
  // health watcher. Returns once serving.
  absl::Status Start();
  // The port actually bound (useful with listen port 0).
  int port() const { return port_; }
  const std::string& metrics_address() const { return metrics_address_; }
  // The probe port actually bound; 0 without --probe_listen.
  int probe_port() const { return probe_port_; }

  // Stops accepting, marks NOT_SERVING, runs shutdown hooks, waits for in-flight
  // calls up to drain_timeout (then cancels them) and stops the watcher. Idempotent.
  void Shutdown();

  // Start, wait for SIGTERM/SIGINT, Shutdown. Returns the process exit code.
  int RunUntilSignal();

 private:
  // Plaintext, TLS or mutual TLS, with bearer tokens when configured.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials();
  // Sets a grpc.health.v1 status on the main server and, when there is one, the
  // probe server, so both always answer the same.
  void SetServing(const std::string& service, bool serving);
  void WatchDatabase();
  void PurgeExpiredAnswers();

  ServerConfig config_;
  db::Pool* pool_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<RpcMetrics> metrics_;
  std::unique_ptr<db::AuditLog> audit_log_;
  RegulatedAccountsFn regulated_;
  std::shared_ptr<TokenAuthenticator> authenticator_;  // null without authentication
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::vector<grpc::Service*> services_;
  std::vector<std::function<void()>> shutdown_hooks_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> probe_server_;
  int probe_port_ = 0;
  std::string metrics_address_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread watcher_;
  std::thread janitor_;
};

}  // namespace cs

#endif  // CS_COMMON_SERVER_RUNTIME_H_
