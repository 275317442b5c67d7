#include "services/expansion/grpc_health_client.h"

namespace cs::expansion {

namespace hv1 = ::cs::health::v1;

GrpcHealthClient::GrpcHealthClient(const std::string& target, absl::Duration deadline,
                                   const PeerChannelOptions& options)
    : stub_(hv1::AccountHealthService::NewStub(MakePeerChannel(target, options))),
      deadline_(deadline) {}

absl::StatusOr<HealthBand> GrpcHealthClient::GetBand(const std::string& account_id) {
  hv1::GetHealthRequest request;
  request.set_account_id(account_id);
  hv1::GetHealthResponse response;
  std::unique_ptr<grpc::ClientContext> context = ContextWithDeadline(deadline_);
  const grpc::Status status = stub_->GetHealth(context.get(), request, &response);
  // Health answers NOT_FOUND for an account it does not know or has not scored: no
  // band to hold a move back on.
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return HealthBand::kNoScore;
  if (!status.ok()) return FromPeerStatus("health", status);
  switch (response.health().band()) {
    case hv1::BAND_GREEN:
      return HealthBand::kGreen;
    case hv1::BAND_YELLOW:
      return HealthBand::kYellow;
    case hv1::BAND_RED:
      return HealthBand::kRed;
    default:
      return HealthBand::kNoScore;
  }
}

}  // namespace cs::expansion
