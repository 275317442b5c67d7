#ifndef CS_SERVICES_EXPANSION_GRPC_HEALTH_CLIENT_H_
#define CS_SERVICES_EXPANSION_GRPC_HEALTH_CLIENT_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/server/peer_channel.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "services/expansion/health_client.h"

namespace cs::expansion {

// Calls cs.health.v1.AccountHealthService/GetHealth over a peer channel (retries of
// UNAVAILABLE with backoff inside the deadline). The channel connects lazily, so
// expansion starts while health is down; calls then answer UNAVAILABLE.
class GrpcHealthClient final : public HealthClient {
 public:
  GrpcHealthClient(const std::string& target, absl::Duration deadline,
                   const PeerChannelOptions& options = {});
  absl::StatusOr<HealthBand> GetBand(const std::string& account_id) override;

 private:
  std::unique_ptr<cs::health::v1::AccountHealthService::Stub> stub_;
  absl::Duration deadline_;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_GRPC_HEALTH_CLIENT_H_
