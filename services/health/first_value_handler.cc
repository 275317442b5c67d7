// The AccountHealthService methods of time to first value: thin, like the rest
// of grpc_handler.cc.
#include "common/server/grpc_status.h"
#include "common/server/proto_util.h"
#include "services/health/first_value_mapping.h"
#include "services/health/grpc_handler.h"

namespace cs::health {

namespace {

db::ResultCodec<FirstValueDefinition> DefinitionCodec() {
  return ProtoCodec<FirstValueDefinition, v1::FirstValueDefinition>(
      FirstValueDefinitionToProto,
      [](const v1::FirstValueDefinition& p) { return FirstValueDefinitionFromProto(p); });
}

grpc::Status NotAttached() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "first value is not served here");
}

}  // namespace

grpc::Status AccountHealthHandler::GetFirstValueDefinitions(
    grpc::ServerContext*, const v1::GetFirstValueDefinitionsRequest*,
    v1::GetFirstValueDefinitionsResponse* response) {
  if (first_value_ == nullptr) return NotAttached();
  absl::StatusOr<std::vector<FirstValueDefinition>> definitions = first_value_->GetDefinitions();
  if (!definitions.ok()) return ToGrpcStatus(definitions.status());
  for (const FirstValueDefinition& d : *definitions) {
    FirstValueDefinitionToProto(d, response->add_definitions());
  }
  return grpc::Status::OK;
}

grpc::Status AccountHealthHandler::SetFirstValueDefinition(
    grpc::ServerContext*, const v1::SetFirstValueDefinitionRequest* request,
    v1::SetFirstValueDefinitionResponse* response) {
  if (first_value_ == nullptr) return NotAttached();
  absl::StatusOr<FirstValueDefinition> definition =
      FirstValueDefinitionFromProto(request->definition());
  if (!definition.ok()) return ToGrpcStatus(definition.status());
  static const db::ResultCodec<FirstValueDefinition> codec = DefinitionCodec();
  absl::StatusOr<FirstValueDefinition> stored = first_value_->SetDefinition(
      WriteKeyOf("SetFirstValueDefinition", *request, request->request_id()), codec, *definition);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  FirstValueDefinitionToProto(*stored, response->mutable_definition());
  return grpc::Status::OK;
}

}  // namespace cs::health
