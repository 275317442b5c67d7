#ifndef CS_SERVICES_HEALTH_SIGNAL_KEY_CACHE_H_
#define CS_SERVICES_HEALTH_SIGNAL_KEY_CACHE_H_

// The stored signal keys (event ids) of an account and month, as one replica last
// read them from signal_log, kept between ingest transactions so that a duplicate
// is decided in memory instead of by a row per signal.
//
// An entry holds the keys of the month's log rows numbered 1..log_rows (and of the
// unnumbered rows written before migration 011). It is exact as long as the month's
// signal_counters row says log_rows too: every writer of the month's log locks that
// row first, so a transaction holding the lock that finds a larger number reads the
// rows it has not seen (and only those) and then knows every stored key. Entries
// only ever hold committed keys: a transaction adds its own after its commit.
//
// Thread-safe. An entry is shared (shared_ptr): eviction drops the cache's
// reference, not the transaction's. Its keys are read and changed under its mutex.

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace cs::health {

class SignalKeyCache {
 public:
  struct Entry {
    std::mutex mu;
    uint32_t log_rows = 0;  // numbered log rows whose keys `keys` holds
    absl::flat_hash_set<std::string> keys;
    size_t bytes = 0;  // estimated memory of `keys`

    // Adds a key (mu held); false when it was there.
    bool Add(absl::string_view event_id);
  };
  using Key = std::pair<std::string, absl::CivilMonth>;  // (account_id, month)
  struct Stats {
    int64_t entries = 0;
    int64_t bytes = 0;
    int64_t evictions = 0;
  };

  // max_bytes: the estimated memory the entries may hold together; the least
  // recently used go first. 0 keeps nothing between transactions.
  explicit SignalKeyCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  SignalKeyCache(const SignalKeyCache&) = delete;
  SignalKeyCache& operator=(const SignalKeyCache&) = delete;

  // The entry of an account and month, or null; marks it recently used.
  std::shared_ptr<Entry> Find(const Key& key);
  // Keeps `entry` as the key's (after its keys changed: its size is counted again),
  // unless the cache holds another entry of the key that is at least as current and
  // `replace` is false (an entry read whole from the log replaces any). Then evicts
  // the least recently used entries beyond the budget.
  void Put(const Key& key, const std::shared_ptr<Entry>& entry, bool replace = false);
  Stats stats();

 private:
  struct Node {
    std::shared_ptr<Entry> entry;
    std::list<Key>::iterator recent;
    size_t counted = 0;  // bytes counted for it in total_
  };

  const size_t max_bytes_;
  std::mutex mu_;
  std::map<Key, Node> nodes_;
  std::list<Key> recent_;  // most recently used first
  size_t total_ = 0;
  int64_t evictions_ = 0;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_SIGNAL_KEY_CACHE_H_
