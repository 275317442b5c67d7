#include "services/health/signal_key_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace cs::health {
namespace {

SignalKeyCache::Key K(const std::string& account) {
  return {account, absl::CivilMonth(2026, 11)};
}

std::shared_ptr<SignalKeyCache::Entry> Entry(uint32_t log_rows, int keys) {
  auto e = std::make_shared<SignalKeyCache::Entry>();
  e->log_rows = log_rows;
  for (int i = 0; i < keys; ++i) e->Add("event-" + std::to_string(i) + "-of-a-longer-id");
  return e;
}

TEST(SignalKeyCacheTest, AddCountsEachKeyOnce) {
  SignalKeyCache::Entry e;
  EXPECT_TRUE(e.Add("a"));
  const size_t one = e.bytes;
  EXPECT_GT(one, 0u);
  EXPECT_FALSE(e.Add("a"));
  EXPECT_EQ(e.bytes, one);
  EXPECT_TRUE(e.Add("an-id-longer-than-fifteen"));
  EXPECT_GT(e.bytes - one, one);  // its text is on the heap as well
}

TEST(SignalKeyCacheTest, TheLeastRecentlyUsedGoFirstBeyondTheBudget) {
  const size_t each = Entry(1, 10)->bytes;
  SignalKeyCache cache(3 * each);
  cache.Put(K("a"), Entry(1, 10));
  cache.Put(K("b"), Entry(1, 10));
  cache.Put(K("c"), Entry(1, 10));
  EXPECT_EQ(cache.stats().entries, 3);
  ASSERT_NE(cache.Find(K("a")), nullptr);  // a is now the most recent
  cache.Put(K("d"), Entry(1, 10));
  EXPECT_EQ(cache.Find(K("b")), nullptr);
  EXPECT_NE(cache.Find(K("a")), nullptr);
  EXPECT_NE(cache.Find(K("c")), nullptr);
  EXPECT_NE(cache.Find(K("d")), nullptr);
  EXPECT_EQ(cache.stats().evictions, 1);
  EXPECT_EQ(cache.stats().bytes, static_cast<int64_t>(3 * each));

  // An entry that grew is counted again when put back.
  std::shared_ptr<SignalKeyCache::Entry> a = cache.Find(K("a"));
  {
    std::lock_guard<std::mutex> lock(a->mu);
    for (int i = 100; i < 110; ++i) a->Add("more-" + std::to_string(i) + "-of-a-longer-id");
  }
  cache.Put(K("a"), a);
  EXPECT_LE(cache.stats().bytes, static_cast<int64_t>(3 * each));
  EXPECT_NE(cache.Find(K("a")), nullptr);
}

TEST(SignalKeyCacheTest, NothingIsKeptWithoutABudget) {
  SignalKeyCache cache(0);
  cache.Put(K("a"), Entry(1, 1));
  EXPECT_EQ(cache.Find(K("a")), nullptr);
  EXPECT_EQ(cache.stats().bytes, 0);
}

TEST(SignalKeyCacheTest, AnOlderEntryDoesNotReplaceAMoreCurrentOneUnlessReadWhole) {
  SignalKeyCache cache(1 << 20);
  std::shared_ptr<SignalKeyCache::Entry> current = Entry(5, 3);
  cache.Put(K("a"), current);
  cache.Put(K("a"), Entry(4, 2));
  EXPECT_EQ(cache.Find(K("a")), current);
  std::shared_ptr<SignalKeyCache::Entry> newer = Entry(6, 4);
  cache.Put(K("a"), newer);
  EXPECT_EQ(cache.Find(K("a")), newer);
  // Read whole from the log (the database holds fewer rows than the entry knew).
  std::shared_ptr<SignalKeyCache::Entry> whole = Entry(2, 1);
  cache.Put(K("a"), whole, /*replace=*/true);
  EXPECT_EQ(cache.Find(K("a")), whole);
  EXPECT_EQ(cache.stats().entries, 1);
  EXPECT_EQ(cache.stats().bytes, static_cast<int64_t>(whole->bytes));
}

}  // namespace
}  // namespace cs::health
