#include "services/playbooks/success_plan_health_client.h"

#include "services/playbooks/proto_mapping.h"

namespace cs::playbooks {

namespace hv1 = ::cs::health::v1;

HealthReading HealthReadingFromProto(const hv1::Health& h) {
  HealthReading r;
  r.has_score = true;
  r.score = h.score();
  for (const hv1::ComponentScore& c : h.components()) {
    if (c.missing()) continue;
    r.components[EnumSuffix(hv1::Component_Name(c.component()), "COMPONENT_")] = c.normalized();
    if (!c.measure().empty()) r.measures[c.measure()] = c.raw();
  }
  return r;
}

GrpcHealthReader::GrpcHealthReader(const std::string& target, Options options)
    : stub_(hv1::AccountHealthService::NewStub(MakePeerChannel(target, options.channel))),
      options_(options) {}

absl::StatusOr<HealthReading> GrpcHealthReader::ReadHealth(const std::string& account_id) {
  hv1::GetHealthRequest request;
  request.set_account_id(account_id);
  request.set_score_name("health");
  hv1::GetHealthResponse response;
  auto context = ContextWithDeadline(options_.call_timeout);
  absl::Status s = FromPeerStatus("health", stub_->GetHealth(context.get(), request, &response));
  if (!s.ok()) return s;
  return HealthReadingFromProto(response.health());
}

}  // namespace cs::playbooks
