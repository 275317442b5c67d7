#include "services/health/signal_key_cache.h"

namespace cs::health {
namespace {

// A key's share of a flat_hash_set<std::string>: the slot (a std::string and a
// control byte, with the set's spare capacity) and the text when it does not fit in
// the string itself.
size_t KeyBytes(absl::string_view event_id) {
  return 48 + (event_id.size() > 15 ? event_id.size() + 1 : 0);
}

}  // namespace

bool SignalKeyCache::Entry::Add(absl::string_view event_id) {
  if (!keys.emplace(event_id).second) return false;
  bytes += KeyBytes(event_id);
  return true;
}

std::shared_ptr<SignalKeyCache::Entry> SignalKeyCache::Find(const Key& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(key);
  if (it == nodes_.end()) return nullptr;
  recent_.splice(recent_.begin(), recent_, it->second.recent);
  return it->second.entry;
}

void SignalKeyCache::Put(const Key& key, const std::shared_ptr<Entry>& entry, bool replace) {
  size_t bytes = 0;
  uint32_t rows = 0;
  {
    std::lock_guard<std::mutex> entry_lock(entry->mu);
    bytes = entry->bytes;
    rows = entry->log_rows;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(key);
  if (it == nodes_.end()) {
    recent_.push_front(key);
    it = nodes_.emplace(key, Node{entry, recent_.begin(), 0}).first;
  } else {
    if (it->second.entry != entry) {
      // Another transaction loaded the month again meanwhile (this one's entry had
      // been evicted): keep whichever knows more rows.
      const std::shared_ptr<Entry> other = it->second.entry;
      if (!replace) {
        std::lock_guard<std::mutex> other_lock(other->mu);
        if (other->log_rows >= rows) return;
      }
      it->second.entry = entry;
    }
    recent_.splice(recent_.begin(), recent_, it->second.recent);
  }
  total_ = total_ - it->second.counted + bytes;
  it->second.counted = bytes;
  while (total_ > max_bytes_ && !recent_.empty()) {
    auto last = nodes_.find(recent_.back());
    total_ -= last->second.counted;
    recent_.pop_back();
    nodes_.erase(last);
    ++evictions_;
  }
}

SignalKeyCache::Stats SignalKeyCache::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return Stats{static_cast<int64_t>(nodes_.size()), static_cast<int64_t>(total_), evictions_};
}

}  // namespace cs::health
