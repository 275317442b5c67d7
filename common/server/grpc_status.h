#ifndef CS_COMMON_SERVER_GRPC_STATUS_H_
#define CS_COMMON_SERVER_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace cs {

// The one bridge from absl::Status to grpc::Status. Codes carry over one to one;
// INTERNAL, UNKNOWN and DATA_LOSS lose their message (it was logged where the error
// was mapped), so no SQL text or internal detail reaches a client.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace cs

#endif  // CS_COMMON_SERVER_GRPC_STATUS_H_
