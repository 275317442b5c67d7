// The YAML -> proto step of configuration as code, without any service.
#include "tools/csctl/config.h"

#include "cs/health/v1/health.pb.h"
#include "cs/playbooks/v1/playbooks.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cs::csctl {
namespace {

using ::testing::HasSubstr;

constexpr char kTwoDocuments[] = R"(# rules of the enterprise team
kind: EscalationChain
chain_id: enterprise
levels:
  - role: ROLE_CSM
  - role: ROLE_CS_MANAGER
    assignee_id: mgr-7
---
kind: Playbook
playbook_id: red-recovery
name: "Red: recovery call"
trigger:
  kind: TRIGGER_KIND_BAND_ENTERED
  band: BAND_RED
tiers: [TIER_ENTERPRISE]
steps:
  - title: Call the sponsor
    kind: STEP_KIND_CALL
    due_offset: 86400s
    role: ROLE_CSM
    sla: 43200s
exit_criteria:
  green_days: 14
  fail_on_churn: true
holdout_percent: 10
escalation_chain_id: enterprise
)";

TEST(ParseConfigTest, DocumentsBecomeTypedMessages) {
  absl::StatusOr<std::vector<ConfigObject>> objects = ParseConfig("rules.yaml", kTwoDocuments);
  ASSERT_TRUE(objects.ok()) << objects.status();
  ASSERT_EQ(objects->size(), 2u);
  EXPECT_EQ((*objects)[0].kind, ConfigKind::kEscalationChain);
  EXPECT_EQ((*objects)[0].name, "enterprise");
  EXPECT_EQ((*objects)[0].line, 2);
  const auto& chain = static_cast<const playbooks::v1::EscalationChain&>(*(*objects)[0].message);
  ASSERT_EQ(chain.levels_size(), 2);
  EXPECT_EQ(chain.levels(1).assignee_id(), "mgr-7");

  EXPECT_EQ((*objects)[1].line, 9);
  const auto& p = static_cast<const playbooks::v1::Playbook&>(*(*objects)[1].message);
  EXPECT_EQ(p.name(), "Red: recovery call");
  EXPECT_EQ(p.trigger().band(), playbooks::v1::BAND_RED);
  ASSERT_EQ(p.tiers_size(), 1);
  EXPECT_EQ(p.steps(0).due_offset().seconds(), 86400);
  EXPECT_TRUE(p.exit_criteria().fail_on_churn());
  EXPECT_EQ(p.exit_criteria().green_days(), 14);
  EXPECT_EQ(p.holdout_percent(), 10);
}

TEST(ParseConfigTest, ExportReadsBackAsTheSameObject) {
  health::v1::Scorecard s;
  s.set_scorecard_id("smb");
  s.set_description("weights: usage first");
  s.mutable_bands()->set_green_above(70.25);
  s.mutable_bands()->set_red_below(0.1 + 0.2);  // needs 17 digits to read back
  auto* c = s.add_components();
  c->set_component(health::v1::COMPONENT_PRODUCT_USAGE);
  c->set_weight(40);
  c->mutable_measure()->set_measure("active_users");
  c->mutable_measure()->set_lookback_days(30);
  s.add_tiers(health::v1::TIER_SMB);
  s.set_version(3);
  const std::string yaml = ExportYaml(ConfigKind::kScorecard, s);
  EXPECT_THAT(yaml, HasSubstr("kind: Scorecard\n"));
  EXPECT_THAT(yaml, ::testing::Not(HasSubstr("version")));
  absl::StatusOr<std::vector<ConfigObject>> back = ParseConfig("x.yaml", yaml);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  ASSERT_EQ(back->size(), 1u);
  Normalize(ConfigKind::kScorecard, &s);
  EXPECT_EQ(DiffText(s, *(*back)[0].message), "") << yaml;
}

TEST(ParseConfigTest, EventMappingFieldsGoUnderSpec) {
  health::v1::EventMapping m;
  m.set_event_name("Report Exported");
  m.set_kind(health::v1::SIGNAL_KIND_FEATURE_USED);
  m.set_feature_property("report_type");
  const std::string yaml = ExportYaml(ConfigKind::kEventMapping, m);
  EXPECT_THAT(yaml, HasSubstr("kind: EventMapping\nspec:\n  event_name: Report Exported\n"));
  absl::StatusOr<std::vector<ConfigObject>> back = ParseConfig("m.yaml", yaml);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(DiffText(m, *(*back)[0].message), "");
}

TEST(ParseConfigTest, ExampleDirectoryParses) {
  absl::StatusOr<std::vector<ConfigObject>> objects = LoadConfig(CS_CSCTL_EXAMPLES);
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_EQ(objects->size(), 5u);
}

TEST(ParseConfigTest, DiffNamesTheChangedField) {
  playbooks::v1::EscalationChain a;
  a.set_chain_id("x");
  a.add_levels()->set_role(playbooks::v1::ROLE_CSM);
  playbooks::v1::EscalationChain b = a;
  b.mutable_levels(0)->set_assignee_id("csm-9");
  EXPECT_THAT(DiffText(a, b), HasSubstr("levels[0].assignee_id"));
}

TEST(ParseConfigTest, ErrorsNameFileAndLine) {
  auto error = [](const std::string& text) {
    absl::StatusOr<std::vector<ConfigObject>> r = ParseConfig("team/rules.yaml", text);
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  // YAML syntax: the reader's own line, counted across documents.
  EXPECT_THAT(error("kind: EscalationChain\nchain_id: a\n---\nkind: Playbook\n  bad: indent\n"),
              HasSubstr("team/rules.yaml: line 5:"));
  // A field the message does not have, by its path, at the document's first line.
  EXPECT_THAT(error("kind: EscalationChain\nchain_id: a\n---\n\nkind: Playbook\nplaybook_id: p\nstepz: []\n"),
              HasSubstr("team/rules.yaml: line 5: stepz: no such field in Playbook"));
  EXPECT_THAT(error("kind: Playbook\nplaybook_id: p\nexit_criteria:\n  fail_on_churn: maybe\n"),
              HasSubstr("exit_criteria.fail_on_churn: 'maybe' is not true or false"));
  EXPECT_THAT(error("kind: Playbook\nplaybook_id: p\nholdout_percent: ten\n"),
              HasSubstr("holdout_percent: 'ten' is not a number"));
  EXPECT_THAT(error("kind: Playbook\nplaybook_id: p\ntrigger:\n  kind: TRIGGER_KIND_SOMETIMES\n"),
              HasSubstr("team/rules.yaml: line 1:"));
  EXPECT_THAT(error("chain_id: a\n"), HasSubstr("line 1: kind: required"));
  EXPECT_THAT(error("kind: Widget\n"), HasSubstr("kind: 'Widget' must be"));
  EXPECT_THAT(error("kind: Playbook\nname: no id\n"), HasSubstr("playbook_id: required"));
  EXPECT_THAT(error("kind: EscalationChain\nchain_id: a\n---\nkind: EscalationChain\nchain_id: a\n"),
              HasSubstr("line 4: EscalationChain 'a' also defined at line 1"));
}

}  // namespace
}  // namespace cs::csctl
