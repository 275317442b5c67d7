#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/db/migrations.h"

namespace cs::db {
namespace {

using ::testing::ElementsAre;

TEST(SplitSqlStatementsTest, SplitsOnSemicolonsOutsideQuotesAndComments) {
  const char* script =
      "-- a comment; with a semicolon\n"
      "CREATE TABLE a (x VARCHAR(8) DEFAULT 'a;b');\n"
      "/* block; comment */ INSERT INTO a VALUES (\"it''s; ok\");\n"
      "  \n;\n"
      "UPDATE a SET x = 'q\\';'";
  EXPECT_THAT(SplitSqlStatements(script),
              ElementsAre("CREATE TABLE a (x VARCHAR(8) DEFAULT 'a;b')",
                          "INSERT INTO a VALUES (\"it''s; ok\")",
                          "UPDATE a SET x = 'q\\';'"));
}

}  // namespace
}  // namespace cs::db
