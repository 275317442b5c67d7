#include "tools/crm-sync/parse.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cs::crm_sync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<CsvRecord> ReadAll(const std::string& text) {
  std::istringstream in(text);
  CsvReader reader(in);
  std::vector<CsvRecord> out;
  CsvRecord r;
  while (reader.Next(&r)) out.push_back(r);
  return out;
}

TEST(CsvReaderTest, QuotingEmbeddedCommasNewlinesCrlfAndBom) {
  const std::string text =
      "\xEF\xBB\xBFId,Name,Note\r\n"
      "1,\"Acme, Inc.\",\"said \"\"hi\"\"\"\r\n"
      "2,Globex,\"two\r\nlines\"\r\n"
      "\r\n"
      "3,,last";
  std::vector<CsvRecord> rows = ReadAll(text);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_THAT(rows[0].fields, ElementsAre("Id", "Name", "Note"));
  EXPECT_THAT(rows[1].fields, ElementsAre("1", "Acme, Inc.", "said \"hi\""));
  EXPECT_THAT(rows[2].fields, ElementsAre("2", "Globex", "two\r\nlines"));
  EXPECT_THAT(rows[3].fields, ElementsAre("3", "", "last"));
  // Line numbers count physical lines: the quoted newline moves row 3 to line 6.
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_EQ(rows[2].line, 3);
  EXPECT_EQ(rows[3].line, 6);
  EXPECT_EQ(rows[3].end_offset, static_cast<int64_t>(text.size()));
  for (const CsvRecord& r : rows) EXPECT_EQ(r.error, "");
}

TEST(CsvReaderTest, MalformedQuotesAreReportedOnTheirRecord) {
  std::vector<CsvRecord> rows = ReadAll("a,b\n1,x\"y\n2,\"ok\"junk\n3,\"never closed\n4,z\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_THAT(rows[1].error, HasSubstr("quote inside an unquoted field"));
  EXPECT_THAT(rows[2].error, HasSubstr("after a closing quote"));
  EXPECT_THAT(rows[3].error, HasSubstr("opened on line 4 is never closed"));
}

TEST(CsvReaderTest, ResumesFromAnOffsetWithTheRightLineNumbers) {
  const std::string text = "h1,h2\n1,a\n2,\"b\nb\"\n3,c\n";
  std::vector<CsvRecord> all = ReadAll(text);
  ASSERT_EQ(all.size(), 4u);
  std::istringstream in(text);
  in.seekg(all[2].end_offset);
  CsvReader reader(in, all[2].end_offset, all[2].next_line);
  CsvRecord r;
  ASSERT_TRUE(reader.Next(&r));
  EXPECT_THAT(r.fields, ElementsAre("3", "c"));
  EXPECT_EQ(r.line, 5);
  EXPECT_FALSE(reader.Next(&r));
}

TEST(Utf8Test, FindsInvalidSequences) {
  EXPECT_FALSE(InvalidUtf8At("Caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80").has_value());
  EXPECT_EQ(InvalidUtf8At("Caf\xE9"), 3u);           // Latin-1 é
  EXPECT_EQ(InvalidUtf8At("ab\xC0\xAF"), 2u);        // overlong '/'
  EXPECT_EQ(InvalidUtf8At("\xED\xA0\x80"), 0u);      // surrogate
  EXPECT_EQ(InvalidUtf8At("x\xE2\x82"), 1u);         // truncated
}

TEST(LineReaderTest, SkipsBlankLinesAndStripsCr) {
  std::istringstream in("{\"a\":1}\r\n\n  \n{\"b\":2}");
  LineReader reader(in);
  TextLine line;
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, "{\"a\":1}");
  EXPECT_EQ(line.line, 1);
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, "{\"b\":2}");
  EXPECT_EQ(line.line, 4);
  EXPECT_FALSE(reader.Next(&line));
}

TEST(JsonTest, ParsesObjectsAndRefusesBadInput) {
  absl::StatusOr<google::protobuf::Value> v =
      ParseJson(R"({"event":"Login","context":{"groupId":"acme"},"n":3})");
  ASSERT_TRUE(v.ok()) << v.status();
  const google::protobuf::Value* group = FindPath(*v, "context.groupId");
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(ScalarText(*group), "acme");
  EXPECT_EQ(ScalarText(*FindPath(*v, "n")), "3");
  EXPECT_EQ(FindPath(*v, "context.missing"), nullptr);
  EXPECT_FALSE(ParseJson("{\"a\": }").ok());
  EXPECT_THAT(std::string(ParseJson("{\"a\":\"\xFF\"}").status().message()), HasSubstr("UTF-8"));
}

TEST(YamlTest, MapsListsQuotesAndComments) {
  absl::StatusOr<google::protobuf::Value> v = ParseYaml(
      "# site mapping\n"
      "source: acme-sf\n"
      "columns:\n"
      "  account_id: Account ID   # their id column\n"
      "  name: \"Company: Name\"\n"
      "values:\n"
      "  industry:\n"
      "    'Hospital & Health Care': healthcare\n"
      "events:\n"
      "  - event: Report Shared\n"
      "    kind: feature_used\n"
      "  - event: Login\n"
      "    kind: login\n"
      "tags: [a, b]\n"
      "empty: {}\n");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(ScalarText(*FindPath(*v, "source")), "acme-sf");
  EXPECT_EQ(ScalarText(*FindPath(*v, "columns.account_id")), "Account ID");
  EXPECT_EQ(ScalarText(*FindPath(*v, "columns.name")), "Company: Name");
  const auto& industry = FindPath(*v, "values.industry")->struct_value().fields();
  EXPECT_EQ(industry.at("Hospital & Health Care").string_value(), "healthcare");
  const auto& events = FindPath(*v, "events")->list_value();
  ASSERT_EQ(events.values_size(), 2);
  EXPECT_EQ(events.values(1).struct_value().fields().at("kind").string_value(), "login");
  EXPECT_EQ(FindPath(*v, "tags")->list_value().values_size(), 2);
}

TEST(YamlTest, ErrorsNameTheLine) {
  EXPECT_THAT(std::string(ParseYaml("a: 1\n   b: 2\n").status().message()), HasSubstr("line 2"));
  EXPECT_THAT(std::string(ParseYaml("a: 1\na: 2\n").status().message()), HasSubstr("appears twice"));
  EXPECT_THAT(std::string(ParseYaml("a: \"open\n").status().message()), HasSubstr("line 1"));
  EXPECT_THAT(std::string(ParseYaml("just text\n").status().message()), HasSubstr("key: value"));
}

TEST(ValueParsingTest, NumbersMoneyAndDates) {
  EXPECT_EQ(*ParseWholeNumber(" 1,500 "), 1500);
  EXPECT_EQ(*ParseWholeNumber("1500.0"), 1500);
  EXPECT_FALSE(ParseWholeNumber("1,50").ok());
  EXPECT_FALSE(ParseWholeNumber("12a").ok());
  EXPECT_FALSE(ParseWholeNumber("1500.5").ok());
  EXPECT_EQ(*ParseMinorUnits("$1,234.5"), 123450);
  EXPECT_EQ(*ParseMinorUnits("(20.00)"), -2000);
  EXPECT_EQ(*ParseMinorUnits("99"), 9900);
  EXPECT_FALSE(ParseMinorUnits("1.234").ok());
  EXPECT_FALSE(ParseMinorUnits("ten").ok());
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::Time expected = absl::FromCivil(absl::CivilSecond(2026, 3, 1, 10, 0, 0), utc);
  EXPECT_EQ(*ParseTimestamp("2026-03-01T10:00:00Z"), expected);
  EXPECT_EQ(*ParseTimestamp("2026-03-01T12:00:00+02:00"), expected);
  EXPECT_EQ(*ParseTimestamp("2026-03-01 10:00:00"), expected);
  EXPECT_EQ(*ParseTimestamp("3/1/2026 10:00"), expected);
  EXPECT_EQ(*ParseTimestamp(absl::StrCat(absl::ToUnixSeconds(expected))), expected);
  EXPECT_EQ(*ParseDay("2026-03-01"), absl::CivilDay(2026, 3, 1));
  EXPECT_FALSE(ParseTimestamp("2026-13-01").ok());
  EXPECT_FALSE(ParseTimestamp("yesterday").ok());
}

TEST(CsvWriterTest, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(CsvLine({"a", "b,c", "say \"x\"", "two\nlines"}),
            "a,\"b,c\",\"say \"\"x\"\"\",\"two\nlines\"\r\n");
}

}  // namespace
}  // namespace cs::crm_sync
