#include "services/health/health_cache.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/time/time.h"

namespace cs::health {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
const absl::Time kLater = kNow + absl::Hours(1);

HealthView ViewWithScore(double score) {
  HealthView v;
  v.score = score;
  v.band = Band::kGreen;
  return v;
}

TEST(HealthViewCacheTest, ServesWhatWasPutUntilInvalidated) {
  HealthViewCache cache(10);
  EXPECT_FALSE(cache.Get("acme", "health", kNow, 0).has_value());
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 0));
  std::optional<HealthView> hit = cache.Get("acme", "health", kNow, 0);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->score, 71);
  // Another score name of the same account is a different entry.
  EXPECT_FALSE(cache.Get("acme", "adoption", kNow, 0).has_value());

  cache.Invalidate("acme");
  EXPECT_FALSE(cache.Get("acme", "health", kNow, 0).has_value());
  // Other accounts are untouched by it.
  ASSERT_TRUE(cache.Put("globex", "health", ViewWithScore(40), cache.BeginFill(), kLater, 0));
  cache.Invalidate("acme");
  EXPECT_TRUE(cache.Get("globex", "health", kNow, 0).has_value());
}

TEST(HealthViewCacheTest, InvalidationDropsEveryScoreOfTheAccount) {
  HealthViewCache cache(10);
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 0));
  ASSERT_TRUE(cache.Put("acme", "adoption", ViewWithScore(55), cache.BeginFill(), kLater, 0));
  cache.Invalidate("acme");
  EXPECT_FALSE(cache.Get("acme", "health", kNow, 0).has_value());
  EXPECT_FALSE(cache.Get("acme", "adoption", kNow, 0).has_value());
}

TEST(HealthViewCacheTest, RefusesAFillThatStartedBeforeAnInvalidation) {
  HealthViewCache cache(10);
  // A reader loads the old view from the database ...
  const uint64_t ticket = cache.BeginFill();
  // ... a write commits and invalidates the account ...
  cache.Invalidate("acme");
  // ... and the reader's old view must not land after it.
  EXPECT_FALSE(cache.Put("acme", "health", ViewWithScore(71), ticket, kLater, 0));
  EXPECT_FALSE(cache.Get("acme", "health", kNow, 0).has_value());
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
  EXPECT_FALSE(cache.GetRegulated("acme").has_value());
  ASSERT_TRUE(cache.PutRegulated("acme", true, cache.BeginFill()));
  ASSERT_TRUE(cache.PutRegulated("globex", false, cache.BeginFill()));
  EXPECT_EQ(cache.GetRegulated("acme"), std::optional<bool>(true));
  EXPECT_EQ(cache.GetRegulated("globex"), std::optional<bool>(false));
  // A write may have changed the industry: ask the store again.
  cache.Invalidate("globex");
  EXPECT_FALSE(cache.GetRegulated("globex").has_value());
  EXPECT_EQ(cache.GetRegulated("acme"), std::optional<bool>(true));
  // An answer read before the write does not land after it.
  const uint64_t ticket = cache.BeginFill();
  cache.Invalidate("acme");
  EXPECT_FALSE(cache.PutRegulated("acme", true, ticket));
  EXPECT_FALSE(cache.GetRegulated("acme").has_value());
  // A cached view and the regulated answer share the account's slot.
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 0));
  ASSERT_TRUE(cache.PutRegulated("acme", false, cache.BeginFill()));
  EXPECT_TRUE(cache.Get("acme", "health", kNow, 0).has_value());
  EXPECT_EQ(cache.stats().accounts, 2u);
}

TEST(HealthViewCacheTest, EvictedTombstoneStillRefusesOlderFills) {
  HealthViewCache cache(2);
  const uint64_t ticket = cache.BeginFill();
  cache.Invalidate("acme");
  // Two more accounts push acme's tombstone out of the cache.
  ASSERT_TRUE(cache.Put("b", "health", ViewWithScore(1), cache.BeginFill(), kLater, 0));
  ASSERT_TRUE(cache.Put("c", "health", ViewWithScore(2), cache.BeginFill(), kLater, 0));
  EXPECT_GE(cache.stats().evictions, 1);
  EXPECT_FALSE(cache.Put("acme", "health", ViewWithScore(71), ticket, kLater, 0));
}

TEST(HealthViewCacheTest, InvalidateAllRefusesEveryEarlierFill) {
  HealthViewCache cache(10);
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 0));
  const uint64_t ticket = cache.BeginFill();
  cache.InvalidateAll();
  EXPECT_FALSE(cache.Get("acme", "health", kNow, 0).has_value());
  EXPECT_FALSE(cache.Put("globex", "health", ViewWithScore(3), ticket, kLater, 0));
  EXPECT_TRUE(cache.Put("globex", "health", ViewWithScore(3), cache.BeginFill(), kLater, 0));
}

TEST(HealthViewCacheTest, ExpiresAtValidUntilAndOnAnotherChurnModel) {
  HealthViewCache cache(10);
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 7));
  EXPECT_TRUE(cache.Get("acme", "health", kNow, 7).has_value());
  EXPECT_FALSE(cache.Get("acme", "health", kNow, 8).has_value());  // a newer model
  ASSERT_TRUE(cache.Put("acme", "health", ViewWithScore(71), cache.BeginFill(), kLater, 7));
  EXPECT_FALSE(cache.Get("acme", "health", kLater, 7).has_value());  // its day ended
}

TEST(HealthViewCacheTest, KeepsAtMostCapacityAccountsLeastRecentlyUsedOut) {
  HealthViewCache cache(2);
  ASSERT_TRUE(cache.Put("a", "health", ViewWithScore(1), cache.BeginFill(), kLater, 0));
  ASSERT_TRUE(cache.Put("b", "health", ViewWithScore(2), cache.BeginFill(), kLater, 0));
  ASSERT_TRUE(cache.Get("a", "health", kNow, 0).has_value());  // a is now the most recent
  ASSERT_TRUE(cache.Put("c", "health", ViewWithScore(3), cache.BeginFill(), kLater, 0));
  EXPECT_EQ(cache.stats().accounts, 2u);
  EXPECT_TRUE(cache.Get("a", "health", kNow, 0).has_value());
  EXPECT_FALSE(cache.Get("b", "health", kNow, 0).has_value());
  EXPECT_TRUE(cache.Get("c", "health", kNow, 0).has_value());
}

TEST(HealthViewCacheTest, CapacityZeroCachesNothing) {
  HealthViewCache cache(0);
  EXPECT_FALSE(cache.enabled());
  EXPECT_FALSE(cache.Put("a", "health", ViewWithScore(1), cache.BeginFill(), kLater, 0));
  EXPECT_FALSE(cache.Get("a", "health", kNow, 0).has_value());
}

}  // namespace
}  // namespace cs::health
