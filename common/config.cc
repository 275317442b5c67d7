#include "common/config.h"

#include <fstream>
#include <utility>

#include <cctype>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cs {
namespace {

bool ValidSchemaName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

absl::Status Invalid(absl::string_view flag, absl::string_view why) {
  std::string env = "CS_";
  for (char c : flag) env.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " (", env, "): ", why));
}

}  // namespace

absl::StatusOr<DbConfig> ParseDbUri(absl::string_view uri, DbConfig base) {
  absl::string_view rest = uri;
  if (!absl::ConsumePrefix(&rest, "mysql://") && !absl::ConsumePrefix(&rest, "mariadb://")) {
    return absl::InvalidArgumentError("database uri must start with mysql://");
  }
  DbConfig out = std::move(base);
  size_t at = rest.rfind('@');
  if (at != absl::string_view::npos) {
    absl::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    size_t colon = userinfo.find(':');
    if (colon == absl::string_view::npos) {
      out.user = std::string(userinfo);
    } else {
      out.user = std::string(userinfo.substr(0, colon));
      out.password = std::string(userinfo.substr(colon + 1));
    }
  }
  absl::string_view hostport = rest;
  size_t slash = rest.find('/');
  if (slash != absl::string_view::npos) {
    hostport = rest.substr(0, slash);
    absl::string_view schema = rest.substr(slash + 1);
    schema = schema.substr(0, schema.find('?'));
    if (!schema.empty()) out.schema = std::string(schema);
  }
  size_t colon = hostport.rfind(':');
  if (colon != absl::string_view::npos && hostport.find(']') == absl::string_view::npos) {
    int port = 0;
    if (!absl::SimpleAtoi(hostport.substr(colon + 1), &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError("database uri: port must be a number in 1-65535");
    }
    out.port = port;
    hostport = hostport.substr(0, colon);
  }
  if (hostport.empty()) return absl::InvalidArgumentError("database uri: host is empty");
  out.host = std::string(hostport);
  if (out.user.empty()) return absl::InvalidArgumentError("database uri: user is empty");
  if (!ValidSchemaName(out.schema)) {
    return absl::InvalidArgumentError(
        "database uri: schema must be 1-64 letters, digits or underscores");
  }
  return out;
}

absl::Status ValidateListenAddress(absl::string_view field, absl::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return Invalid(field, absl::StrCat("'", address, "' is not host:port"));
  }
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return Invalid(field, absl::StrCat("'", address, "' has no port in 0-65535"));
  }
  return absl::OkStatus();
}

absl::Status Validate(const ServerConfig& config) {
  if (config.service_name.empty()) return Invalid("service_name", "must not be empty");
  if (absl::Status s = ValidateListenAddress("listen", config.listen); !s.ok()) return s;
  if (absl::Status s = ValidateListenAddress("metrics_listen", config.metrics_listen); !s.ok()) {
    return s;
  }
  if (!config.probe_listen.empty()) {
    if (absl::Status s = ValidateListenAddress("probe_listen", config.probe_listen); !s.ok()) {
      return s;
    }
  }
  if (config.db.pool_size < 1 || config.db.pool_size > 512) {
    return Invalid("db_pool_size", "must be in 1-512");
  }
  if (config.db.pool_wait <= absl::ZeroDuration()) return Invalid("db_pool_wait", "must be > 0");
  if (config.max_concurrent_streams < 1) return Invalid("max_concurrent_streams", "must be >= 1");
  if (config.max_threads != 0 && (config.max_threads < kMinServerThreads ||
                                  config.max_threads > kMaxServerThreads)) {
    return Invalid("max_threads", absl::StrCat("must be 0 (no limit) or in ", kMinServerThreads,
                                               "-", kMaxServerThreads));
  }
  if (config.drain_timeout < absl::ZeroDuration()) {
    return Invalid("drain_timeout", "must not be negative");
  }
  if (config.health_check_interval <= absl::ZeroDuration()) {
    return Invalid("health_check_interval", "must be > 0");
  }
  if (config.idempotency_retention < absl::ZeroDuration()) {
    return Invalid("idempotency_retention", "must not be negative");
  }
  if (!ValidSchemaName(config.db.schema)) {
    return Invalid("db_uri", "schema must be 1-64 letters, digits or underscores");
  }
  const std::pair<const char*, const std::string*> files[] = {
      {"tls_cert_file", &config.tls.cert_file},
      {"tls_key_file", &config.tls.key_file},
      {"tls_client_ca_file", &config.tls.client_ca_file},
      {"auth_tokens_file", &config.auth_tokens_file},
      {"peer_tls_ca_file", &config.peer.ca_file},
      {"peer_tls_cert_file", &config.peer.cert_file},
      {"peer_tls_key_file", &config.peer.key_file},
      {"peer_token_file", &config.peer.token_file}};
  for (const auto& [flag, path] : files) {
    if (!path->empty() && !std::ifstream(*path).good()) {
      return Invalid(flag, absl::StrCat("cannot read ", *path));
    }
  }
  if (config.tls.cert_file.empty() != config.tls.key_file.empty()) {
    return Invalid("tls_key_file", "give --tls_cert_file and --tls_key_file together");
  }
  if (!config.tls.client_ca_file.empty() && !config.tls.enabled()) {
    return Invalid("tls_client_ca_file", "mutual TLS needs --tls_cert_file and --tls_key_file");
  }
  if (!config.auth_tokens_file.empty() && !config.tls.enabled()) {
    return Invalid("auth_tokens_file",
                   "bearer tokens are accepted over TLS only: set --tls_cert_file and --tls_key_file");
  }
  if (config.peer.cert_file.empty() != config.peer.key_file.empty()) {
    return Invalid("peer_tls_key_file", "give --peer_tls_cert_file and --peer_tls_key_file together");
  }
  if ((!config.peer.cert_file.empty() || !config.peer.token_file.empty()) &&
      config.peer.ca_file.empty()) {
    return Invalid("peer_tls_ca_file",
                   "a client certificate or token for peers needs TLS: set --peer_tls_ca_file");
  }
  return absl::OkStatus();
}

}  // namespace cs
