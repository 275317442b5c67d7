#ifndef CS_SERVICES_EXPANSION_HEALTH_CLIENT_H_
#define CS_SERVICES_EXPANSION_HEALTH_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "services/expansion/opportunity.h"

namespace cs::expansion {

// What expansion asks the health service: the band of an account's "health" score.
// An interface so the domain code stays free of gRPC.
class HealthClient {
 public:
  virtual ~HealthClient() = default;
  // kNoScore when health has no score (or no account) for it; UNAVAILABLE when health
  // cannot be reached in time.
  virtual absl::StatusOr<HealthBand> GetBand(const std::string& account_id) = 0;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_HEALTH_CLIENT_H_
