#include "common/server/auth.h"

#include "gtest/gtest.h"

namespace cs {
namespace {

TEST(AuthTest, Sha256OfAKnownInput) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuthTest, TokenFileLinesBecomePrincipalsWithScopes) {
  const std::string hash = Sha256Hex("t1");
  absl::StatusOr<std::unordered_map<std::string, Principal>> tokens = ParseTokenFile(
      "# rotated 2026-11\n\nsha256:" + hash + "  crm-sync  health.write,expansion.read\n");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ASSERT_EQ(tokens->size(), 1u);
  EXPECT_EQ(tokens->at(hash).name, "crm-sync");
  EXPECT_EQ(tokens->at(hash).scopes, (std::set<std::string>{"health.write", "expansion.read"}));
}

TEST(AuthTest, MalformedTokenFilesNameTheLine) {
  EXPECT_EQ(ParseTokenFile("plain-token alice health.read").status().message(),
            "line 1: the token must be given as sha256: and 64 lower-case hex digits");
  EXPECT_EQ(ParseTokenFile("\nsha256:" + Sha256Hex("x") + " alice").status().message(),
            "line 2: expected 'sha256:HEX PRINCIPAL SCOPE[,SCOPE...] [rate=R[/B]]'");
  EXPECT_EQ(ParseTokenFile("sha256:" + Sha256Hex("x") + " a health.read fast").status().message(),
            "line 1: the fourth field must be rate=R[/B]");
  EXPECT_FALSE(ParseTokenFile("sha256:" + Sha256Hex("x") + " a health.read rate=-5").ok());
  const std::string line = "sha256:" + Sha256Hex("x") + " a health.read\n";
  EXPECT_EQ(ParseTokenFile(line + line).status().message(), "line 2: the same token is listed twice");
}

TEST(AuthTest, ATokenMayCarryItsOwnRateLimit) {
  absl::StatusOr<std::unordered_map<std::string, Principal>> tokens = ParseTokenFile(
      "sha256:" + Sha256Hex("x") + " crm-sync health.write rate=2000/5000\n" +
      "sha256:" + Sha256Hex("y") + " dashboards health.read\n");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  const Principal& crm = tokens->at(Sha256Hex("x"));
  ASSERT_TRUE(crm.rate_limit.has_value());
  EXPECT_EQ(crm.rate_limit->per_second, 2000);
  EXPECT_EQ(crm.rate_limit->burst, 5000);
  EXPECT_FALSE(tokens->at(Sha256Hex("y")).rate_limit.has_value());
}

TEST(AuthTest, OnlyAdministratorsReadTheAuditTrail) {
  EXPECT_EQ(RequiredScope("/cs.health.v1.AccountHealthService/ListAuditEvents", false), "health.admin");
  EXPECT_EQ(RequiredScope("/cs.expansion.v1.ExpansionService/ListAuditEvents", false),
            "expansion.admin");
}

TEST(AuthTest, ScopeFollowsTheServiceAndTheKindOfMethod) {
  EXPECT_EQ(RequiredScope("/cs.health.v1.AccountHealthService/GetHealth", false), "health.read");
  EXPECT_EQ(RequiredScope("/cs.health.v1.AccountHealthService/WatchEvents", false), "health.read");
  EXPECT_EQ(RequiredScope("/cs.health.v1.AccountHealthService/RecordSignals", false), "health.write");
  EXPECT_EQ(RequiredScope("/cs.health.v1.AccountHealthService/UpdateScorecard", false), "health.admin");
  EXPECT_EQ(RequiredScope("/cs.health.v1.AccountHealthService/SetAlertSettings", false), "health.admin");
  EXPECT_EQ(RequiredScope("/cs.playbooks.v1.PlaybookService/CreatePlaybook", false), "playbooks.admin");
  EXPECT_EQ(RequiredScope("/cs.playbooks.v1.PlaybookService/StartPlaybook", false), "playbooks.write");
  EXPECT_EQ(RequiredScope("/cs.expansion.v1.ExpansionService/AdvanceStage", false), "expansion.write");
  EXPECT_EQ(RequiredScope("/grpc.health.v1.Health/Check", false), "");
  EXPECT_EQ(RequiredScope("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", false),
            "reflection");
  EXPECT_EQ(RequiredScope("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", true), "");
  EXPECT_EQ(RequiredScope("/other.Service/Method", false), "*");
  EXPECT_EQ(RequiredScope("", false), "*");
}

TEST(AuthTest, AdminGrantsWriteGrantsReadNothingCrossesServices) {
  EXPECT_TRUE(Grants({"health.admin"}, "health.write"));
  EXPECT_TRUE(Grants({"health.write"}, "health.read"));
  EXPECT_FALSE(Grants({"health.read"}, "health.write"));
  EXPECT_FALSE(Grants({"health.write"}, "health.admin"));
  EXPECT_FALSE(Grants({"playbooks.admin"}, "health.read"));
  EXPECT_TRUE(Grants({"*"}, "expansion.admin"));
  EXPECT_FALSE(Grants({}, "reflection"));
  EXPECT_TRUE(Grants({}, ""));
}

}  // namespace
}  // namespace cs
