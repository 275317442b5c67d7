#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "services/playbooks/escalation.h"
#include "services/playbooks/proto_mapping.h"

namespace cs::playbooks {
namespace {

using ::cs::testing::StatusIs;
using ::testing::HasSubstr;

TEST(EscalationChainTest, DefaultClimbsFromCsmToVp) {
  const EscalationChain chain = DefaultEscalationChain();
  EXPECT_OK(ValidateEscalationChain(chain));
  ASSERT_EQ(chain.levels.size(), 4u);
  EXPECT_EQ(chain.levels.front().role, Role::kCsm);
  EXPECT_EQ(chain.levels[1].role, Role::kCsManager);
  EXPECT_EQ(chain.levels[2].role, Role::kDirector);
  EXPECT_EQ(chain.levels.back().role, Role::kVpCustomerSuccess);
}

TEST(EscalationChainTest, ValidationNamesTheField) {
  EscalationChain chain = DefaultEscalationChain();
  chain.levels.clear();
  EXPECT_THAT(ValidateEscalationChain(chain),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chain.levels")));
  chain = DefaultEscalationChain();
  chain.levels[2].role = Role::kUnspecified;
  EXPECT_THAT(ValidateEscalationChain(chain),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chain.levels[2].role")));
  chain = DefaultEscalationChain();
  chain.levels.resize(kMaxEscalationLevels + 1, {Role::kDirector, "d"});
  EXPECT_THAT(ValidateEscalationChain(chain), StatusIs(absl::StatusCode::kInvalidArgument));
  chain = DefaultEscalationChain();
  chain.chain_id = "";
  EXPECT_THAT(ValidateEscalationChain(chain),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chain.chain_id")));
}

TEST(EscalationMappingTest, RefusesUnknownRoles) {
  cs::playbooks::v1::EscalationChain p;
  p.set_chain_id("c");
  p.add_levels()->set_role(cs::playbooks::v1::ROLE_CSM);
  p.add_levels()->set_role(static_cast<cs::playbooks::v1::Role>(99));
  EXPECT_THAT(ChainFromProto(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chain.levels[1].role")));
}

TEST(RoleNamesTest, RoundTrip) {
  for (Role r : {Role::kCsm, Role::kCsManager, Role::kDirector, Role::kVpCustomerSuccess,
                 Role::kRetentionSpecialist, Role::kAutomated}) {
    EXPECT_EQ(RoleFromName(RoleName(r)), r);
  }
  EXPECT_EQ(RoleFromName("INTERN"), std::nullopt);
}

}  // namespace
}  // namespace cs::playbooks
