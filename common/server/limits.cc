#include "common/server/limits.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cs {

absl::StatusOr<RateLimit> ParseRateLimit(absl::string_view text) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('/', 1));
  RateLimit limit;
  if (!absl::SimpleAtod(parts.first, &limit.per_second) || !(limit.per_second >= 0) ||
      limit.per_second > 1e9) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "': expected REQUESTS_PER_SECOND[/BURST], e.g. 100/200"));
  }
  limit.burst = std::max(1.0, limit.per_second);
  if (!parts.second.empty() &&
      (!absl::SimpleAtod(parts.second, &limit.burst) || !(limit.burst >= 1) || limit.burst > 1e9)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "': the burst must be at least 1"));
  }
  return limit;
}

TokenBucket::TokenBucket(RateLimit limit, absl::Time now)
    : limit_(limit), tokens_(limit.burst), last_(now) {}

void TokenBucket::Refill(absl::Time now) {
  // A clock that steps back earns nothing, rather than taking tokens away.
  if (now > last_) {
    tokens_ = std::min(limit_.burst,
                       tokens_ + absl::ToDoubleSeconds(now - last_) * limit_.per_second);
    last_ = now;
  }
}

bool TokenBucket::TryTake(absl::Time now) {
  if (limit_.unlimited()) return true;
  Refill(now);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void TokenBucket::Reconfigure(RateLimit limit, absl::Time now) {
  Refill(now);
  limit_ = limit;
  tokens_ = std::min(tokens_, limit_.burst);
}

bool RateLimiter::Allow(const std::string& principal,
                        const std::optional<RateLimit>& override_limit) {
  const RateLimit limit = override_limit.value_or(default_);
  if (limit.unlimited()) return true;
  const absl::Time now = clock_->Now();
  bool allowed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = buckets_.find(principal);
    if (it == buckets_.end()) {
      it = buckets_.emplace(principal, TokenBucket(limit, now)).first;
    } else if (!(it->second.limit() == limit)) {
      it->second.Reconfigure(limit, now);
    }
    allowed = it->second.TryTake(now);
  }
  if (!allowed && on_limited_) on_limited_(principal);
  return allowed;
}

}  // namespace cs
