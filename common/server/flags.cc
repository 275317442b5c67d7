#include "common/server/flags.h"

#include <algorithm>
#include <cctype>
#include <vector>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/log.h"

ABSL_FLAG(std::string, listen, "", "gRPC listen address host:port (default per service)");
ABSL_FLAG(std::string, metrics_listen, "", "Prometheus /metrics listen address host:port");
ABSL_FLAG(std::string, probe_listen, "",
          "Plaintext gRPC address host:port serving only grpc.health.v1 (the main port's"
          " statuses), for probes that cannot speak TLS; empty: off");
ABSL_FLAG(std::string, db_uri, "mysql://root@127.0.0.1:3306",
          "Database: mysql://USER[:PASSWORD]@HOST[:PORT][/SCHEMA] (schema defaults per service)");
ABSL_FLAG(std::string, db_password_file, "",
          "File holding the database password (e.g. a mounted secret); overrides the uri's");
ABSL_FLAG(int, db_pool_size, 16, "Maximum open database connections");
ABSL_FLAG(absl::Duration, db_pool_wait, absl::Seconds(2),
          "How long a call waits for a free connection before UNAVAILABLE");
ABSL_FLAG(absl::Duration, db_io_timeout, absl::Seconds(30), "Read/write timeout of one statement");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(20),
          "On SIGTERM, how long in-flight calls may finish before they are cancelled");
ABSL_FLAG(absl::Duration, health_check_interval, absl::Seconds(1),
          "How often the database is checked for grpc.health.v1");
ABSL_FLAG(bool, migrate_on_start, true, "Apply pending schema migrations at start");
ABSL_FLAG(bool, migrate_only, false, "Apply pending schema migrations and exit");
ABSL_FLAG(absl::Duration, migration_io_timeout, absl::Hours(6),
          "Read/write timeout of one migration statement (a migration that copies a "
          "table of signals runs for minutes per hundred million rows)");
ABSL_FLAG(bool, reflection, true, "Serve gRPC server reflection");
ABSL_FLAG(absl::Duration, idempotency_retention, absl::Hours(24 * 7),
          "How long write answers are kept for replay by request_id (0 keeps them)");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM certificate (chain) of the gRPC port; turns TLS on");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS)");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "Bearer tokens: lines 'sha256:HEX PRINCIPAL SCOPE[,SCOPE...]'; reread when it changes."
          " Empty turns authentication off. Needs TLS");
ABSL_FLAG(bool, auth_exempt_reflection, false, "Serve gRPC reflection without a token");
ABSL_FLAG(std::string, peer_tls_ca_file, "",
          "PEM CA bundle that verifies the other services; turns TLS on for calls to them");
ABSL_FLAG(std::string, peer_tls_cert_file, "", "Client certificate presented to the other services");
ABSL_FLAG(std::string, peer_tls_key_file, "", "Private key of --peer_tls_cert_file");
ABSL_FLAG(int, max_receive_message_bytes, 4 << 20,
          "Largest request message the gRPC port accepts; larger ones get RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_concurrent_streams, 100,
          "Calls one client connection may have in flight at once; its further calls wait on"
          " the client's side");
ABSL_FLAG(int, max_threads, 256,
          "Most threads running and polling for calls; a call arriving with all busy gets"
          " RESOURCE_EXHAUSTED (0: no limit). Each open stream holds one");
ABSL_FLAG(absl::Duration, audit_stream_recheck, absl::Seconds(60),
          "How long a stream trusts that an account it carried is outside the regulated "
          "industries before it checks again and records the account's reads");
ABSL_FLAG(double, rate_limit_per_second, 500,
          "Calls a second each authenticated principal may make (a token's rate= overrides it);"
          " over it: RESOURCE_EXHAUSTED. 0: no limit");
ABSL_FLAG(double, rate_limit_burst, 1000,
          "Calls a principal may make at once after a quiet spell (the token bucket's size)");
ABSL_FLAG(std::string, peer_token_file, "", "File holding the bearer token sent to the other services");

namespace cs {
namespace {

std::string EnvName(absl::string_view flag) {
  std::string env = "CS_";
  for (char c : flag) env.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return env;
}

// Sets every flag that has a CS_<NAME> variable in the environment.
absl::Status ApplyEnvironment() {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    const std::string env = EnvName(name);
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(env, "='", value, "': ", error));
    }
  }
  return absl::OkStatus();
}

// "--migrate-only" and "--migrate_only" both work: flag names are written with
// underscores, but operators often type dashes.
std::vector<std::string> NormalizeFlagNames(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && arg.size() > 2 && arg.rfind("--", 0) == 0) {
      const size_t end = std::min(arg.find('='), arg.size());
      for (size_t j = 2; j < end; ++j) {
        if (arg[j] == '-') arg[j] = '_';
      }
    }
    out.push_back(std::move(arg));
  }
  return out;
}

}  // namespace

absl::StatusOr<ServerConfig> LoadServerConfig(int argc, char** argv,
                                              const ServiceDefaults& defaults) {
  absl::SetProgramUsageMessage(absl::StrCat(
      "The customer-success suite's ", defaults.service_name,
      " service. Every flag --NAME may also be set as the environment variable CS_NAME."));
  if (absl::Status s = ApplyEnvironment(); !s.ok()) return s;
  std::vector<std::string> args = NormalizeFlagNames(argc, argv);
  std::vector<char*> arg_ptrs;
  for (std::string& a : args) arg_ptrs.push_back(a.data());
  arg_ptrs.push_back(nullptr);
  absl::ParseCommandLine(argc, arg_ptrs.data());

  ServerConfig config;
  config.service_name = defaults.service_name;
  config.listen = absl::GetFlag(FLAGS_listen).empty() ? defaults.listen : absl::GetFlag(FLAGS_listen);
  config.metrics_listen = absl::GetFlag(FLAGS_metrics_listen).empty()
                              ? defaults.metrics_listen
                              : absl::GetFlag(FLAGS_metrics_listen);
  config.probe_listen = absl::GetFlag(FLAGS_probe_listen);
  DbConfig base;
  base.schema = defaults.schema;
  base.pool_size = absl::GetFlag(FLAGS_db_pool_size);
  base.pool_wait = absl::GetFlag(FLAGS_db_pool_wait);
  base.io_timeout = absl::GetFlag(FLAGS_db_io_timeout);
  absl::StatusOr<DbConfig> db = ParseDbUri(absl::GetFlag(FLAGS_db_uri), base);
  if (!db.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--db_uri (CS_DB_URI): ", db.status().message()));
  }
  config.db = *std::move(db);
  const std::string password_file = absl::GetFlag(FLAGS_db_password_file);
  if (!password_file.empty()) {
    const std::optional<std::string> content = ReadWholeFile(password_file);
    if (!content) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--db_password_file (CS_DB_PASSWORD_FILE): cannot read ", password_file));
    }
    config.db.password = std::string(absl::StripTrailingAsciiWhitespace(*content));
  }
  config.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  config.health_check_interval = absl::GetFlag(FLAGS_health_check_interval);
  config.migrate_on_start = absl::GetFlag(FLAGS_migrate_on_start);
  config.migrate_only = absl::GetFlag(FLAGS_migrate_only);
  config.migration_io_timeout = absl::GetFlag(FLAGS_migration_io_timeout);
  config.reflection = absl::GetFlag(FLAGS_reflection);
  config.idempotency_retention = absl::GetFlag(FLAGS_idempotency_retention);
  if (!log::ParseLevel(absl::GetFlag(FLAGS_log_level), &config.log_level)) {
    return absl::InvalidArgumentError("--log_level (CS_LOG_LEVEL): must be debug, info, warn or error");
  }
  config.tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  config.tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  config.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  config.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  config.auth_exempt_reflection = absl::GetFlag(FLAGS_auth_exempt_reflection);
  config.peer.ca_file = absl::GetFlag(FLAGS_peer_tls_ca_file);
  config.peer.cert_file = absl::GetFlag(FLAGS_peer_tls_cert_file);
  config.peer.key_file = absl::GetFlag(FLAGS_peer_tls_key_file);
  config.peer.token_file = absl::GetFlag(FLAGS_peer_token_file);
  config.max_receive_message_bytes = absl::GetFlag(FLAGS_max_receive_message_bytes);
  config.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  config.max_threads = absl::GetFlag(FLAGS_max_threads);
  config.rate_limit_per_second = absl::GetFlag(FLAGS_rate_limit_per_second);
  config.audit_stream_recheck = absl::GetFlag(FLAGS_audit_stream_recheck);
  config.rate_limit_burst = absl::GetFlag(FLAGS_rate_limit_burst);
  if (absl::Status s = Validate(config); !s.ok()) return s;
  if (config.max_receive_message_bytes < 1024) {
    return absl::InvalidArgumentError(
        "--max_receive_message_bytes (CS_MAX_RECEIVE_MESSAGE_BYTES): must be at least 1024");
  }
  if (!(config.rate_limit_per_second >= 0) || !(config.rate_limit_burst >= 1)) {
    return absl::InvalidArgumentError(
        "--rate_limit_per_second / --rate_limit_burst (CS_RATE_LIMIT_PER_SECOND /"
        " CS_RATE_LIMIT_BURST): the rate must not be negative and the burst at least 1");
  }
  if (config.audit_stream_recheck <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--audit_stream_recheck (CS_AUDIT_STREAM_RECHECK): must be positive");
  }
  return config;
}

}  // namespace cs
