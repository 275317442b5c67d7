#ifndef CS_COMMON_DB_POOL_H_
#define CS_COMMON_DB_POOL_H_

// A bounded pool of MySQL/MariaDB connections (Connector/C++ 1.1 classic API).
//
// Repository code runs its SQL inside Pool::Run or Pool::InTransaction; any
// sql::SQLException thrown there is caught and mapped to a status in one place
// (MapSqlError), and a connection that lost its server is replaced, never reused.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace sql {
class Connection;
class PreparedStatement;
class SQLException;
}  // namespace sql

namespace cs::db {

// Maps a driver exception to the status a caller should act on, and logs it once:
// duplicate key -> ALREADY_EXISTS; deadlock, lock wait -> ABORTED; lost or refused
// connection -> UNAVAILABLE; anything else -> INTERNAL. Messages carry no SQL.
absl::Status MapSqlError(const sql::SQLException& e, absl::string_view operation);

// True for the client error codes that mean the connection is gone.
bool IsConnectionError(int mysql_error_code);

// One open connection and the statements prepared on it.
class Connection {
 public:
  Connection(std::unique_ptr<sql::Connection> conn, uint64_t generation);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Returns a prepared statement for `sql`, prepared once per connection.
  // Parameters must be set anew by the caller each time.
  sql::PreparedStatement& Prepare(const std::string& sql);
  // Runs a statement without parameters (DDL, locking, session settings).
  void Execute(const std::string& sql);
  sql::Connection& raw() { return *conn_; }

  uint64_t generation() const { return generation_; }
  absl::Time last_used() const { return last_used_; }
  void Touch(absl::Time now) { last_used_ = now; }
  bool broken() const { return broken_; }
  void MarkBroken() { broken_ = true; }

 private:
  std::unique_ptr<sql::Connection> conn_;
  std::unordered_map<std::string, std::unique_ptr<sql::PreparedStatement>> statements_;
  uint64_t generation_;
  absl::Time last_used_ = absl::Now();
  bool broken_ = false;
};

class Pool {
 public:
  // A borrowed connection, returned to the pool (or dropped if broken) on destruction.
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  struct Stats {
    int open = 0;     // connections that exist (idle + leased)
    int leased = 0;
    uint64_t created_total = 0;
    uint64_t wait_timeouts_total = 0;
  };

  explicit Pool(DbConfig config);
  ~Pool();

  // Creates the schema when it does not exist (connects without a schema).
  absl::Status EnsureSchema();

  // Borrows a connection, waiting up to pool_wait for one to come free.
  absl::StatusOr<Lease> Acquire();

  // Runs `fn` on a connection in autocommit mode.
  absl::Status Run(const std::function<absl::Status(Connection&)>& fn);

  // Runs `fn` in a transaction: commit when it returns OK, roll back otherwise.
  // Deadlocks and lock-wait timeouts (ABORTED) are retried up to `attempts` times.
  absl::Status InTransaction(const std::function<absl::Status(Connection&)>& fn,
                             int attempts = 3);

  template <typename T>
  absl::StatusOr<T> Transact(const std::function<absl::StatusOr<T>(Connection&)>& fn) {
    std::optional<T> out;
    absl::Status s = InTransaction([&](Connection& c) -> absl::Status {
      absl::StatusOr<T> r = fn(c);
      if (!r.ok()) return r.status();
      out = std::move(r).value();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return std::move(*out);
  }

  // SELECT 1 on a connection of its own (not one of the pool's): OK when the
  // database answers, even while every pooled connection is busy, so a loaded
  // service does not report itself down. A lost connection also retires the
  // pooled ones, so they are replaced before callers trip over them.
  absl::Status Ping();

  Stats stats() const;
  const DbConfig& config() const { return config_; }

 private:
  friend class Lease;
  absl::StatusOr<std::unique_ptr<Connection>> Connect(bool with_schema);
  void Return(std::unique_ptr<Connection> conn);

  const DbConfig config_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
  int leased_ = 0;
  uint64_t created_total_ = 0;
  uint64_t wait_timeouts_total_ = 0;
  // Bumped when a connection is lost: idle connections from before are dropped,
  // since a server restart kills them all.
  std::atomic<uint64_t> generation_{0};

  std::mutex ping_mu_;
  std::unique_ptr<Connection> ping_conn_;
};

// Formats a time as a DATETIME(6) literal in UTC: "2026-11-23 09:37:00.000000".
std::string ToSqlDatetime(absl::Time t);
// Parses what ToSqlDatetime writes (fraction optional).
absl::StatusOr<absl::Time> FromSqlDatetime(absl::string_view text);

}  // namespace cs::db

#endif  // CS_COMMON_DB_POOL_H_
