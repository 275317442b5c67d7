#ifndef CS_SERVICES_HEALTH_HEALTH_CACHE_H_
#define CS_SERVICES_HEALTH_HEALTH_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "services/health/health.h"

namespace cs::health {

// This replica's copy of assembled current GetHealth views, per account and score
// name, least recently used evicted first. A view is dropped:
//  - at once when this replica writes the account (Invalidate), or when another
//    replica's write shows up in the event log tail (the same call, ~150 ms later);
//  - when it reaches `valid_until` (the end of its day: trends and alerts are per
//    day; or an override's expiry);
//  - when the churn model it was computed with is no longer the current one.
//
// Fills race with invalidations: a reader that loaded the view from the database
// before a write committed must not store it after the write's invalidation ran.
// So a reader takes a ticket (BeginFill) before reading, and Put refuses the view
// when the account was invalidated after that ticket. Each invalidation stamps the
// epoch in one of kStampSlots slots chosen by the account id's hash, and a fill is
// refused when its account's slot is newer than its ticket; InvalidateAll raises a
// floor under which every ticket is refused. So an invalidation of an account the
// cache does not hold (every account in a rescore) stores nothing, memory stays
// bounded, and the only cost of two accounts sharing a slot is a fill refused
// that could have been stored.
class HealthViewCache {
 public:
  struct Stats {
    int64_t hits = 0, misses = 0, fills = 0, refused_fills = 0, invalidations = 0,
            evictions = 0;
    size_t accounts = 0;
  };

  // Invalidation stamps: 128 KiB, allocated only for an enabled cache.
  static constexpr size_t kStampSlots = 16384;

  // capacity: accounts held. 0 disables the cache.
  explicit HealthViewCache(size_t capacity)
      : capacity_(capacity), stamps_(capacity > 0 ? kStampSlots : 0, 0) {}
  HealthViewCache(const HealthViewCache&) = delete;
  HealthViewCache& operator=(const HealthViewCache&) = delete;

  bool enabled() const { return capacity_ > 0; }

  // The view if held, still valid at `now` and computed with `model_id` (the
  // current churn model, 0 for none); null otherwise. Shared, not copied: a hit
  // costs a reference count, and the view stays alive after an invalidation drops it.
  std::shared_ptr<const HealthView> Get(const std::string& account_id, const std::string& score_name,
                                absl::Time now, int64_t model_id);

  // Taken before reading the database for a fill.
  uint64_t BeginFill();
  // Stores a view read after BeginFill returned `ticket`; false (and nothing
  // stored) when the account was invalidated since.
  bool Put(const std::string& account_id, const std::string& score_name,
           std::shared_ptr<const HealthView> view, uint64_t ticket, absl::Time valid_until, int64_t model_id);

  // Whether the account is in a regulated industry (DOMAIN §5), if known: the audit
  // interceptor asks on every read, and an account's industry changes only by a
  // write, which invalidates like any other.
  std::optional<bool> GetRegulated(const std::string& account_id);
  // Stores the answer read after BeginFill returned `ticket`, under the same rule
  // as Put.
  bool PutRegulated(const std::string& account_id, bool regulated, uint64_t ticket);

  // Every score of the account, and whether it is regulated.
  void Invalidate(const std::string& account_id);
  void InvalidateAll();

  Stats stats() const;

 private:
  struct Entry {
    std::shared_ptr<const HealthView> view;
    absl::Time valid_until;
    int64_t model_id = 0;
  };
  struct Node {
    std::string account_id;
    std::map<std::string, Entry> scores;
    std::optional<bool> regulated;
  };
  using List = std::list<Node>;

  // Moves the node to the front, creating it; evicts from the back past capacity.
  List::iterator Touch(const std::string& account_id);
  void EvictOverCapacity();
  // True when a fill that took `ticket` may store for the account (lock held).
  bool FillAllowed(const std::string& account_id, uint64_t ticket);
  // The account's invalidation stamp (lock held).
  uint64_t& StampOf(const std::string& account_id);

  const size_t capacity_;
  mutable std::mutex mu_;
  List lru_;  // most recently used first
  absl::flat_hash_map<std::string, List::iterator> index_;
  uint64_t epoch_ = 1;
  // The epoch of the latest invalidation of any account hashed to each slot.
  std::vector<uint64_t> stamps_;
  // Tickets below this are refused: an invalidation covered every account.
  uint64_t floor_ = 0;
  Stats stats_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_HEALTH_CACHE_H_
