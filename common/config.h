#ifndef CS_COMMON_CONFIG_H_
#define CS_COMMON_CONFIG_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/log.h"

namespace cs {

// Where and how to reach the service's own database schema.
struct DbConfig {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user = "root";
  std::string password;
  std::string schema;
  int pool_size = 8;
  // How long a call waits for a free connection before UNAVAILABLE.
  absl::Duration pool_wait = absl::Seconds(2);
  absl::Duration connect_timeout = absl::Seconds(2);
  // Read/write timeout of one statement on the wire.
  absl::Duration io_timeout = absl::Seconds(30);
  // A pooled connection idle this long is pinged before it is lent out: the server
  // may have closed it meanwhile (wait_timeout, a restart, a failover).
  absl::Duration validate_after_idle = absl::Seconds(30);
};

// Parses mysql://USER[:PASSWORD]@HOST[:PORT]/SCHEMA into `base` (which keeps the
// pool settings). The schema may be omitted when `base.schema` is already set.
absl::StatusOr<DbConfig> ParseDbUri(absl::string_view uri, DbConfig base = {});

// Checks host:port with a port in 1-65535 (host may be empty, "[::]" or a name).
absl::Status ValidateListenAddress(absl::string_view field, absl::string_view address);

// TLS of the gRPC port: on when cert_file is set; client_ca_file makes it mutual
// (a client must present a certificate signed by that CA).
struct TlsConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  bool enabled() const { return !cert_file.empty(); }
};

// How this service reaches the others: TLS when ca_file is set, a client
// certificate for mutual TLS, and the bearer token it presents (read from a file).
struct PeerTlsConfig {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string token_file;
};

// Everything the shared runtime needs to run one service binary.
struct ServerConfig {
  std::string service_name;
  std::string listen;
  std::string metrics_listen;
  // A second, plaintext gRPC port serving only grpc.health.v1 (the statuses of the
  // main port), for probes that cannot speak TLS such as the kubelet's native gRPC
  // probes. Empty: none.
  std::string probe_listen;
  DbConfig db;
  absl::Duration drain_timeout = absl::Seconds(20);
  absl::Duration health_check_interval = absl::Seconds(1);
  bool migrate_on_start = true;
  bool migrate_only = false;
  // Statement timeout of the migrating connection (--migration_io_timeout).
  absl::Duration migration_io_timeout = absl::Hours(6);
  bool reflection = true;
  // How long answers of write RPCs are kept for replay by request_id; 0 keeps them.
  absl::Duration idempotency_retention = absl::Hours(24 * 7);
  log::Level log_level = log::Level::kInfo;
  TlsConfig tls;
  // Bearer tokens (hashed) with principals and scopes; empty turns authentication
  // off. Needs TLS: a token never travels in the clear.
  std::string auth_tokens_file;
  // Reflection answers without a token (grpc.health.v1 always does).
  bool auth_exempt_reflection = false;
  PeerTlsConfig peer;
  // Limits: the largest request message the server reads (larger ones get
  // RESOURCE_EXHAUSTED from gRPC itself), and each authenticated principal's calls a
  // second and burst (over it: RESOURCE_EXHAUSTED; 0 calls a second: no limit).
  int max_receive_message_bytes = 4 << 20;
  // Overload bounds of the gRPC port. A connection carries at most
  // max_concurrent_streams calls at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS);
  // a client's further calls wait on its side until one ends. The server runs at
  // most max_threads handler and polling threads; a call arriving with all of them
  // busy is refused RESOURCE_EXHAUSTED at once (0: no limit). A stream
  // (WatchEvents, WatchTasks) holds one thread for as long as it is open.
  int max_concurrent_streams = 100;
  int max_threads = 256;
  double rate_limit_per_second = 500;
  double rate_limit_burst = 1000;
  // How long a stream trusts that an account it carried is outside the regulated
  // industries before asking again (an account can become regulated mid-stream).
  absl::Duration audit_stream_recheck = absl::Seconds(60);
};

// The range of ServerConfig::max_threads: the sync server keeps 2 polling threads
// and needs one more to run a call.
inline constexpr int kMinServerThreads = 4;
inline constexpr int kMaxServerThreads = 65536;

// Checks every field, naming the flag and the environment variable at fault.
absl::Status Validate(const ServerConfig& config);

}  // namespace cs

#endif  // CS_COMMON_CONFIG_H_
