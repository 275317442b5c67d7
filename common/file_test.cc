#include "common/file.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace cs {
namespace {

TEST(ReadWholeFileTest, ReadsEveryByteOfTheFile) {
  const std::string path = ::testing::TempDir() + "/read-whole-file-" + std::to_string(getpid());
  const std::string bytes("line one\nline two\0with a NUL\r\n", 30);
  {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
  }
  EXPECT_EQ(ReadWholeFile(path), bytes);
  std::remove(path.c_str());
  EXPECT_EQ(ReadWholeFile(path), std::nullopt) << "a missing file is not an empty one";
}

}  // namespace
}  // namespace cs
