#ifndef CS_COMMON_DB_AUDIT_LOG_H_
#define CS_COMMON_DB_AUDIT_LOG_H_

// The audit trail of one service, kept in its own schema (table audit_events, made
// by each service's migration): who did what to which account, when, from where,
// and how it ended. Rows are only ever appended.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cs::db {

class Pool;

enum class AuditAccess { kWrite, kRead };

struct AuditRecord {
  int64_t event_id = 0;  // assigned by the database
  absl::Time occurred_at;
  std::string principal;  // "anonymous" when authentication is off
  std::string method;     // full gRPC method, "/cs.health.v1.AccountHealthService/SetOverride"
  AuditAccess access = AuditAccess::kWrite;
  std::string account_id;     // "" when the call names no account
  std::string resource_type;  // the request's other id field, e.g. "opportunity_id"
  std::string resource_id;
  int status_code = 0;  // the gRPC status code the caller got
  std::string request_id;
  std::string peer;            // "ipv4:10.0.0.7:51234"
  std::string client_subject;  // the client certificate's subject under mutual TLS
};

struct AuditQuery {
  // Empty strings and unset times match everything.
  std::string principal;
  std::string account_id;
  std::string resource_id;
  std::string method;
  std::optional<absl::Time> since;  // inclusive
  std::optional<absl::Time> until;  // exclusive
  int64_t before_event_id = 0;      // 0: from the newest
  int page_size = 50;
};

struct AuditPage {
  std::vector<AuditRecord> events;  // newest first
  int64_t next_before_event_id = 0;  // 0: no more
};

class AuditLog {
 public:
  struct Stats {
    int64_t calls = 0;   // Append calls with rows
    int64_t groups = 0;  // transactions (or single statements) that wrote them
    int64_t alone = 0;   // calls written again on their own after their group failed
    int waiting = 0;     // calls queued now behind a running group
  };

  // `max_group_rows`: the most rows one group writes (1: every call alone).
  explicit AuditLog(Pool* pool, int max_group_rows = 1024)
      : pool_(pool), max_group_rows_(max_group_rows) {}

  // Writes the call's rows before returning: a call is recorded whole or not at all.
  // Concurrent calls are written together: a call that finds no group running takes
  // every queued call (up to max_group_rows rows, its own first) and writes their rows
  // in one transaction, one multi-row statement per chunk; the calls queued behind it
  // wait, and the next of them takes the queue that formed meanwhile. When a group's
  // transaction fails, each of its calls writes its own rows again in its own thread,
  // so one bad call fails alone and a failing database fails each call once.
  absl::Status Append(const std::vector<AuditRecord>& records);
  absl::StatusOr<AuditPage> List(const AuditQuery& query);

  Stats stats() const;

 private:
  struct Pending {
    const std::vector<AuditRecord>* records = nullptr;
    absl::Status out;
    bool done = false;
    bool alone = false;  // its group failed: write it again on its own
  };
  absl::Status Write(const std::vector<const AuditRecord*>& rows);
  absl::Status WriteAlone(const std::vector<AuditRecord>& records);

  Pool* pool_;
  const int max_group_rows_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending*> queue_;
  bool running_ = false;
  Stats stats_;
};

// Which of `account_ids` belong to a regulated industry (healthcare, financial
// services), read from the schema's `accounts` table (account_id, industry) that
// health and playbooks both keep.
absl::StatusOr<std::set<std::string>> RegulatedAccountsIn(Pool& pool,
                                                          const std::vector<std::string>& account_ids);
// Every account of a regulated industry in that table, in one read: `fn` per id.
absl::Status ForEachRegulatedAccount(Pool& pool,
                                     const std::function<void(const std::string&)>& fn);

}  // namespace cs::db

#endif  // CS_COMMON_DB_AUDIT_LOG_H_
