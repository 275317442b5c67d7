#include "services/health/regulated_index.h"

#include <gtest/gtest.h>

namespace cs::health {
namespace {

TEST(RegulatedIndexTest, NothingIsKnownBeforeTheLoad) {
  RegulatedIndex index;
  EXPECT_FALSE(index.loaded());
  EXPECT_EQ(index.Get("a"), std::nullopt);
  index.Load({"a", "b"});
  EXPECT_TRUE(index.loaded());
  EXPECT_EQ(index.Get("a"), true);
  EXPECT_EQ(index.Get("c"), false);
  index.Unload();
  EXPECT_EQ(index.Get("a"), std::nullopt);
  EXPECT_EQ(index.size(), 0u);
}

TEST(RegulatedIndexTest, UpdatesSetAndClearTheAccountsReadAgain) {
  RegulatedIndex index;
  index.Load({"a", "b"});
  index.Update({"a", "c", "d"}, {"c"});
  EXPECT_EQ(index.Get("a"), false);
  EXPECT_EQ(index.Get("b"), true);  // not read again: unchanged
  EXPECT_EQ(index.Get("c"), true);
  EXPECT_EQ(index.Get("d"), false);
  EXPECT_EQ(index.size(), 2u);
}

// An account this replica wrote is asked of the store until a tail step that began
// after the write has ended: a step already running may have read the log before the
// write's event.
TEST(RegulatedIndexTest, AnOwnWriteIsTrustedOnlyAfterAStepThatBeganLater) {
  RegulatedIndex index;
  index.Load({"a"});
  const uint64_t running = index.BeginStep();
  index.Invalidate("a");
  EXPECT_EQ(index.Get("a"), std::nullopt);
  index.EndStep(running);
  EXPECT_EQ(index.Get("a"), std::nullopt);
  const uint64_t next = index.BeginStep();
  index.Update({"a"}, {});
  index.EndStep(next);
  EXPECT_EQ(index.Get("a"), false);

  // Written between two steps: the next step is enough.
  index.Invalidate("a");
  EXPECT_EQ(index.Get("a"), std::nullopt);
  const uint64_t after = index.BeginStep();
  index.EndStep(after);
  EXPECT_EQ(index.Get("a"), false);
}

}  // namespace
}  // namespace cs::health
