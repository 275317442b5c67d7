#ifndef CS_TOOLS_CSCTL_CONFIG_H_
#define CS_TOOLS_CSCTL_CONFIG_H_

// Configuration as code: the scorecards, event mappings, playbooks and escalation
// chains a team keeps in YAML files. Each YAML document is one object: a `kind:`
// and the proto message's fields in proto field names. Documents are separated by
// "---" lines; a directory holds *.yaml / *.yml files, read in name order.
//
//   kind: EscalationChain
//   chain_id: enterprise
//   levels:
//     - role: ROLE_CSM
//     - role: ROLE_CS_MANAGER
//       assignee_id: mgr-7
//
// A message with a `kind` field of its own (EventMapping) puts its fields under
// `spec:` instead:
//
//   kind: EventMapping
//   spec:
//     event_name: Report Exported
//     kind: SIGNAL_KIND_FEATURE_USED

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace cs::csctl {

enum class ConfigKind { kEscalationChain, kPlaybook, kScorecard, kEventMapping };

struct ConfigObject {
  ConfigKind kind;
  std::string file;
  int line = 0;  // where the document starts
  std::string name;  // the object's id (chain_id, playbook_id, scorecard_id, event_name)
  std::unique_ptr<google::protobuf::Message> message;
};

// "EscalationChain", "Playbook", ...
std::string KindName(ConfigKind kind);
// The id field's value of a message of that kind.
std::string ObjectName(ConfigKind kind, const google::protobuf::Message& message);

// The objects of one YAML text; errors read "FILE: line N: why".
absl::StatusOr<std::vector<ConfigObject>> ParseConfig(absl::string_view file, absl::string_view text);
// The objects of a file, or of every *.yaml / *.yml file in a directory (sorted).
absl::StatusOr<std::vector<ConfigObject>> LoadConfig(const std::string& path);

// Clears what the service sets (version, updated_at) and fills the defaults the
// service would, so stored and desired objects compare field by field.
void Normalize(ConfigKind kind, google::protobuf::Message* message);

// Differences from `current` to `desired` as "field: old -> new" lines; empty when equal.
std::string DiffText(const google::protobuf::Message& current, const google::protobuf::Message& desired);

// One YAML document: "kind: ..." then the normalized message's fields.
std::string ExportYaml(ConfigKind kind, const google::protobuf::Message& message);

}  // namespace cs::csctl

#endif  // CS_TOOLS_CSCTL_CONFIG_H_
