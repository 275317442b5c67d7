#include "services/health/regulated_index.h"

#include <mutex>

#include "absl/hash/hash.h"

namespace cs::health {
namespace {

uint64_t HashOf(const std::string& account_id) {
  return absl::Hash<std::string>{}(account_id);
}

}  // namespace

std::optional<bool> RegulatedIndex::Get(const std::string& account_id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (!loaded_ || written_.contains(account_id)) return std::nullopt;
  return regulated_.contains(HashOf(account_id));
}

uint64_t RegulatedIndex::BeginStep() {
  std::unique_lock<std::shared_mutex> lock(mu_);
  return ++steps_;
}

void RegulatedIndex::EndStep(uint64_t step) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  // A write counted before the step began committed before the step read the log,
  // so the step saw its event and read its flag again.
  absl::erase_if(written_, [step](const auto& entry) { return entry.second < step; });
}

void RegulatedIndex::Load(const std::vector<std::string>& regulated) {
  absl::flat_hash_set<uint64_t> fresh;
  fresh.reserve(regulated.size());
  for (const std::string& id : regulated) fresh.insert(HashOf(id));
  std::unique_lock<std::shared_mutex> lock(mu_);
  regulated_ = std::move(fresh);
  loaded_ = true;
}

void RegulatedIndex::Unload() {
  std::unique_lock<std::shared_mutex> lock(mu_);
  regulated_.clear();
  loaded_ = false;
}

bool RegulatedIndex::loaded() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return loaded_;
}

void RegulatedIndex::Update(const std::vector<std::string>& accounts,
                            const std::set<std::string>& regulated) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (const std::string& id : accounts) {
    if (regulated.count(id) > 0) {
      regulated_.insert(HashOf(id));
    } else {
      regulated_.erase(HashOf(id));
    }
  }
}

void RegulatedIndex::Invalidate(const std::string& account_id) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  written_[account_id] = steps_;
}

size_t RegulatedIndex::size() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return regulated_.size();
}

}  // namespace cs::health
