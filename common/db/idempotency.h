#ifndef CS_COMMON_DB_IDEMPOTENCY_H_
#define CS_COMMON_DB_IDEMPOTENCY_H_

// Idempotent writes: the first answer to a write is stored under its request id in
// the same transaction as the write, and a retry with the same id gets that answer
// back without writing again.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/db/pool.h"

namespace cs::db {

// Identifies one logical write. An empty request_id means "not idempotent".
struct WriteKey {
  std::string method;
  std::string request_id;
  // Fingerprint of the request without its request id: the same id sent with a
  // different request is refused instead of silently answered with the old result.
  std::string fingerprint;
};

// Turns a write's result into bytes and back (the handler layer supplies it, so the
// service layer stays free of wire formats).
template <typename T>
struct ResultCodec {
  std::function<std::string(const T&)> encode;
  std::function<absl::StatusOr<T>(const std::string&)> decode;
};

// INVALID_ARGUMENT naming request_id: the id was used for a different request.
absl::Status RequestIdReused();

// Inside an open transaction: the stored answer for `key`, locking its row.
// INVALID_ARGUMENT when the id was used for a different request.
absl::StatusOr<std::optional<std::string>> FindStoredResponse(Connection& conn,
                                                              const WriteKey& key);
// Inside an open transaction: stores the answer for `key`.
void StoreResponse(Connection& conn, const WriteKey& key, const std::string& response,
                   absl::Time now);

// The same for several writes of one transaction (a group commit), one statement per
// method and chunk: entry i is the stored answer of keys[i] (nullopt when none, or
// when keys[i] has no request id), or INVALID_ARGUMENT when its id was used for a
// different request. The rows found stay locked until the transaction ends.
absl::StatusOr<std::vector<std::optional<absl::StatusOr<std::string>>>> FindStoredResponses(
    Connection& conn, const std::vector<const WriteKey*>& keys);
// Stores every answer in multi-row statements; a key stored before (a concurrent
// first attempt) aborts the transaction for a retry, as StoreResponse does.
struct StoredAnswer {
  const WriteKey* key = nullptr;
  std::string response;
};
void StoreResponses(Connection& conn, const std::vector<StoredAnswer>& answers, absl::Time now);

// Deletes stored answers created before `cutoff`, `batch` rows per statement (short
// transactions, no long lock), and returns how many went. Safe to run on several
// replicas at once. A retry arriving after its answer expired is treated as new.
absl::StatusOr<int64_t> PurgeStoredResponses(Pool& pool, absl::Time cutoff, int batch = 1000);

// Runs `write` in a transaction at most once per key. `each_attempt`, when set, is
// called as every attempt of the transaction begins (a retry, or one that finds the
// stored answer, must not trust what an attempt before it left behind).
template <typename T>
absl::StatusOr<T> RunIdempotent(Pool& pool, const Clock& clock, const WriteKey& key,
                                const ResultCodec<T>& codec,
                                const std::function<absl::StatusOr<T>(Connection&)>& write,
                                const std::function<void()>& each_attempt = nullptr) {
  return pool.Transact<T>([&](Connection& conn) -> absl::StatusOr<T> {
    if (each_attempt) each_attempt();
    if (!key.request_id.empty()) {
      absl::StatusOr<std::optional<std::string>> stored = FindStoredResponse(conn, key);
      if (!stored.ok()) return stored.status();
      if (stored->has_value()) return codec.decode(**stored);
    }
    absl::StatusOr<T> result = write(conn);
    if (!result.ok() || key.request_id.empty()) return result;
    StoreResponse(conn, key, codec.encode(*result), clock.Now());
    return result;
  });
}

}  // namespace cs::db

#endif  // CS_COMMON_DB_IDEMPOTENCY_H_
