#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/db/migrations.h"
#include "common/db/sql_values.h"

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

namespace cs::db {
namespace {

TEST(MultiRowTest, ChunksCoverEveryRowOnceInFixedSizes) {
  for (size_t n : {0u, 1u, 3u, 5u, 255u, 256u, 257u, 1000u}) {
    size_t next = 0;
    ForEachChunk(n, [&](size_t offset, size_t count) {
      EXPECT_EQ(offset, next);
      EXPECT_TRUE(count == 256 || count == 64 || count == 16 || count == 4 || count == 1) << count;
      next += count;
    });
    EXPECT_EQ(next, n);
  }
}

TEST(MultiRowTest, BinaryChunksTakeOneStatementPerSetBit) {
  for (size_t n : {0u, 1u, 3u, 190u, 255u, 256u, 257u, 700u}) {
    size_t next = 0;
    int statements = 0;
    ForEachChunk(n, kBinaryRowChunks, [&](size_t offset, size_t count) {
      EXPECT_EQ(offset, next);
      EXPECT_TRUE(count <= 256 && (count & (count - 1)) == 0) << count;
      next += count;
      ++statements;
    });
    EXPECT_EQ(next, n);
    EXPECT_EQ(statements, static_cast<int>(n / 256) + __builtin_popcountll(n % 256)) << n;
  }
}

TEST(MultiRowTest, PlaceholdersForRowsAndColumns) {
  EXPECT_EQ(RowPlaceholders(1, 1), "(?)");
  EXPECT_EQ(RowPlaceholders(2, 3), "(?, ?, ?), (?, ?, ?)");
}

}  // namespace
}  // namespace cs::db
