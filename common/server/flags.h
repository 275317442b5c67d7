#ifndef CS_COMMON_SERVER_FLAGS_H_
#define CS_COMMON_SERVER_FLAGS_H_

// The runtime flags every service binary shares. Each flag NAME can also be set by
// the environment variable CS_NAME (upper case): a flag on the command line wins
// over the environment, which wins over the default.

#include <string>

#include "absl/status/statusor.h"
#include "common/config.h"

namespace cs {

struct ServiceDefaults {
  std::string service_name;
  std::string listen;          // e.g. "127.0.0.1:50051"
  std::string metrics_listen;  // e.g. "127.0.0.1:9101"
  std::string schema;          // e.g. "cs_health"
};

// Applies CS_* environment overrides, parses the command line (exits on --help or a
// malformed flag), and returns the validated configuration.
absl::StatusOr<ServerConfig> LoadServerConfig(int argc, char** argv,
                                              const ServiceDefaults& defaults);

}  // namespace cs

#endif  // CS_COMMON_SERVER_FLAGS_H_
