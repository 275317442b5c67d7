#include "tools/csctl/output.h"

#include <sstream>

#include "cs/health/v1/health.pb.h"
#include "gtest/gtest.h"

namespace cs::csctl {
namespace {

namespace v1 = ::cs::health::v1;

TEST(OutputTest, YamlOfNestedMessagesListsAndQuotedStrings) {
  v1::ListAccountsResponse r;
  v1::Account* a = r.add_accounts();
  a->set_account_id("acme");
  a->set_name("Acme: West");
  a->set_employee_count(1200);
  a->set_tier(v1::TIER_ENTERPRISE);
  a->mutable_arr()->set_minor_units(5000);
  a->mutable_arr()->set_currency_code("USD");
  r.add_accounts()->set_account_id("0042");
  EXPECT_EQ(ToYaml(r),
            "accounts:\n"
            "  - account_id: acme\n"
            "    arr:\n"
            "      currency_code: USD\n"
            "      minor_units: \"5000\"\n"
            "    employee_count: 1200\n"
            "    name: \"Acme: West\"\n"
            "    tier: TIER_ENTERPRISE\n"
            "  - account_id: \"0042\"\n");
}

TEST(OutputTest, EmptyMessageIsAnEmptyMapInYamlAndJson) {
  EXPECT_EQ(ToYaml(v1::ListAccountsResponse()), "{}\n");
  EXPECT_EQ(ToJson(v1::ListAccountsResponse()), "{}\n");
}

TEST(OutputTest, JsonKeepsProtoFieldNames) {
  v1::Account a;
  a.set_account_id("acme");
  EXPECT_NE(ToJson(a).find("\"account_id\": \"acme\""), std::string::npos);
}

TEST(OutputTest, TableAlignsColumns) {
  Table t({"ID", "TIER"});
  t.AddRow({"a-long-id", "smb"});
  t.AddRow({"b", "enterprise"});
  std::ostringstream out;
  t.Print(out);
  EXPECT_EQ(out.str(),
            "ID         TIER\n"
            "a-long-id  smb\n"
            "b          enterprise\n");
}

TEST(OutputTest, FormatNamesAreChecked) {
  EXPECT_EQ(*ParseFormat("yaml"), Format::kYaml);
  EXPECT_EQ(ParseFormat("xml").status().message(), "-o: must be table, json or yaml, not 'xml'");
}

}  // namespace
}  // namespace cs::csctl
