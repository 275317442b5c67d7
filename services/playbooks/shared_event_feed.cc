#include "services/playbooks/shared_event_feed.h"

#include <algorithm>
#include <utility>

namespace cs::playbooks {

SharedEventFeed::SharedEventFeed(HealthFeed* base, const Clock* clock, size_t capacity,
                                 absl::Duration stale_after)
    : base_(base), clock_(clock), capacity_(capacity), stale_after_(stale_after) {}

absl::StatusOr<HealthEventPage> SharedEventFeed::ListEvents(int64_t after, int limit) {
  absl::StatusOr<HealthEventPage> page = base_->ListEvents(after, limit);
  if (page.ok() && Keep(after, *page) && on_kept_) on_kept_();
  return page;
}

bool SharedEventFeed::Keep(int64_t after, const HealthEventPage& page) {
  std::lock_guard<std::mutex> lock(mu_);
  head_ = std::max(head_, page.last_sequence);
  // Caught up: the leader is keeping pace with health.
  if (page.events.empty()) {
    leader_moved_at_ = clock_->Now();
    return false;
  }
  for (size_t i = 0; i < page.events.size(); ++i) {
    if (page.events[i].sequence != after + 1 + static_cast<int64_t>(i)) return false;
  }
  const bool joins = !events_.empty() && after + 1 >= events_.front().sequence &&
                     after <= events_.back().sequence;
  if (!joins) events_.clear();
  // A page read again (its apply failed and is retried) is no progress: a leader
  // that stays stuck on one page does not hold the follower back for longer than
  // stale_after.
  const int64_t kept_end = events_.empty() ? after : events_.back().sequence;
  const bool moved = page.events.back().sequence > kept_end;
  if (moved) leader_moved_at_ = clock_->Now();
  for (const HealthEvent& e : page.events) {
    if (!events_.empty() && e.sequence <= events_.back().sequence) continue;
    events_.push_back(e);
  }
  while (events_.size() > capacity_) events_.pop_front();
  return moved;
}

absl::StatusOr<HealthEventPage> SharedEventFeed::Follow(int64_t after, int limit) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool behind = events_.empty() || after + 1 < events_.front().sequence;
    if (!behind && limit > 0) {
      HealthEventPage page;
      page.last_sequence = head_;
      if (after < events_.back().sequence) {
        const size_t first = static_cast<size_t>(after + 1 - events_.front().sequence);
        const size_t count = std::min(static_cast<size_t>(limit), events_.size() - first);
        page.events.assign(events_.begin() + static_cast<std::ptrdiff_t>(first),
                           events_.begin() + static_cast<std::ptrdiff_t>(first + count));
        ++from_memory_;
        return page;
      }
      // Caught up with the leader: nothing until it reads on, unless it has stopped.
      if (clock_->Now() - leader_moved_at_ < stale_after_) return page;
    }
    ++from_health_;
  }
  return base_->ListEvents(after, limit);
}

int64_t SharedEventFeed::follower_pages_from_memory() const {
  std::lock_guard<std::mutex> lock(mu_);
  return from_memory_;
}

int64_t SharedEventFeed::follower_pages_from_health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return from_health_;
}

}  // namespace cs::playbooks
