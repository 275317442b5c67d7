#include "common/server/auth.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file.h"
#include "common/log.h"

namespace cs {
namespace {

constexpr absl::string_view kHashPrefix = "sha256:";

bool StartsWithAny(absl::string_view method, std::initializer_list<absl::string_view> prefixes) {
  for (absl::string_view p : prefixes) {
    if (absl::StartsWith(method, p)) return true;
  }
  return false;
}

std::string FileFingerprint(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, "/", st.st_size, "/", st.st_ino);
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

absl::StatusOr<std::unordered_map<std::string, Principal>> ParseTokenFile(absl::string_view text) {
  std::unordered_map<std::string, Principal> out;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    const std::string where = absl::StrCat("line ", line_number, ": ");
    if (fields.size() != 3 && fields.size() != 4) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "expected 'sha256:HEX PRINCIPAL SCOPE[,SCOPE...] [rate=R[/B]]'"));
    }
    if (!absl::StartsWith(fields[0], kHashPrefix) ||
        fields[0].size() != kHashPrefix.size() + 64 ||
        fields[0].substr(kHashPrefix.size()).find_first_not_of("0123456789abcdef") !=
            absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "the token must be given as sha256: and 64 lower-case hex digits"));
    }
    Principal p;
    p.name = std::string(fields[1]);
    for (absl::string_view scope : absl::StrSplit(fields[2], ',', absl::SkipEmpty())) {
      p.scopes.insert(std::string(scope));
    }
    if (fields.size() == 4) {
      absl::string_view rate = fields[3];
      if (!absl::ConsumePrefix(&rate, "rate=")) {
        return absl::InvalidArgumentError(absl::StrCat(where, "the fourth field must be rate=R[/B]"));
      }
      absl::StatusOr<RateLimit> limit = ParseRateLimit(rate);
      if (!limit.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, "rate=", limit.status().message()));
      }
      p.rate_limit = *limit;
    }
    if (!out.emplace(std::string(fields[0].substr(kHashPrefix.size())), std::move(p)).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, "the same token is listed twice"));
    }
  }
  return out;
}

std::string RequiredScope(absl::string_view path, bool exempt_reflection) {
  if (absl::StartsWith(path, "/grpc.health.v1.Health/")) return "";
  if (absl::StartsWith(path, "/grpc.reflection.")) return exempt_reflection ? "" : "reflection";
  // "/cs.<svc>.v1.<Service>/<Method>"
  std::vector<absl::string_view> parts = absl::StrSplit(path, absl::ByAnyChar("./"));
  if (parts.size() < 6 || !parts[0].empty() || parts[1] != "cs") return "*";
  const absl::string_view svc = parts[2];
  const absl::string_view method = parts.back();
  // The audit trail says who read what: only administrators may read it.
  if (method == "ListAuditEvents") return absl::StrCat(svc, ".admin");
  if (StartsWithAny(method, {"Get", "List", "Watch", "Explain", "Suggest", "Backtest"})) {
    return absl::StrCat(svc, ".read");
  }
  const bool configuration =
      method == "TrainChurnModel" ||
      (StartsWithAny(method, {"Create", "Update", "Set", "Upsert", "Delete"}) &&
       (absl::StrContains(method, "Scorecard") || absl::StrContains(method, "EventMapping") ||
        absl::StrContains(method, "AlertSettings") || absl::EndsWith(method, "Playbook") ||
        absl::StrContains(method, "EscalationChain") ||
        absl::StrContains(method, "StageProbabilities")));
  return absl::StrCat(svc, configuration ? ".admin" : ".write");
}

bool Grants(const std::set<std::string>& scopes, absl::string_view required) {
  if (required.empty() || scopes.count("*")) return true;
  if (scopes.count(std::string(required))) return true;
  const size_t dot = required.rfind('.');
  if (dot == absl::string_view::npos) return false;
  const std::string svc(required.substr(0, dot));
  const absl::string_view level = required.substr(dot + 1);
  if (scopes.count(svc + ".admin")) return true;
  return level == "read" && scopes.count(svc + ".write") > 0;
}

absl::StatusOr<std::shared_ptr<TokenAuthenticator>> TokenAuthenticator::Create(
    std::string path, bool exempt_reflection, std::shared_ptr<RateLimiter> limiter) {
  std::shared_ptr<TokenAuthenticator> auth(
      new TokenAuthenticator(std::move(path), exempt_reflection, std::move(limiter)));
  if (absl::Status s = auth->Load(); !s.ok()) return s;
  return auth;
}

absl::Status TokenAuthenticator::Load() {
  const std::string fingerprint = FileFingerprint(path_);
  const std::optional<std::string> content = ReadWholeFile(path_);
  if (!content) return absl::InvalidArgumentError(absl::StrCat(path_, ": cannot read"));
  absl::StatusOr<std::unordered_map<std::string, Principal>> tokens = ParseTokenFile(*content);
  if (!tokens.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", tokens.status().message()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  tokens_ = std::make_shared<const std::unordered_map<std::string, Principal>>(*std::move(tokens));
  fingerprint_ = fingerprint;
  return absl::OkStatus();
}

void TokenAuthenticator::ReloadIfChanged() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_check_ = absl::Now();
    if (FileFingerprint(path_) == fingerprint_) return;
  }
  if (absl::Status s = Load(); !s.ok()) {
    log::Error("auth tokens file not reloaded; the previous tokens stay in force",
               {{"error", std::string(s.message())}});
    std::lock_guard<std::mutex> lock(mu_);
    fingerprint_ = FileFingerprint(path_);  // do not retry until it changes again
    return;
  }
  log::Info("auth tokens reloaded", {{"file", path_}});
}

grpc::Status TokenAuthenticator::Process(const InputMetadata& auth_metadata,
                                         grpc::AuthContext*, OutputMetadata*, OutputMetadata*) {
  bool check = false;
  std::shared_ptr<const std::unordered_map<std::string, Principal>> tokens;
  {
    std::lock_guard<std::mutex> lock(mu_);
    check = absl::Now() - last_check_ > absl::Seconds(1);
    tokens = tokens_;
  }
  if (check) {
    ReloadIfChanged();
    std::lock_guard<std::mutex> lock(mu_);
    tokens = tokens_;
  }
  auto path_it = auth_metadata.find(":path");
  const absl::string_view path =
      path_it == auth_metadata.end()
          ? absl::string_view()
          : absl::string_view(path_it->second.data(), path_it->second.size());
  const std::string required = RequiredScope(path, exempt_reflection_);
  if (required.empty()) return grpc::Status::OK;
  auto it = auth_metadata.find("authorization");
  if (it == auth_metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization: a bearer token is required");
  }
  const absl::string_view header(it->second.data(), it->second.size());
  absl::string_view token = header;
  if (!absl::ConsumePrefix(&token, "Bearer ") || token.empty()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization: expected 'Bearer <token>'");
  }
  auto found = tokens->find(Sha256Hex(token));
  if (found == tokens->end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "authorization: unknown token");
  }
  if (!Grants(found->second.scopes, required)) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(found->second.name, " lacks scope ", required));
  }
  // Checked here, before the request is read, so a flood costs the server little;
  // only authenticated calls count, so nobody can spend another principal's budget.
  if (limiter_ != nullptr && !limiter_->Allow(found->second.name, found->second.rate_limit)) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat(found->second.name, ": rate limit exceeded; retry later"));
  }
  // The header stays for the server's first interceptor, which reads the call's
  // principal from it and then removes it: handlers and logs never see the token.
  return grpc::Status::OK;
}

std::optional<std::string> TokenAuthenticator::PrincipalOf(absl::string_view authorization) {
  absl::string_view token = authorization;
  if (!absl::ConsumePrefix(&token, "Bearer ") || token.empty()) return std::nullopt;
  std::shared_ptr<const std::unordered_map<std::string, Principal>> tokens;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tokens = tokens_;
  }
  auto found = tokens->find(Sha256Hex(token));
  if (found == tokens->end()) return std::nullopt;
  return found->second.name;
}

}  // namespace cs
