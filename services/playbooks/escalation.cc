#include "services/playbooks/escalation.h"

#include "absl/strings/str_cat.h"
#include "common/enum_names.h"
#include "common/status.h"
#include "common/validation.h"

namespace cs::playbooks {
namespace {

constexpr EnumNames<Role, 7> kRoles({{
    {Role::kUnspecified, "UNSPECIFIED"},
    {Role::kCsm, "CSM"},
    {Role::kCsManager, "CS_MANAGER"},
    {Role::kDirector, "DIRECTOR"},
    {Role::kVpCustomerSuccess, "VP_CUSTOMER_SUCCESS"},
    {Role::kRetentionSpecialist, "RETENTION_SPECIALIST"},
    {Role::kAutomated, "AUTOMATED"},
}});

}  // namespace

absl::string_view RoleName(Role role) { return kRoles.Name(role); }

std::optional<Role> RoleFromName(absl::string_view name) { return kRoles.Parse(name); }

absl::Status ValidateEscalationChain(const EscalationChain& chain) {
  RETURN_IF_ERROR(ValidateId("chain.chain_id", chain.chain_id));
  if (chain.levels.empty()) {
    return absl::InvalidArgumentError("chain.levels: at least one level is required");
  }
  if (chain.levels.size() > kMaxEscalationLevels) {
    return absl::InvalidArgumentError(
        absl::StrCat("chain.levels: at most ", kMaxEscalationLevels, " levels"));
  }
  for (size_t i = 0; i < chain.levels.size(); ++i) {
    const EscalationLevel& level = chain.levels[i];
    const std::string field = absl::StrCat("chain.levels[", i, "]");
    if (level.role == Role::kUnspecified) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".role: must be set"));
    }
    RETURN_IF_ERROR(ValidateId(absl::StrCat(field, ".assignee_id"), level.assignee_id,
                               /*required=*/false));
  }
  return absl::OkStatus();
}

EscalationChain DefaultEscalationChain() {
  EscalationChain chain;
  chain.chain_id = "default";
  chain.levels = {{Role::kCsm, ""},
                  {Role::kCsManager, ""},
                  {Role::kDirector, ""},
                  {Role::kVpCustomerSuccess, ""}};
  return chain;
}

}  // namespace cs::playbooks
