#include "common/server/limits.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cs {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

int Takes(TokenBucket& bucket, absl::Time now, int attempts) {
  int taken = 0;
  for (int i = 0; i < attempts; ++i) taken += bucket.TryTake(now) ? 1 : 0;
  return taken;
}

TEST(TokenBucketTest, ABurstIsServedThenTheRateRefills) {
  TokenBucket bucket({/*per_second=*/10, /*burst=*/5}, kStart);
  EXPECT_EQ(Takes(bucket, kStart, 8), 5);
  // 10 a second: one token every 100 ms, and nothing in between.
  EXPECT_FALSE(bucket.TryTake(kStart + absl::Milliseconds(99)));
  EXPECT_TRUE(bucket.TryTake(kStart + absl::Milliseconds(100)));
  EXPECT_FALSE(bucket.TryTake(kStart + absl::Milliseconds(150)));
  EXPECT_EQ(Takes(bucket, kStart + absl::Milliseconds(400), 10), 3);
}

TEST(TokenBucketTest, AQuietSpellEarnsNoMoreThanTheBurst) {
  TokenBucket bucket({10, 5}, kStart);
  EXPECT_EQ(Takes(bucket, kStart, 5), 5);
  EXPECT_EQ(Takes(bucket, kStart + absl::Hours(1), 100), 5);
}

TEST(TokenBucketTest, AClockSteppingBackEarnsNothing) {
  TokenBucket bucket({10, 1}, kStart);
  EXPECT_TRUE(bucket.TryTake(kStart));
  EXPECT_FALSE(bucket.TryTake(kStart - absl::Seconds(10)));
  EXPECT_FALSE(bucket.TryTake(kStart + absl::Milliseconds(50)));
  EXPECT_TRUE(bucket.TryTake(kStart + absl::Milliseconds(100)));
}

TEST(TokenBucketTest, ZeroRateIsUnlimited) {
  TokenBucket bucket({0, 0}, kStart);
  EXPECT_EQ(Takes(bucket, kStart, 10000), 10000);
}

TEST(RateLimiterTest, EachPrincipalHasItsOwnBucket) {
  FakeClock clock(kStart);
  std::vector<std::string> limited;
  RateLimiter limiter({2, 2}, &clock, [&](const std::string& p) { limited.push_back(p); });
  EXPECT_TRUE(limiter.Allow("crm-sync", std::nullopt));
  EXPECT_TRUE(limiter.Allow("crm-sync", std::nullopt));
  EXPECT_FALSE(limiter.Allow("crm-sync", std::nullopt));
  // Another principal is untouched by the first one's flood.
  EXPECT_TRUE(limiter.Allow("dashboards", std::nullopt));
  EXPECT_TRUE(limiter.Allow("dashboards", std::nullopt));
  EXPECT_THAT(limited, ::testing::ElementsAre("crm-sync"));
  clock.Advance(absl::Milliseconds(500));
  EXPECT_TRUE(limiter.Allow("crm-sync", std::nullopt));
  EXPECT_FALSE(limiter.Allow("crm-sync", std::nullopt));
}

TEST(RateLimiterTest, ATokenOverrideReplacesTheDefault) {
  FakeClock clock(kStart);
  RateLimiter limiter({1, 1}, &clock);
  int allowed = 0;
  for (int i = 0; i < 50; ++i) allowed += limiter.Allow("ingest", RateLimit{100, 20}) ? 1 : 0;
  EXPECT_EQ(allowed, 20);
  // Unlimited by override.
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(limiter.Allow("ops", RateLimit{0, 0}));
}

TEST(ParseRateLimitTest, AcceptsRateAndBurst) {
  absl::StatusOr<RateLimit> a = ParseRateLimit("100/250");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->per_second, 100);
  EXPECT_EQ(a->burst, 250);
  absl::StatusOr<RateLimit> b = ParseRateLimit("0.5");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->burst, 1);
  EXPECT_TRUE(ParseRateLimit("0")->unlimited());
  EXPECT_FALSE(ParseRateLimit("-1").ok());
  EXPECT_FALSE(ParseRateLimit("fast").ok());
  EXPECT_FALSE(ParseRateLimit("10/0").ok());
  EXPECT_FALSE(ParseRateLimit("nan").ok());
}

}  // namespace
}  // namespace cs
