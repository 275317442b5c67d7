#ifndef CS_COMMON_SERVER_AUTH_H_
#define CS_COMMON_SERVER_AUTH_H_

// Bearer-token authentication and scope checks for every RPC of a service.
//
// Tokens live in a file (a mounted Secret) as lines
//   sha256:<hex of SHA-256 of the token> <principal> <scope>[,<scope>...] [rate=R[/B]]
// so the file never holds a usable token. The optional rate=R/B replaces the
// server's default per-principal rate limit for calls made with that token (R
// requests a second, bursts of B; rate=0 is unlimited). The file is reread when it changes
// (checked at most once a second), so tokens rotate without a restart; a file
// that no longer parses keeps the previous tokens and logs why.
//
// Scopes: every method of cs.<svc>.v1 needs "<svc>.read" (Get*, List*, Watch*,
// Explain*, Suggest*, Backtest*), "<svc>.admin" (changes to configuration:
// scorecards, event mappings, alert settings, playbook definitions, escalation
// chains, stage probabilities, model training) or "<svc>.write" (everything
// else), and ListAuditEvents needs "<svc>.admin". "<svc>.admin" grants all three, "<svc>.write" grants read, "*" grants
// everything. grpc.health.v1 needs nothing; reflection needs "reflection" unless
// exempted.

#include <grpcpp/security/auth_metadata_processor.h>

#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/server/limits.h"

namespace cs {

std::string Sha256Hex(absl::string_view data);

struct Principal {
  std::string name;
  std::set<std::string> scopes;
  std::optional<RateLimit> rate_limit;  // from rate=; nullopt: the server default
};

// The token file's content, keyed by the token's hash.
absl::StatusOr<std::unordered_map<std::string, Principal>> ParseTokenFile(absl::string_view text);

// The scope a method (":path", e.g. "/cs.health.v1.AccountHealthService/GetHealth")
// needs; "" when it needs none.
std::string RequiredScope(absl::string_view path, bool exempt_reflection);
bool Grants(const std::set<std::string>& scopes, absl::string_view required);

class TokenAuthenticator : public grpc::AuthMetadataProcessor {
 public:
  // Fails when the file cannot be read or parsed.
  // `limiter` (may be null) throttles each principal once its token is known.
  static absl::StatusOr<std::shared_ptr<TokenAuthenticator>> Create(
      std::string path, bool exempt_reflection, std::shared_ptr<RateLimiter> limiter = nullptr);

  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

  // Rereads the file if it changed since the last read (exposed for tests).
  void ReloadIfChanged();

  // The principal of an "authorization" header value; nullopt when the token is
  // unknown. The server's interceptor asks this per call (see audit.h): gRPC 1.51
  // shares one AuthContext among all calls of a connection, so a principal added to
  // it would stick to the connection, not the call.
  std::optional<std::string> PrincipalOf(absl::string_view authorization);

 private:
  TokenAuthenticator(std::string path, bool exempt_reflection,
                     std::shared_ptr<RateLimiter> limiter)
      : path_(std::move(path)), exempt_reflection_(exempt_reflection),
        limiter_(std::move(limiter)) {}
  absl::Status Load();

  const std::string path_;
  const bool exempt_reflection_;
  const std::shared_ptr<RateLimiter> limiter_;
  std::mutex mu_;
  std::shared_ptr<const std::unordered_map<std::string, Principal>> tokens_;
  std::string fingerprint_;  // mtime, size and inode of what was read
  absl::Time last_check_ = absl::InfinitePast();
};

}  // namespace cs

#endif  // CS_COMMON_SERVER_AUTH_H_
