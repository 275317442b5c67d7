#include "common/server/common_mapping.h"
#include "common/server/grpc_status.h"

#include <gtest/gtest.h>

namespace cs {
namespace {

TEST(ToGrpcStatusTest, KeepsCodeAndMessageOfClientErrors) {
  grpc::Status s = ToGrpcStatus(absl::InvalidArgumentError("account_id: must not be empty"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "account_id: must not be empty");
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::AbortedError("x")).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("x")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcStatus(absl::FailedPreconditionError("x")).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(ToGrpcStatusTest, HidesInternalDetail) {
  grpc::Status s = ToGrpcStatus(absl::InternalError("Table 'x.y' doesn't exist: SELECT * FROM y"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(s.error_message(), "internal error");
  EXPECT_EQ(ToGrpcStatus(absl::UnknownError("stack...")).error_message(), "internal error");
  EXPECT_EQ(ToGrpcStatus(absl::DataLossError("corrupt row 7")).error_message(), "internal error");
}

TEST(PageTokenTest, RoundTripsAnyKeyAndRefusesForgeries) {
  for (const char* key : {"", "acme", "001Dn00000Abc", "weird/+=key with spaces"}) {
    absl::StatusOr<std::string> back = DecodePageToken(EncodePageToken(key));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, key);
  }
  EXPECT_EQ(DecodePageToken("not base64 !").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("YWNtZQ").status().code(), absl::StatusCode::kInvalidArgument);  // "acme"
}

}  // namespace
}  // namespace cs
