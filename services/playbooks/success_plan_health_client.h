#ifndef CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_HEALTH_CLIENT_H_
#define CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_HEALTH_CLIENT_H_

// The gRPC side of HealthReader: health's GetHealth over a peer channel (retries
// of UNAVAILABLE with backoff, a deadline on every call).

#include <memory>
#include <string>

#include "common/server/peer_channel.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "services/playbooks/success_plan_service.h"

namespace cs::playbooks {

// Components by name without their prefix, normalised; measures by name, raw.
// Components health had no data for are left out, so a criterion on them waits.
HealthReading HealthReadingFromProto(const cs::health::v1::Health& h);

class GrpcHealthReader final : public HealthReader {
 public:
  struct Options {
    absl::Duration call_timeout = absl::Seconds(5);
    PeerChannelOptions channel;
  };
  GrpcHealthReader(const std::string& target, Options options);

  absl::StatusOr<HealthReading> ReadHealth(const std::string& account_id) override;

 private:
  std::unique_ptr<cs::health::v1::AccountHealthService::Stub> stub_;
  Options options_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_HEALTH_CLIENT_H_
