#ifndef CS_CLIENT_CLIENT_H_
#define CS_CLIENT_CLIENT_H_

// The suite's C++ client library: one ServiceClient per service over the generated
// stubs, with a deadline on every call, retries of UNAVAILABLE (exponential backoff
// with jitter, done by gRPC's retry policy in the channel's service config), an
// optional bearer token and TLS, and page iterators that hide page tokens.
//
//   cs::client::ClientOptions options{.target = "127.0.0.1:50051"};
//   auto health = cs::client::HealthClient::Create(options);
//   cs::health::v1::ListAccountsRequest request;
//   request.set_tier(cs::health::v1::TIER_ENTERPRISE);
//   for (auto pager = health->Paged(&Stub::ListAccounts, request,
//                                   &cs::health::v1::ListAccountsResponse::accounts);;) {
//     absl::StatusOr<std::optional<cs::health::v1::Account>> next = pager.Next();
//     if (!next.ok() || !next->has_value()) break;
//     ...
//   }

#include <grpcpp/grpcpp.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/server/peer_channel.h"
#include "google/protobuf/repeated_field.h"

namespace cs::client {

struct ClientOptions {
  // host:port of one service (or of its Kubernetes Service / load balancer).
  std::string target;
  // Sent as "authorization: Bearer <token>" on every call when not empty.
  std::string bearer_token;
  // TLS: on when `tls` is set; the CA file verifies the server, the certificate and
  // key (both or neither) authenticate this client for mutual TLS.
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Overrides the name checked against the server's certificate.
  std::string tls_server_name;
  // Deadline of each call (each retry attempt shares it).
  absl::Duration deadline = absl::Seconds(10);
  PeerChannelOptions retry;
};

// Checks the options (naming the field) and builds the channel.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ClientOptions& options);

// A gRPC status as an absl::Status with the same code and message.
absl::Status FromGrpc(const grpc::Status& status);

// Iterates the items of a paged list RPC, fetching the next page when the current
// one is used up. Next() answers nullopt after the last item.
template <typename Item>
class Pager {
 public:
  // Fetches the page after `token` ("" for the first) into items and next_token.
  using FetchFn = std::function<absl::Status(const std::string& token, std::deque<Item>* items,
                                             std::string* next_token)>;
  explicit Pager(FetchFn fetch) : fetch_(std::move(fetch)) {}

  absl::StatusOr<std::optional<Item>> Next() {
    while (buffer_.empty()) {
      if (done_) return std::optional<Item>();
      std::string next;
      if (absl::Status s = fetch_(token_, &buffer_, &next); !s.ok()) return s;
      token_ = std::move(next);
      done_ = token_.empty();
    }
    Item item = std::move(buffer_.front());
    buffer_.pop_front();
    return std::optional<Item>(std::move(item));
  }

 private:
  FetchFn fetch_;
  std::deque<Item> buffer_;
  std::string token_;
  bool done_ = false;
};

template <typename Service>
class ServiceClient {
 public:
  using Stub = typename Service::Stub;

  static absl::StatusOr<std::unique_ptr<ServiceClient>> Create(const ClientOptions& options) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options);
    if (!channel.ok()) return channel.status();
    return std::unique_ptr<ServiceClient>(new ServiceClient(options, *std::move(channel)));
  }

  // A context with the deadline and the token; for streaming calls made on stub().
  std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration deadline) const {
    std::unique_ptr<grpc::ClientContext> context = ContextWithDeadline(deadline);
    if (!options_.bearer_token.empty()) {
      context->AddMetadata("authorization", "Bearer " + options_.bearer_token);
    }
    return context;
  }
  std::unique_ptr<grpc::ClientContext> NewContext() const { return NewContext(options_.deadline); }

  // One unary call: client->Call(&Stub::GetHealth, request).
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                             Response*),
                                const Request& request) {
    Response response;
    std::unique_ptr<grpc::ClientContext> context = NewContext();
    grpc::Status status = (stub_.get()->*method)(context.get(), request, &response);
    if (!status.ok()) return FromGrpc(status);
    return response;
  }

  // Every item of a list RPC whose request has a `page` (cs.common.v1.PageRequest)
  // and whose response has a `page` (cs.common.v1.PageResponse).
  template <typename Request, typename Response, typename Item>
  Pager<Item> Paged(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    Request request,
                    const google::protobuf::RepeatedPtrField<Item>& (Response::*items)() const) {
    return Pager<Item>([this, method, request, items](const std::string& token,
                                                      std::deque<Item>* out,
                                                      std::string* next) mutable -> absl::Status {
      request.mutable_page()->set_page_token(token);
      absl::StatusOr<Response> response = Call(method, request);
      if (!response.ok()) return response.status();
      for (const Item& item : ((*response).*items)()) out->push_back(item);
      *next = response->page().next_page_token();
      return absl::OkStatus();
    });
  }

  Stub& stub() { return *stub_; }
  const ClientOptions& options() const { return options_; }

 private:
  ServiceClient(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)), channel_(std::move(channel)),
        stub_(Service::NewStub(channel_)) {}

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
};

}  // namespace cs::client

#endif  // CS_CLIENT_CLIENT_H_
