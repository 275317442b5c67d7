#ifndef CS_SERVICES_HEALTH_REGULATED_INDEX_H_
#define CS_SERVICES_HEALTH_REGULATED_INDEX_H_

// Which accounts are in a regulated industry (DOMAIN §5), held by one replica for the
// audit of reads, so that an audited read of an account the replica has not read
// before costs no query.
//
// It holds 64-bit hashes of the regulated accounts' ids (8 bytes each, not the ids;
// absl::Hash, seeded per process, so no id can be made to collide on purpose): two
// ids with one hash would share one flag, about one chance in 10^13 per account at a
// million regulated accounts. It is loaded with one read of every regulated account and
// kept by the health service's tail of the event log: an ACCOUNT_UPSERTED event, the
// only write that can change an industry, has the account's flag read again. An
// account this replica writes itself is answered from the store until a tail step
// that began after the write has run, so a replica never trusts a flag older than
// its own write.

#include <cstdint>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace cs::health {

class RegulatedIndex {
 public:
  // Whether the account is regulated; nullopt before the first load or while the
  // account's own write is newer than the last tail step (ask the store).
  std::optional<bool> Get(const std::string& account_id) const;

  // A tail step: Begin before it reads the log, End once it has applied what it
  // read. Every account written before Begin is then answered from the index again.
  uint64_t BeginStep();
  void EndStep(uint64_t step);

  // Replaces everything with a full read (the ids of every regulated account).
  void Load(const std::vector<std::string>& regulated);
  // Forgets everything until the next Load (the tail skipped changes).
  void Unload();
  bool loaded() const;
  // The flags read again for accounts whose records changed: those in `regulated`
  // are regulated, the rest of `accounts` are not.
  void Update(const std::vector<std::string>& accounts, const std::set<std::string>& regulated);
  // This replica wrote the account's record.
  void Invalidate(const std::string& account_id);

  size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  bool loaded_ = false;
  absl::flat_hash_set<uint64_t> regulated_;
  // Accounts this replica wrote, by the step counter at the write.
  absl::flat_hash_map<std::string, uint64_t> written_;
  uint64_t steps_ = 0;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_REGULATED_INDEX_H_
