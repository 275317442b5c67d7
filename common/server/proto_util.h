#ifndef CS_COMMON_SERVER_PROTO_UTIL_H_
#define CS_COMMON_SERVER_PROTO_UTIL_H_

// Helpers shared by the services' handler and mapping layers.

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/db/idempotency.h"

namespace cs {

// The write key of a request: `method`, its request_id field and a fingerprint of
// the request with request_id cleared (deterministic serialization).
db::WriteKey WriteKeyOf(absl::string_view method, const google::protobuf::Message& request,
                        const std::string& request_id);

// A codec that stores a result as the serialized response proto.
template <typename T, typename Proto, typename ToProto, typename FromProto>
db::ResultCodec<T> ProtoCodec(ToProto to_proto, FromProto from_proto) {
  db::ResultCodec<T> codec;
  codec.encode = [to_proto](const T& value) {
    Proto p;
    to_proto(value, &p);
    return p.SerializeAsString();
  };
  codec.decode = [from_proto](const std::string& bytes) -> absl::StatusOr<T> {
    Proto p;
    if (!p.ParseFromString(bytes)) return absl::InternalError("stored response is corrupt");
    return from_proto(p);
  };
  return codec;
}

void ToTimestamp(absl::Time t, google::protobuf::Timestamp* out);
absl::Time FromTimestamp(const google::protobuf::Timestamp& ts);

}  // namespace cs

#endif  // CS_COMMON_SERVER_PROTO_UTIL_H_
