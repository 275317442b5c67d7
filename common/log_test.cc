#include "common/log.h"

#include <gtest/gtest.h>

namespace cs::log {
namespace {

TEST(LogTest, EscapesJsonStrings) {
  std::string out;
  AppendJsonEscaped(&out, "a\"b\\c\nd\x01");
  EXPECT_EQ(out, "a\\\"b\\\\c\\nd\\u0001");
}

TEST(LogTest, WritesOneJsonObjectPerLine) {
  SetService("unit");
  ::testing::internal::CaptureStdout();
  Info("hello \"world\"", {{"count", 3}, {"ok", true}, {"who", "me"}});
  Debug("hidden at the default level");
  const std::string line = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_NE(line.find("\"level\":\"info\""), std::string::npos);
  EXPECT_NE(line.find("\"service\":\"unit\""), std::string::npos);
  EXPECT_NE(line.find("\"msg\":\"hello \\\"world\\\"\""), std::string::npos);
  EXPECT_NE(line.find("\"count\":3"), std::string::npos);
  EXPECT_NE(line.find("\"ok\":true"), std::string::npos);
  EXPECT_NE(line.find("\"who\":\"me\""), std::string::npos);
}

TEST(LogTest, ParsesLevels) {
  Level l;
  EXPECT_TRUE(ParseLevel("warn", &l));
  EXPECT_EQ(l, Level::kWarn);
  EXPECT_FALSE(ParseLevel("loud", &l));
}

}  // namespace
}  // namespace cs::log
