#include "common/server/proto_util.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/hash.h"

namespace cs {

db::WriteKey WriteKeyOf(absl::string_view method, const google::protobuf::Message& request,
                        const std::string& request_id) {
  // The request as serialized with its request_id cleared, without copying it (a
  // batch of 500 signals is a deep copy): deterministic serialization writes the
  // top-level fields in field-number order, so dropping request_id's record from
  // the serialized request leaves what the cleared copy would serialize to.
  std::string full;
  {
    google::protobuf::io::StringOutputStream out(&full);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  const auto* field = request.GetDescriptor()->FindFieldByName("request_id");
  if (field == nullptr ||
      field->type() != google::protobuf::FieldDescriptor::TYPE_STRING) {
    return db::WriteKey{std::string(method), request_id, Fingerprint64Hex(full)};
  }
  std::string bytes;
  bytes.reserve(full.size());
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(full.data()),
                                            static_cast<int>(full.size()));
  while (true) {
    const int start = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) {
      // Not expected of a serialized message; the slow way then.
      std::unique_ptr<google::protobuf::Message> copy(request.New());
      copy->CopyFrom(request);
      copy->GetReflection()->ClearField(copy.get(), field);
      bytes.clear();
      google::protobuf::io::StringOutputStream out(&bytes);
      google::protobuf::io::CodedOutputStream coded(&out);
      coded.SetSerializationDeterministic(true);
      copy->SerializeToCodedStream(&coded);
      break;
    }
    const int end = in.CurrentPosition();
    if (google::protobuf::internal::WireFormatLite::GetTagFieldNumber(tag) == field->number()) {
      continue;
    }
    bytes.append(full, static_cast<size_t>(start), static_cast<size_t>(end - start));
  }
  return db::WriteKey{std::string(method), request_id, Fingerprint64Hex(bytes)};
}

void ToTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t seconds = micros / 1000000;
  int64_t rem = micros % 1000000;
  if (rem < 0) {
    rem += 1000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rem * 1000));
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

}  // namespace cs
