#include "services/playbooks/proto_mapping.h"

#include "absl/strings/str_cat.h"
#include "common/server/proto_util.h"

namespace cs::playbooks {

namespace v1 = ::cs::playbooks::v1;

absl::StatusOr<EscalationChain> ChainFromProto(const v1::EscalationChain& p) {
  EscalationChain c;
  c.chain_id = p.chain_id();
  for (int i = 0; i < p.levels_size(); ++i) {
    const v1::EscalationLevel& level = p.levels(i);
    if (!v1::Role_IsValid(level.role())) {
      return absl::InvalidArgumentError(
          absl::StrCat("chain.levels[", i, "].role: unknown value ", level.role()));
    }
    c.levels.push_back({static_cast<Role>(level.role()), level.assignee_id()});
  }
  c.version = p.version();
  if (p.has_updated_at()) c.updated_at = FromTimestamp(p.updated_at());
  return c;
}

void ChainToProto(const EscalationChain& c, v1::EscalationChain* out) {
  out->set_chain_id(c.chain_id);
  for (const EscalationLevel& level : c.levels) {
    v1::EscalationLevel* l = out->add_levels();
    l->set_role(static_cast<v1::Role>(level.role));
    l->set_assignee_id(level.assignee_id);
  }
  out->set_version(c.version);
  ToTimestamp(c.updated_at, out->mutable_updated_at());
}

}  // namespace cs::playbooks
