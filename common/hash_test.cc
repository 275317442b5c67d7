#include "common/hash.h"

#include <gtest/gtest.h>

namespace cs {
namespace {

TEST(HashTest, MatchesPublishedFnv1aVectors) {
  // Reference values of 64-bit FNV-1a.
  EXPECT_EQ(Fingerprint64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fingerprint64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fingerprint64Hex("a"), "af63dc4c8601ec8c");
}

}  // namespace
}  // namespace cs
