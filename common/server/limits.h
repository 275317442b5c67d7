#ifndef CS_COMMON_SERVER_LIMITS_H_
#define CS_COMMON_SERVER_LIMITS_H_

// Per-principal rate limits: one token bucket per principal, refilled at `rate`
// requests a second up to `burst`. A principal over its limit gets
// RESOURCE_EXHAUSTED before its request is even read, while every other principal
// keeps its own budget.

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace cs {

struct RateLimit {
  double per_second = 0;  // 0: unlimited
  double burst = 0;       // the most calls that may arrive at once after a quiet spell
  bool unlimited() const { return per_second <= 0; }
  bool operator==(const RateLimit& o) const {
    return per_second == o.per_second && burst == o.burst;
  }
};

// "R" or "R/B" (requests a second, burst; the burst defaults to max(1, R)); "0" is
// unlimited. INVALID_ARGUMENT on anything else.
absl::StatusOr<RateLimit> ParseRateLimit(absl::string_view text);

// Not thread-safe; RateLimiter serializes access.
class TokenBucket {
 public:
  TokenBucket(RateLimit limit, absl::Time now);
  // Takes one token when there is one.
  bool TryTake(absl::Time now);
  // A new limit keeps the tokens already earned (at most the new burst).
  void Reconfigure(RateLimit limit, absl::Time now);
  const RateLimit& limit() const { return limit_; }

 private:
  void Refill(absl::Time now);

  RateLimit limit_;
  double tokens_;
  absl::Time last_;
};

class RateLimiter {
 public:
  // `on_limited(principal)` runs for every refused call (a metric, a log line).
  RateLimiter(RateLimit default_limit, const Clock* clock,
              std::function<void(const std::string&)> on_limited = nullptr)
      : default_(default_limit), clock_(clock), on_limited_(std::move(on_limited)) {}

  // One call by `principal`, under `override_limit` when its token has one.
  bool Allow(const std::string& principal, const std::optional<RateLimit>& override_limit);

 private:
  const RateLimit default_;
  const Clock* clock_;
  const std::function<void(const std::string&)> on_limited_;
  std::mutex mu_;
  // Principals come from the tokens file, so the map stays as small as that file.
  std::unordered_map<std::string, TokenBucket> buckets_;
};

}  // namespace cs

#endif  // CS_COMMON_SERVER_LIMITS_H_
