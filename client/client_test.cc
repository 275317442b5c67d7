// The client library against an in-process server: paging, bearer tokens,
// deadlines, retries and status mapping.
#include "client/client.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"

namespace cs::client {
namespace {

namespace v1 = ::cs::health::v1;
using HealthClient = ServiceClient<v1::AccountHealthService>;

// Serves ListAccounts over 7 accounts in pages of the requested size (the token is
// the next index) and GetAccount, recording the authorization header it saw.
class FakeHealth final : public v1::AccountHealthService::Service {
 public:
  grpc::Status ListAccounts(grpc::ServerContext*, const v1::ListAccountsRequest* request,
                            v1::ListAccountsResponse* response) override {
    ++list_calls;
    const int size = request->page().page_size() > 0 ? request->page().page_size() : 50;
    const int start =
        request->page().page_token().empty() ? 0 : std::stoi(request->page().page_token());
    for (int i = start; i < std::min(kAccounts, start + size); ++i) {
      v1::Account* a = response->add_accounts();
      a->set_account_id(absl::StrCat("acct-", i));
      a->set_tier(request->tier());
    }
    if (start + size < kAccounts) response->mutable_page()->set_next_page_token(std::to_string(start + size));
    return grpc::Status::OK;
  }
  grpc::Status GetAccount(grpc::ServerContext* context, const v1::GetAccountRequest* request,
                          v1::GetAccountResponse* response) override {
    auto it = context->client_metadata().find("authorization");
    authorization = it == context->client_metadata().end()
                        ? ""
                        : std::string(it->second.data(), it->second.size());
    if (unavailable_left.fetch_sub(1) > 0) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down");
    if (request->account_id() == "slow") {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    if (request->account_id() == "missing") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "account_id: no account \"missing\"");
    }
    response->mutable_account()->set_account_id(request->account_id());
    return grpc::Status::OK;
  }

  static constexpr int kAccounts = 7;
  std::atomic<int> list_calls{0};
  std::atomic<int> unavailable_left{0};
  std::string authorization;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }

  std::unique_ptr<HealthClient> Client(ClientOptions options = {}) {
    options.target = absl::StrCat("127.0.0.1:", port_);
    options.retry.initial_backoff = absl::Milliseconds(5);
    auto client = HealthClient::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }

  FakeHealth fake_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ClientTest, PagerWalksEveryPageOnceAndKeepsTheFilter) {
  auto client = Client();
  v1::ListAccountsRequest request;
  request.set_tier(v1::TIER_SMB);
  request.mutable_page()->set_page_size(3);
  Pager<v1::Account> pager =
      client->Paged(&HealthClient::Stub::ListAccounts, request, &v1::ListAccountsResponse::accounts);
  std::vector<std::string> ids;
  for (;;) {
    absl::StatusOr<std::optional<v1::Account>> next = pager.Next();
    ASSERT_TRUE(next.ok()) << next.status();
    if (!next->has_value()) break;
    EXPECT_EQ((*next)->tier(), v1::TIER_SMB);
    ids.push_back((*next)->account_id());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"acct-0", "acct-1", "acct-2", "acct-3", "acct-4",
                                           "acct-5", "acct-6"}));
  EXPECT_EQ(fake_.list_calls.load(), 3);
  // Past the end it stays at the end without another call.
  ASSERT_TRUE(pager.Next().ok());
  EXPECT_EQ(fake_.list_calls.load(), 3);
}

TEST_F(ClientTest, SendsTheBearerTokenOnEveryCall) {
  ClientOptions options;
  options.bearer_token = "s3cret";
  auto client = Client(options);
  v1::GetAccountRequest request;
  request.set_account_id("a");
  ASSERT_TRUE(client->Call(&HealthClient::Stub::GetAccount, request).ok());
  EXPECT_EQ(fake_.authorization, "Bearer s3cret");
}

TEST_F(ClientTest, RetriesUnavailableAndKeepsOtherCodes) {
  auto client = Client();
  fake_.unavailable_left = 2;
  v1::GetAccountRequest request;
  request.set_account_id("a");
  absl::StatusOr<v1::GetAccountResponse> ok = client->Call(&HealthClient::Stub::GetAccount, request);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->account().account_id(), "a");
  request.set_account_id("missing");
  absl::StatusOr<v1::GetAccountResponse> missing =
      client->Call(&HealthClient::Stub::GetAccount, request);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "account_id: no account \"missing\"");
}

TEST_F(ClientTest, EveryCallHasADeadline) {
  ClientOptions options;
  options.deadline = absl::Milliseconds(100);
  auto client = Client(options);
  v1::GetAccountRequest request;
  request.set_account_id("slow");
  EXPECT_EQ(client->Call(&HealthClient::Stub::GetAccount, request).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(ClientOptionsTest, BadOptionsNameTheField) {
  EXPECT_EQ(MakeChannel({}).status().message(), "target: must be host:port");
  ClientOptions half_tls;
  half_tls.target = "x:1";
  half_tls.tls = true;
  half_tls.cert_file = "/tmp/c.pem";
  EXPECT_EQ(MakeChannel(half_tls).status().message(),
            "cert_file, key_file: give both for mutual TLS, or neither");
  ClientOptions missing_ca;
  missing_ca.target = "x:1";
  missing_ca.tls = true;
  missing_ca.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(MakeChannel(missing_ca).status().message(), "ca_file: cannot read /nonexistent/ca.pem");
  ClientOptions bad_token;
  bad_token.target = "x:1";
  bad_token.bearer_token = "a\nb";
  EXPECT_EQ(MakeChannel(bad_token).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cs::client
