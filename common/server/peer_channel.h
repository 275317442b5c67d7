#ifndef CS_COMMON_SERVER_PEER_CHANNEL_H_
#define CS_COMMON_SERVER_PEER_CHANNEL_H_

// Channels from one service of the suite to another. Retries of UNAVAILABLE with
// exponential backoff and jitter are left to gRPC's own retry machinery, configured
// through the channel's service config, so no caller writes a retry loop.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace cs {

struct PeerChannelOptions {
  // Attempts per call, the first included (gRPC caps this at 5).
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  double backoff_multiplier = 2.0;
  // TLS (when tls.ca_file is set), a client certificate, and a bearer token read
  // from tls.token_file and sent on every call.
  PeerTlsConfig tls;
};

// The service-config JSON that makes a channel retry UNAVAILABLE for every method.
std::string RetryServiceConfigJson(const PeerChannelOptions& options);

// Channel arguments carrying that service config, with quick reconnects.
grpc::ChannelArguments PeerChannelArguments(const PeerChannelOptions& options);

// A channel to `target` (host:port) with the retry policy above; plaintext unless
// options.tls says otherwise. Unreadable TLS files give a channel whose calls fail
// UNAVAILABLE (the flags were checked at start).
std::shared_ptr<grpc::Channel> MakePeerChannel(const std::string& target,
                                               const PeerChannelOptions& options = {});

// A context whose deadline is `timeout` from now; every outbound call uses one.
std::unique_ptr<grpc::ClientContext> ContextWithDeadline(absl::Duration timeout);

// A peer's answer as an absl::Status: the code is kept; a peer that cannot be
// reached, or answers too late, is UNAVAILABLE so the caller's client retries.
absl::Status FromPeerStatus(absl::string_view peer, const grpc::Status& status);

}  // namespace cs

#endif  // CS_COMMON_SERVER_PEER_CHANNEL_H_
