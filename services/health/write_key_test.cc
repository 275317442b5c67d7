// The request fingerprint of a write (WriteKeyOf) is that of the request with its
// request_id cleared, so a retry matches the answer stored for it.

#include <gtest/gtest.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <memory>
#include <string>

#include "common/hash.h"
#include "common/server/proto_util.h"
#include "cs/health/v1/health.pb.h"

namespace cs::health {
namespace {

std::string ClearedFingerprint(const google::protobuf::Message& request) {
  std::unique_ptr<google::protobuf::Message> copy(request.New());
  copy->CopyFrom(request);
  copy->GetReflection()->ClearField(copy.get(),
                                    copy->GetDescriptor()->FindFieldByName("request_id"));
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    copy->SerializeToCodedStream(&coded);
  }
  return Fingerprint64Hex(bytes);
}

TEST(WriteKeyTest, TheFingerprintIsThatOfTheRequestWithoutItsId) {
  v1::RecordSignalsRequest request;
  request.set_request_id("retry-me");
  for (int i = 0; i < 3; ++i) {
    v1::Signal* s = request.add_signals();
    s->set_event_id("e" + std::to_string(i));
    s->set_account_id("a1");
    s->set_kind(v1::SIGNAL_KIND_FEATURE_USED);
    s->set_feature("report\tshare");
    s->mutable_occurred_at()->set_seconds(1'795'000'000 + i);
  }
  request.set_atomic(true);
  const db::WriteKey key = WriteKeyOf("RecordSignals", request, request.request_id());
  EXPECT_EQ(key.method, "RecordSignals");
  EXPECT_EQ(key.request_id, "retry-me");
  EXPECT_EQ(key.fingerprint, ClearedFingerprint(request));

  // The same request under another id has the same fingerprint; another request not.
  v1::RecordSignalsRequest other_id = request;
  other_id.set_request_id("another-id-that-is-longer-than-the-first");
  EXPECT_EQ(WriteKeyOf("RecordSignals", other_id, "x").fingerprint,
            key.fingerprint);
  v1::RecordSignalsRequest changed = request;
  changed.mutable_signals(1)->set_feature("report");
  EXPECT_NE(WriteKeyOf("RecordSignals", changed, "retry-me").fingerprint,
            key.fingerprint);

  // Without an id, and a message with no request_id field at all.
  request.clear_request_id();
  EXPECT_EQ(WriteKeyOf("RecordSignals", request, "").fingerprint,
            key.fingerprint);
  v1::Signal signal = request.signals(0);
  std::string bytes;
  signal.SerializeToString(&bytes);
  EXPECT_EQ(WriteKeyOf("X", signal, "").fingerprint, Fingerprint64Hex(bytes));
}

}  // namespace
}  // namespace cs::health
