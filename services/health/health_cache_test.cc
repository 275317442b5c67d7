#include "services/health/health_cache.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace cs::health {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
const absl::Time kLater = kNow + absl::Hours(1);

std::shared_ptr<const HealthView> ViewWithScore(double score) {
  HealthView v;
  v.score = score;
  v.band = Band::kGreen;
  return std::make_shared<const HealthView>(std::move(v));
}

TEST(HealthViewCacheTest, ServesWhatWasPutUntilInvalidated) {
  HealthViewCache cache(10);
  EXPECT_EQ(nullptr, cache.Get("acme", "health", kNow, 0));
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 0));
  std::shared_ptr<const HealthView> hit = cache.Get("acme", "health", kNow, 0);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->score, 71);
  // Another score name of the same account is a different entry.
  EXPECT_EQ(nullptr, cache.Get("acme", "adoption", kNow, 0));

  cache.Invalidate("acme");
  EXPECT_EQ(nullptr, cache.Get("acme", "health", kNow, 0));
  // Other accounts are untouched by it.
  ASSERT_TRUE(cache.Put("globex", "health", ViewWithScore(40), cache.BeginFill(), kLater, 0));
  cache.Invalidate("acme");
  EXPECT_NE(nullptr, cache.Get("globex", "health", kNow, 0));
}

TEST(HealthViewCacheTest, HitsShareOneViewThatOutlivesItsInvalidation) {
  HealthViewCache cache(10);
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 0));
  std::shared_ptr<const HealthView> first = cache.Get("acme", "health", kNow, 0);
  std::shared_ptr<const HealthView> second = cache.Get("acme", "health", kNow, 0);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first.get(), second.get());
  // A caller still holding the view keeps a whole one after the cache drops it.
  cache.Invalidate("acme");
  EXPECT_EQ(nullptr, cache.Get("acme", "health", kNow, 0));
  EXPECT_EQ(first->score, 71);
  EXPECT_EQ(first.use_count(), 2);
}

TEST(HealthViewCacheTest, InvalidationDropsEveryScoreOfTheAccount) {
  HealthViewCache cache(10);
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 0));
  ASSERT_TRUE(cache.Put("acme", "adoption", ViewWithScore(55), cache.BeginFill(), kLater, 0));
  cache.Invalidate("acme");
  EXPECT_EQ(nullptr, cache.Get("acme", "health", kNow, 0));
  EXPECT_EQ(nullptr, cache.Get("acme", "adoption", kNow, 0));
}

TEST(HealthViewCacheTest, RefusesAFillThatStartedBeforeAnInvalidation) {
  HealthViewCache cache(10);
  // A reader loads the old view from the database ...
  const uint64_t ticket = cache.BeginFill();
  // ... a write commits and invalidates the account ...
  cache.Invalidate("acme");
  // ... and the reader's old view must not land after it.
  EXPECT_FALSE(cache.Put("acme", "health", ViewWithScore(71), ticket, kLater, 0));
  EXPECT_EQ(nullptr, cache.Get("acme", "health", kNow, 0));
  // A fill that started after the write is stored.
  EXPECT_TRUE(cache.Put("acme", "health", ViewWithScore(20), cache.BeginFill(), kLater, 0));
  EXPECT_EQ(cache.Get("acme", "health", kNow, 0)->score, 20);
  // An invalidation of another account does not refuse this account's fills.
  const uint64_t second = cache.BeginFill();
  cache.Invalidate("globex");
  EXPECT_TRUE(cache.Put("acme", "health", ViewWithScore(21), second, kLater, 0));
  EXPECT_EQ(cache.stats().refused_fills, 1);
}

TEST(HealthViewCacheTest, RegulatedIsRememberedUntilTheAccountIsWritten) {
  HealthViewCache cache(10);
  EXPECT_FALSE(cache.GetRegulated("acme"));
  ASSERT_TRUE(cache.PutRegulated("acme", true, cache.BeginFill()));
  ASSERT_TRUE(cache.PutRegulated("globex", false, cache.BeginFill()));
  EXPECT_EQ(cache.GetRegulated("acme"), std::optional<bool>(true));
  EXPECT_EQ(cache.GetRegulated("globex"), std::optional<bool>(false));
  // A write may have changed the industry: ask the store again.
  cache.Invalidate("globex");
  EXPECT_FALSE(cache.GetRegulated("globex"));
  EXPECT_EQ(cache.GetRegulated("acme"), std::optional<bool>(true));
  // An answer read before the write does not land after it.
  const uint64_t ticket = cache.BeginFill();
  cache.Invalidate("acme");
  EXPECT_FALSE(cache.PutRegulated("acme", true, ticket));
  EXPECT_FALSE(cache.GetRegulated("acme"));
  // A cached view and the regulated answer share the account's slot.
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 0));
  ASSERT_TRUE(cache.PutRegulated("acme", false, cache.BeginFill()));
  EXPECT_NE(nullptr, cache.Get("acme", "health", kNow, 0));
  EXPECT_EQ(cache.stats().accounts, 1u);  // globex went with its invalidation
}

TEST(HealthViewCacheTest, AnAccountNotHeldStillRefusesFillsOlderThanItsInvalidation) {
  HealthViewCache cache(2);
  ASSERT_TRUE(cache.Put("b", "health", ViewWithScore(1), cache.BeginFill(), kLater, 0));
  ASSERT_TRUE(cache.Put("c", "health", ViewWithScore(2), cache.BeginFill(), kLater, 0));
  const uint64_t ticket = cache.BeginFill();
  cache.Invalidate("acme");  // not held: nothing is stored for it
  EXPECT_EQ(cache.stats().accounts, 2u);
  EXPECT_EQ(cache.stats().evictions, 0);
  EXPECT_FALSE(cache.Put("acme", "health", ViewWithScore(71), ticket, kLater, 0));
  // The accounts held stay, and keep taking fills that started before it.
  EXPECT_NE(nullptr, cache.Get("b", "health", kNow, 0));
  EXPECT_TRUE(cache.Put("c", "health", ViewWithScore(3), ticket, kLater, 0));
}

// A rescore invalidates every account, nearly all of them not held: the accounts
// held stay held and nothing else is stored or evicted.
TEST(HealthViewCacheTest, InvalidatingAccountsNotHeldStoresNothing) {
  HealthViewCache cache(100);
  ASSERT_TRUE(cache.Put("held", "health", ViewWithScore(1), cache.BeginFill(), kLater, 0));
  for (int i = 0; i < 10000; ++i) cache.Invalidate(absl::StrCat("rescored-", i));
  EXPECT_EQ(cache.stats().accounts, 1u);
  EXPECT_EQ(cache.stats().evictions, 0);
  EXPECT_EQ(cache.stats().invalidations, 10000);
  EXPECT_NE(nullptr, cache.Get("held", "health", kNow, 0));
}

TEST(HealthViewCacheTest, InvalidateAllRefusesEveryEarlierFill) {
  HealthViewCache cache(10);
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 0));
  const uint64_t ticket = cache.BeginFill();
  cache.InvalidateAll();
  EXPECT_EQ(nullptr, cache.Get("acme", "health", kNow, 0));
  EXPECT_FALSE(cache.Put("globex", "health", ViewWithScore(3), ticket, kLater, 0));
  EXPECT_TRUE(cache.Put("globex", "health", ViewWithScore(3), cache.BeginFill(), kLater, 0));
}

TEST(HealthViewCacheTest, ExpiresAtValidUntilAndOnAnotherChurnModel) {
  HealthViewCache cache(10);
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 7));
  EXPECT_NE(nullptr, cache.Get("acme", "health", kNow, 7));
  EXPECT_EQ(nullptr, cache.Get("acme", "health", kNow, 8));  // a newer model
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 7));
  EXPECT_EQ(nullptr, cache.Get("acme", "health", kLater, 7));  // its day ended
}

TEST(HealthViewCacheTest, KeepsAtMostCapacityAccountsLeastRecentlyUsedOut) {
  HealthViewCache cache(2);
  ASSERT_TRUE(cache.Put("a", "health", ViewWithScore(1), cache.BeginFill(), kLater, 0));
  ASSERT_TRUE(cache.Put("b", "health", ViewWithScore(2), cache.BeginFill(), kLater, 0));
  ASSERT_TRUE(cache.Get("a", "health", kNow, 0));  // a is now the most recent
  ASSERT_TRUE(cache.Put("c", "health", ViewWithScore(3), cache.BeginFill(), kLater, 0));
  EXPECT_EQ(cache.stats().accounts, 2u);
  EXPECT_NE(nullptr, cache.Get("a", "health", kNow, 0));
  EXPECT_EQ(nullptr, cache.Get("b", "health", kNow, 0));
  EXPECT_NE(nullptr, cache.Get("c", "health", kNow, 0));
}

TEST(HealthViewCacheTest, CapacityZeroCachesNothing) {
  HealthViewCache cache(0);
  EXPECT_FALSE(cache.enabled());
  EXPECT_FALSE(cache.Put("a", "health", ViewWithScore(1), cache.BeginFill(), kLater, 0));
  EXPECT_EQ(nullptr, cache.Get("a", "health", kNow, 0));
}

}  // namespace
}  // namespace cs::health
