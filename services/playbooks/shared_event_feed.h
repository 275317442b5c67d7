#ifndef CS_SERVICES_PLAYBOOKS_SHARED_EVENT_FEED_H_
#define CS_SERVICES_PLAYBOOKS_SHARED_EVENT_FEED_H_

// One replica runs two consumers of health's event log, each with its own cursor
// and transaction: playbook runs (the leader) and success plans (the follower).
// Read straight from health, every stretch of the log went over the wire, through
// health's audit and into protos twice, and the follower, with little to write
// per page, ran ahead and read health in pages of its own.
//
// SharedEventFeed reads health for the leader and keeps the events it read last,
// by sequence; follower() answers the follower from those events, so it reads
// the stretch the leader just read and applies it at the leader's pace. It goes
// to health itself only while it is behind what is kept (after a failure, say),
// or when the leader has not moved on for `stale_after`: stopped, failing, or
// reading one page again and again because applying it fails.
//
// Health's sequences are gap-free and an event never changes once written, so a
// kept event is the event health would answer.
//
// The follower's loop waits between rounds once it has caught up with the leader;
// OnKept wakes it when the leader keeps new events. Without that wait cut short, a
// follower that slept for its idle interval while the leader read on (a rescore's
// tens of thousands of events a second) fell behind what is kept and read every
// page from health again.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "services/playbooks/peers.h"

namespace cs::playbooks {

class SharedEventFeed final : public HealthFeed {
 public:
  // Keeps up to `capacity` events; `base` answers everything else.
  SharedEventFeed(HealthFeed* base, const Clock* clock, size_t capacity,
                  absl::Duration stale_after);

  // The leader's read: always from health; the page is kept.
  absl::StatusOr<HealthEventPage> ListEvents(int64_t after, int limit) override;
  absl::StatusOr<AccountProfile> GetAccount(const std::string& account_id) override {
    return base_->GetAccount(account_id);
  }
  absl::StatusOr<std::map<std::string, AccountProfile>> GetAccounts(
      const std::vector<std::string>& account_ids) override {
    return base_->GetAccounts(account_ids);
  }

  // The follower's feed.
  HealthFeed* follower() { return &follower_; }
  // Called, outside the feed's lock, each time the leader's read keeps events not
  // kept before. Set once, before either consumer runs.
  void OnKept(std::function<void()> kept) { on_kept_ = std::move(kept); }

  // Follower pages answered from memory and from health (for tests).
  int64_t follower_pages_from_memory() const;
  int64_t follower_pages_from_health() const;

 private:
  class Follower final : public HealthFeed {
   public:
    explicit Follower(SharedEventFeed* shared) : shared_(shared) {}
    absl::StatusOr<HealthEventPage> ListEvents(int64_t after, int limit) override {
      return shared_->Follow(after, limit);
    }
    absl::StatusOr<AccountProfile> GetAccount(const std::string& account_id) override {
      return shared_->GetAccount(account_id);
    }
    absl::StatusOr<std::map<std::string, AccountProfile>> GetAccounts(
        const std::vector<std::string>& account_ids) override {
      return shared_->GetAccounts(account_ids);
    }

   private:
    SharedEventFeed* shared_;
  };

  absl::StatusOr<HealthEventPage> Follow(int64_t after, int limit);
  // Adds a page read after `after` when its sequences run on from `after` without a
  // gap; a page that does not join the kept run replaces it. True when it kept an
  // event not kept before.
  bool Keep(int64_t after, const HealthEventPage& page);

  HealthFeed* base_;
  const Clock* clock_;
  const size_t capacity_;
  const absl::Duration stale_after_;
  Follower follower_{this};
  std::function<void()> on_kept_;
  mutable std::mutex mu_;
  std::deque<HealthEvent> events_;  // consecutive sequences, oldest first
  int64_t head_ = 0;                // the highest last_sequence health answered
  // When the leader last read events it had not read before, or found none new.
  absl::Time leader_moved_at_ = absl::InfinitePast();
  int64_t from_memory_ = 0;
  int64_t from_health_ = 0;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_SHARED_EVENT_FEED_H_
