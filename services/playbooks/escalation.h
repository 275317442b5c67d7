#ifndef CS_SERVICES_PLAYBOOKS_ESCALATION_H_
#define CS_SERVICES_PLAYBOOKS_ESCALATION_H_

// Escalation chains: who a task climbs to when it misses its SLA (DOMAIN §3:
// CSM -> CS manager -> director -> VP of customer success).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cs::playbooks {

// Values match cs.playbooks.v1.Role.
enum class Role {
  kUnspecified = 0,
  kCsm = 1,
  kCsManager = 2,
  kDirector = 3,
  kVpCustomerSuccess = 4,
  kRetentionSpecialist = 5,
  kAutomated = 6,
};

struct EscalationLevel {
  Role role = Role::kUnspecified;
  std::string assignee_id;
  bool operator==(const EscalationLevel&) const = default;
};

struct EscalationChain {
  std::string chain_id;
  std::vector<EscalationLevel> levels;
  int64_t version = 0;
  absl::Time updated_at;
};

inline constexpr int kMaxEscalationLevels = 10;

absl::string_view RoleName(Role role);
std::optional<Role> RoleFromName(absl::string_view name);

// Errors name the field ("chain.levels[2].role").
absl::Status ValidateEscalationChain(const EscalationChain& chain);

// The default chain of DOMAIN §3, seeded as chain "default".
EscalationChain DefaultEscalationChain();

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_ESCALATION_H_
