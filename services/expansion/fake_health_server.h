#ifndef CS_SERVICES_EXPANSION_FAKE_HEALTH_SERVER_H_
#define CS_SERVICES_EXPANSION_FAKE_HEALTH_SERVER_H_

// Test only: an in-process gRPC server that answers cs.health.v1 GetHealth from a
// table of bands, so expansion's guard is tested through the real client, channel
// and deadline. Accounts not in the table get NOT_FOUND, as from health itself.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "cs/health/v1/health.grpc.pb.h"

namespace cs::expansion::testing {

class FakeHealthServer final : public cs::health::v1::AccountHealthService::Service {
 public:
  FakeHealthServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FakeHealthServer() override { Stop(); }

  void Stop() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int calls() const { return calls_.load(); }

  void SetBand(const std::string& account_id, cs::health::v1::Band band) {
    std::lock_guard<std::mutex> lock(mu_);
    bands_[account_id] = band;
  }

  grpc::Status GetHealth(grpc::ServerContext*, const cs::health::v1::GetHealthRequest* request,
                         cs::health::v1::GetHealthResponse* response) override {
    ++calls_;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = bands_.find(request->account_id());
    if (it == bands_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no score");
    response->mutable_health()->set_account_id(request->account_id());
    response->mutable_health()->set_band(it->second);
    return grpc::Status::OK;
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  std::map<std::string, cs::health::v1::Band> bands_;
  std::atomic<int> calls_{0};
};

}  // namespace cs::expansion::testing

#endif  // CS_SERVICES_EXPANSION_FAKE_HEALTH_SERVER_H_
