#include "common/server/peer_channel.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/ascii.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file.h"

namespace cs {
namespace {

// "" when the file cannot be read: the TLS set-up then fails and names it.
std::string ReadWhole(const std::string& path) { return ReadWholeFile(path).value_or(""); }

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.3fs", absl::ToDoubleSeconds(d));
}

}  // namespace

std::string RetryServiceConfigJson(const PeerChannelOptions& options) {
  const int attempts = std::clamp(options.max_attempts, 2, 5);
  return absl::StrCat(
      R"({"methodConfig":[{"name":[{}],"retryPolicy":{"maxAttempts":)", attempts,
      R"(,"initialBackoff":")", Seconds(options.initial_backoff), R"(","maxBackoff":")",
      Seconds(options.max_backoff), R"(","backoffMultiplier":)",
      absl::StrFormat("%.2f", options.backoff_multiplier),
      R"(,"retryableStatusCodes":["UNAVAILABLE"]}}]})");
}

grpc::ChannelArguments PeerChannelArguments(const PeerChannelOptions& options) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(RetryServiceConfigJson(options));
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  // Reconnect quickly after a peer restarts instead of waiting out a long backoff.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  return args;
}

std::shared_ptr<grpc::Channel> MakePeerChannel(const std::string& target,
                                               const PeerChannelOptions& options) {
  if (options.tls.ca_file.empty()) {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                     PeerChannelArguments(options));
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadWhole(options.tls.ca_file);
  if (!options.tls.cert_file.empty()) {
    ssl.pem_cert_chain = ReadWhole(options.tls.cert_file);
    ssl.pem_private_key = ReadWhole(options.tls.key_file);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::SslCredentials(ssl);
  if (!options.tls.token_file.empty()) {
    const std::string token(absl::StripAsciiWhitespace(ReadWhole(options.tls.token_file)));
    credentials =
        grpc::CompositeChannelCredentials(credentials, grpc::AccessTokenCredentials(token));
  }
  return grpc::CreateCustomChannel(target, credentials, PeerChannelArguments(options));
}

std::unique_ptr<grpc::ClientContext> ContextWithDeadline(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::microseconds(absl::ToInt64Microseconds(timeout)));
  return context;
}

absl::Status FromPeerStatus(absl::string_view peer, const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(peer, ": ", status.error_message());
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::UnavailableError(message);
    default:
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()), message);
  }
}

}  // namespace cs
