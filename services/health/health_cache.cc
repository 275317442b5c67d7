#include "services/health/health_cache.h"

#include <functional>

namespace cs::health {

std::shared_ptr<const HealthView> HealthViewCache::Get(const std::string& account_id,
                                               const std::string& score_name, absl::Time now,
                                               int64_t model_id) {
  if (!enabled()) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(account_id);
  if (it == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  Node& node = *it->second;
  auto entry = node.scores.find(score_name);
  if (entry == node.scores.end()) {
    ++stats_.misses;
    return nullptr;
  }
  if (now >= entry->second.valid_until || entry->second.model_id != model_id) {
    node.scores.erase(entry);
    ++stats_.misses;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.hits;
  return entry->second.view;
}

uint64_t HealthViewCache::BeginFill() {
  std::lock_guard<std::mutex> lock(mu_);
  return epoch_;
}

bool HealthViewCache::Put(const std::string& account_id, const std::string& score_name,
                          std::shared_ptr<const HealthView> view, uint64_t ticket,
                          absl::Time valid_until,
                          int64_t model_id) {
  if (!enabled()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (!FillAllowed(account_id, ticket)) return false;
  List::iterator node = Touch(account_id);
  node->scores[score_name] = Entry{std::move(view), valid_until, model_id};
  ++stats_.fills;
  EvictOverCapacity();
  return true;
}

std::optional<bool> HealthViewCache::GetRegulated(const std::string& account_id) {
  if (!enabled()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(account_id);
  if (it == index_.end() || !it->second->regulated.has_value()) {
    ++stats_.misses;
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.hits;
  return it->second->regulated;
}

bool HealthViewCache::PutRegulated(const std::string& account_id, bool regulated,
                                   uint64_t ticket) {
  if (!enabled()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (!FillAllowed(account_id, ticket)) return false;
  Touch(account_id)->regulated = regulated;
  ++stats_.fills;
  EvictOverCapacity();
  return true;
}

uint64_t& HealthViewCache::StampOf(const std::string& account_id) {
  // std::hash, not absl::Hash: the same slots in every process, so which accounts
  // share one does not change from run to run.
  return stamps_[std::hash<std::string>{}(account_id) % stamps_.size()];
}

bool HealthViewCache::FillAllowed(const std::string& account_id, uint64_t ticket) {
  if (ticket < floor_ || StampOf(account_id) > ticket) {
    ++stats_.refused_fills;
    return false;
  }
  return true;
}

void HealthViewCache::Invalidate(const std::string& account_id) {
  if (!enabled()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = index_.find(account_id); it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  StampOf(account_id) = ++epoch_;
  ++stats_.invalidations;
}

void HealthViewCache::InvalidateAll() {
  if (!enabled()) return;
  std::lock_guard<std::mutex> lock(mu_);
  lru_.clear();
  index_.clear();
  // Every fill that started before now is refused.
  floor_ = ++epoch_;
  ++stats_.invalidations;
}

HealthViewCache::Stats HealthViewCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats out = stats_;
  out.accounts = index_.size();
  return out;
}

HealthViewCache::List::iterator HealthViewCache::Touch(const std::string& account_id) {
  auto it = index_.find(account_id);
  if (it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second;
  }
  lru_.push_front(Node{account_id, {}, std::nullopt});
  index_.emplace(account_id, lru_.begin());
  return lru_.begin();
}

void HealthViewCache::EvictOverCapacity() {
  while (index_.size() > capacity_) {
    index_.erase(lru_.back().account_id);
    lru_.pop_back();
    ++stats_.evictions;
  }
}

}  // namespace cs::health
