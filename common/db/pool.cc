#include "common/db/pool.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace cs::db {
namespace {

// Client and server error codes (mysqld_error.h, errmsg.h) the mapping needs.
constexpr int kDuplicateKey = 1062;
constexpr int kLockWaitTimeout = 1205;
constexpr int kDeadlock = 1213;
constexpr int kRowReferenced = 1451;
constexpr int kNoReferencedRow = 1452;
constexpr int kDataTooLong = 1406;
constexpr int kOutOfRange = 1264;
constexpr int kTooManyConnections = 1040;
constexpr int kServerShutdown = 1053;
constexpr int kConnectionKilled = 1927;
constexpr int kReadOnly = 1290;

sql::mysql::MySQL_Driver* Driver() {
  // The driver's first use initialises the client library; do it once.
  static sql::mysql::MySQL_Driver* driver = sql::mysql::get_mysql_driver_instance();
  return driver;
}

int Seconds(absl::Duration d) {
  int64_t s = absl::ToInt64Seconds(d);
  return static_cast<int>(s < 1 ? 1 : s);
}

}  // namespace

bool IsConnectionError(int code) {
  switch (code) {
    case 2002:  // can't connect through socket
    case 2003:  // can't connect to server
    case 2006:  // server has gone away
    case 2013:  // lost connection during query
    case 2055:  // lost connection at reading/writing
    case kServerShutdown:
    case kConnectionKilled:
    case 4031:  // disconnected by the server for inactivity
      return true;
    default:
      return false;
  }
}

absl::Status MapSqlError(const sql::SQLException& e, absl::string_view operation) {
  const int code = e.getErrorCode();
  absl::Status status;
  switch (code) {
    case kDuplicateKey:
      status = absl::AlreadyExistsError("already exists");
      break;
    case kDeadlock:
    case kLockWaitTimeout:
      status = absl::AbortedError("concurrent update conflict; retry the call");
      break;
    case kRowReferenced:
    case kNoReferencedRow:
      status = absl::FailedPreconditionError("a referenced record is missing or still in use");
      break;
    case kDataTooLong:
    case kOutOfRange:
      status = absl::InvalidArgumentError("a value is too long or out of range");
      break;
    case kTooManyConnections:
    case kReadOnly:
      status = absl::UnavailableError("database unavailable");
      break;
    default:
      status = IsConnectionError(code) ? absl::UnavailableError("database unavailable")
                                       : absl::InternalError("database error");
  }
  // Constraint outcomes are the caller's business; only log real failures.
  if (code != kDuplicateKey) {
    log::Write(status.code() == absl::StatusCode::kAborted ? log::Level::kInfo : log::Level::kWarn,
               "database error",
               {{"operation", operation},
                {"mysql_code", code},
                {"sql_state", std::string(e.getSQLState())},
                {"detail", std::string(e.what())},
                {"mapped_to", absl::StatusCodeToString(status.code())}});
  }
  return status;
}

Connection::Connection(std::unique_ptr<sql::Connection> conn, uint64_t generation)
    : conn_(std::move(conn)), generation_(generation) {}

Connection::~Connection() {
  statements_.clear();
  if (conn_ && !broken_) {
    try {
      conn_->close();
    } catch (const sql::SQLException&) {
      // Closing a dead connection has nothing left to clean up.
    }
  }
}

sql::PreparedStatement& Connection::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return *it->second;
  std::unique_ptr<sql::PreparedStatement> stmt(conn_->prepareStatement(sql));
  auto* raw = stmt.get();
  statements_.emplace(sql, std::move(stmt));
  return *raw;
}

void Connection::Execute(const std::string& sql) {
  std::unique_ptr<sql::Statement> stmt(conn_->createStatement());
  if (stmt->execute(sql)) {
    // Drain a result set so the connection is ready for the next command.
    std::unique_ptr<sql::ResultSet> rs(stmt->getResultSet());
    while (rs->next()) {
    }
  }
}

Pool::Lease::~Lease() {
  if (conn_ != nullptr && pool_ != nullptr) pool_->Return(std::move(conn_));
}

Pool::Pool(DbConfig config) : config_(std::move(config)) {}

Pool::~Pool() {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.clear();
  std::lock_guard<std::mutex> ping_lock(ping_mu_);
  ping_conn_.reset();
}

absl::StatusOr<std::unique_ptr<Connection>> Pool::Connect(bool with_schema) {
  sql::ConnectOptionsMap options;
  options["hostName"] = sql::SQLString(config_.host);
  options["port"] = config_.port;
  options["userName"] = sql::SQLString(config_.user);
  options["password"] = sql::SQLString(config_.password);
  options["OPT_CONNECT_TIMEOUT"] = Seconds(config_.connect_timeout);
  options["OPT_READ_TIMEOUT"] = Seconds(config_.io_timeout);
  options["OPT_WRITE_TIMEOUT"] = Seconds(config_.io_timeout);
  options["OPT_RECONNECT"] = false;
  options["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
  if (with_schema) options["schema"] = sql::SQLString(config_.schema);
  const uint64_t generation = generation_.load();
  try {
    std::unique_ptr<sql::Connection> raw(Driver()->connect(options));
    auto conn = std::make_unique<Connection>(std::move(raw), generation);
    conn->Execute("SET time_zone = '+00:00'");
    conn->Execute(
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
        "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'");
    conn->Execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    std::lock_guard<std::mutex> lock(mu_);
    ++created_total_;
    return conn;
  } catch (const sql::SQLException& e) {
    absl::Status s = MapSqlError(e, "connect");
    if (s.code() == absl::StatusCode::kInternal) {
      // An unknown schema or bad credentials: still nothing a client can act on.
      return absl::UnavailableError("database unavailable");
    }
    return s;
  }
}

absl::Status Pool::EnsureSchema() {
  absl::StatusOr<std::unique_ptr<Connection>> conn = Connect(/*with_schema=*/false);
  if (!conn.ok()) return conn.status();
  try {
    // The schema name was validated to [A-Za-z0-9_]{1,64}; identifiers cannot be bound.
    (*conn)->Execute(absl::StrCat("CREATE DATABASE IF NOT EXISTS `", config_.schema,
                                  "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"));
  } catch (const sql::SQLException& e) {
    (*conn)->MarkBroken();
    return MapSqlError(e, "create schema");
  }
  return absl::OkStatus();
}

absl::StatusOr<Pool::Lease> Pool::Acquire() {
  const absl::Time deadline = absl::Now() + config_.pool_wait;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    const uint64_t generation = generation_.load();
    while (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->generation() != generation) {
        --open_;
        conn->MarkBroken();  // its server went away; closing would only block
        continue;
      }
      ++leased_;
      if (absl::Now() - conn->last_used() >= config_.validate_after_idle) {
        lock.unlock();
        bool valid = false;
        try {
          valid = conn->raw().isValid();
        } catch (const sql::SQLException&) {
        }
        lock.lock();
        if (!valid) {
          --leased_;
          --open_;
          conn->MarkBroken();
          continue;
        }
      }
      return Lease(this, std::move(conn));
    }
    if (open_ < config_.pool_size) {
      ++open_;
      ++leased_;
      lock.unlock();
      absl::StatusOr<std::unique_ptr<Connection>> conn = Connect(/*with_schema=*/true);
      if (!conn.ok()) {
        lock.lock();
        --open_;
        --leased_;
        cv_.notify_one();
        return conn.status();
      }
      return Lease(this, std::move(conn).value());
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration() ||
        cv_.wait_for(lock, absl::ToChronoNanoseconds(left)) == std::cv_status::timeout) {
      if (idle_.empty() && open_ >= config_.pool_size) {
        ++wait_timeouts_total_;
        return absl::UnavailableError("database connection pool exhausted; retry the call");
      }
    }
  }
}

void Pool::Return(std::unique_ptr<Connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  --leased_;
  conn->Touch(absl::Now());
  if (conn->broken() || conn->generation() != generation_.load()) {
    --open_;
    conn->MarkBroken();
    conn.reset();
  } else {
    idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

absl::Status Pool::Run(const std::function<absl::Status(Connection&)>& fn) {
  absl::StatusOr<Lease> lease = Acquire();
  if (!lease.ok()) return lease.status();
  Connection& conn = **lease;
  try {
    return fn(conn);
  } catch (const sql::SQLException& e) {
    if (IsConnectionError(e.getErrorCode())) {
      conn.MarkBroken();
      generation_.fetch_add(1);
    }
    return MapSqlError(e, "query");
  }
}

absl::Status Pool::InTransaction(const std::function<absl::Status(Connection&)>& fn,
                                 int attempts) {
  absl::Status last;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    absl::StatusOr<Lease> lease = Acquire();
    if (!lease.ok()) return lease.status();
    Connection& conn = **lease;
    bool began = false;
    // An explicit transaction under autocommit: one round trip to begin it and none
    // after its end, where switching autocommit off and on again takes two.
    try {
      conn.Execute("START TRANSACTION");
      began = true;
      absl::Status s = fn(conn);
      if (s.ok()) {
        conn.Execute("COMMIT");
        return s;
      }
      conn.Execute("ROLLBACK");
      last = s;
    } catch (const sql::SQLException& e) {
      last = MapSqlError(e, "transaction");
      if (IsConnectionError(e.getErrorCode())) {
        conn.MarkBroken();
        generation_.fetch_add(1);
        return last;  // the outcome of a commit in flight is unknown: do not replay it
      }
      if (began) {
        try {
          conn.Execute("ROLLBACK");
        } catch (const sql::SQLException&) {
          conn.MarkBroken();
        }
      }
    }
    if (last.code() != absl::StatusCode::kAborted) return last;
  }
  return last;
}

absl::Status Pool::Ping() {
  std::lock_guard<std::mutex> lock(ping_mu_);
  if (ping_conn_ == nullptr) {
    absl::StatusOr<std::unique_ptr<Connection>> conn = Connect(/*with_schema=*/true);
    if (!conn.ok()) return conn.status();
    ping_conn_ = *std::move(conn);
  }
  try {
    ping_conn_->Execute("SELECT 1");
    return absl::OkStatus();
  } catch (const sql::SQLException& e) {
    ping_conn_->MarkBroken();
    ping_conn_.reset();
    if (IsConnectionError(e.getErrorCode())) generation_.fetch_add(1);
    return MapSqlError(e, "ping");
  }
}

Pool::Stats Pool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Stats{open_, leased_, created_total_, wait_timeouts_total_};
}

namespace {

// DATETIME's range: outside it the text goes through absl's formatter and parser.
constexpr int64_t kFirstYear = 1000;
constexpr int64_t kLastYear = 9999;

void PutDigits(char* out, int64_t value, int digits) {
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// Digits [at, at + n) of `text` as a number, or -1 when one is not a digit.
int64_t Digits(absl::string_view text, size_t at, size_t n) {
  int64_t v = 0;
  for (size_t i = at; i < at + n; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

// Written and read on every row that has a time, so both go by hand for the one
// shape the server sends and takes ("YYYY-MM-DD HH:MM:SS[.ffffff]"); the results
// are absl's (SqlDatetimeTest compares them over random times).
std::string ToSqlDatetime(absl::Time t) {
  const absl::CivilSecond cs = absl::ToCivilSecond(t, absl::UTCTimeZone());
  if (cs.year() < kFirstYear || cs.year() > kLastYear) {
    return absl::FormatTime("%Y-%m-%d %H:%M:%E6S", t, absl::UTCTimeZone());
  }
  // In [0, 1 s): the civil second is the floor of the instant.
  const int64_t micros = absl::ToInt64Microseconds(t - absl::FromCivil(cs, absl::UTCTimeZone()));
  std::string out(26, ' ');
  char* p = out.data();
  PutDigits(p, cs.year(), 4);
  p[4] = '-';
  PutDigits(p + 5, cs.month(), 2);
  p[7] = '-';
  PutDigits(p + 8, cs.day(), 2);
  PutDigits(p + 11, cs.hour(), 2);
  p[13] = ':';
  PutDigits(p + 14, cs.minute(), 2);
  p[16] = ':';
  PutDigits(p + 17, cs.second(), 2);
  p[19] = '.';
  PutDigits(p + 20, micros, 6);
  return out;
}

absl::StatusOr<absl::Time> FromSqlDatetime(absl::string_view text) {
  if (text.size() >= 19 && text[4] == '-' && text[7] == '-' && text[10] == ' ' &&
      text[13] == ':' && text[16] == ':' && (text.size() == 19 || text[19] == '.')) {
    const int64_t year = Digits(text, 0, 4);
    const int64_t month = Digits(text, 5, 2);
    const int64_t day = Digits(text, 8, 2);
    const int64_t hour = Digits(text, 11, 2);
    const int64_t minute = Digits(text, 14, 2);
    const int64_t second = Digits(text, 17, 2);
    // DATETIME(6) sends up to six fraction digits; longer fractions go to absl.
    const size_t fraction = text.size() > 20 ? text.size() - 20 : 0;
    const int64_t micros = fraction > 0 && fraction <= 6 ? Digits(text, 20, fraction) : 0;
    const bool fraction_ok = text.size() == 19 || (fraction > 0 && fraction <= 6 && micros >= 0);
    if (year >= kFirstYear && month >= 1 && day >= 1 && hour >= 0 && hour <= 23 && minute >= 0 &&
        minute <= 59 && second >= 0 && second <= 59 && fraction_ok) {
      const absl::CivilSecond cs(year, month, day, hour, minute, second);
      // A day past the month's end normalises into the next month: refused, as absl does.
      if (cs.month() == month && cs.day() == day) {
        int64_t scaled = micros;
        for (size_t i = fraction; i < 6; ++i) scaled *= 10;
        return absl::FromCivil(cs, absl::UTCTimeZone()) + absl::Microseconds(scaled);
      }
    }
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%d %H:%M:%E*S", std::string(text), absl::UTCTimeZone(), &t, &err)) {
    return absl::InternalError(absl::StrCat("bad DATETIME value from the database: ", err));
  }
  return t;
}

}  // namespace cs::db
