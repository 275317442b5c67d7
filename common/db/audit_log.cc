#include "common/db/audit_log.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <iterator>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/db/pool.h"
#include "common/db/sql_values.h"
#include "common/status.h"

namespace cs::db {
namespace {

constexpr int kColumns = 11;

// The industries whose reads are audited (DOMAIN §5).
constexpr char kRegulatedIndustry[] = "industry IN ('HEALTHCARE', 'FINANCIAL_SERVICES')";

// Values longer than their column are cut rather than refused: an audit row must be
// written whatever the caller sent (an oversized id is itself worth recording).
std::string Fit(const std::string& value, size_t max) {
  return value.size() <= max ? value : value.substr(0, max);
}

}  // namespace

absl::Status AuditLog::Write(const std::vector<const AuditRecord*>& rows) {
  // One statement is atomic by itself; only rows of several chunks need a
  // transaction (and its two extra round trips).
  auto append = [&](Connection& conn) -> absl::Status {
    ForEachChunk(rows.size(), [&](size_t offset, size_t count) {
      auto& stmt = conn.Prepare(absl::StrCat(
          "INSERT INTO audit_events (occurred_at, principal, method, access, account_id,"
          " resource_type, resource_id, status_code, request_id, peer, client_subject)"
          " VALUES ",
          RowPlaceholders(count, kColumns)));
      int i = 0;
      for (size_t r = offset; r < offset + count; ++r) {
        const AuditRecord& a = *rows[r];
        stmt.setString(++i, ToSqlDatetime(a.occurred_at));
        stmt.setString(++i, Fit(a.principal, 255));
        stmt.setString(++i, Fit(a.method, 255));
        stmt.setString(++i, a.access == AuditAccess::kWrite ? "WRITE" : "READ");
        stmt.setString(++i, Fit(a.account_id, 128));
        stmt.setString(++i, Fit(a.resource_type, 64));
        stmt.setString(++i, Fit(a.resource_id, 255));
        stmt.setInt(++i, a.status_code);
        stmt.setString(++i, Fit(a.request_id, 128));
        stmt.setString(++i, Fit(a.peer, 255));
        stmt.setString(++i, Fit(a.client_subject, 512));
      }
      stmt.executeUpdate();
    });
    return absl::OkStatus();
  };
  const bool one_statement =
      std::find(std::begin(kMultiRowChunks), std::end(kMultiRowChunks), rows.size()) !=
      std::end(kMultiRowChunks);
  return one_statement ? pool_->Run(append) : pool_->InTransaction(append);
}

absl::Status AuditLog::WriteAlone(const std::vector<AuditRecord>& records) {
  std::vector<const AuditRecord*> rows;
  rows.reserve(records.size());
  for (const AuditRecord& r : records) rows.push_back(&r);
  return Write(rows);
}

absl::Status AuditLog::Append(const std::vector<AuditRecord>& records) {
  if (records.empty()) return absl::OkStatus();
  if (max_group_rows_ <= 1) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.calls;
      ++stats_.groups;
    }
    return WriteAlone(records);
  }
  Pending pending;
  pending.records = &records;
  std::unique_lock<std::mutex> lock(mu_);
  ++stats_.calls;
  queue_.push_back(&pending);
  for (;;) {
    if (pending.done) return pending.out;
    if (pending.alone) {
      ++stats_.alone;
      lock.unlock();
      return WriteAlone(records);
    }
    if (running_) {
      ++stats_.waiting;
      cv_.wait(lock);
      --stats_.waiting;
      continue;
    }
    // No group running: this call takes the queue, which holds at least itself
    // (a call leaves the queue only in a group, and only that group's leader
    // marks it done).
    running_ = true;
    std::vector<Pending*> group;
    std::vector<const AuditRecord*> rows;
    while (!queue_.empty()) {
      const std::vector<AuditRecord>& next = *queue_.front()->records;
      if (!group.empty() &&
          rows.size() + next.size() > static_cast<size_t>(max_group_rows_)) {
        break;
      }
      for (const AuditRecord& r : next) rows.push_back(&r);
      group.push_back(queue_.front());
      queue_.pop_front();
    }
    ++stats_.groups;
    lock.unlock();
    absl::Status written;
    try {
      written = Write(rows);
    } catch (...) {
      written = absl::InternalError("audit rows not written");
    }
    lock.lock();
    running_ = false;
    for (Pending* p : group) {
      if (written.ok() || group.size() == 1) {
        p->out = written;
        p->done = true;
      } else {
        p->alone = true;
      }
    }
    cv_.notify_all();
  }
}

AuditLog::Stats AuditLog::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

absl::StatusOr<AuditPage> AuditLog::List(const AuditQuery& q) {
  AuditPage page;
  RETURN_IF_ERROR(pool_->Run([&](Connection& conn) -> absl::Status {
    // One fixed statement: an empty filter value matches everything. The newest-first
    // walk of the primary key stops as soon as a page is full.
    auto& stmt = conn.Prepare(
        "SELECT event_id, occurred_at, principal, method, access, account_id, resource_type,"
        " resource_id, status_code, request_id, peer, client_subject FROM audit_events"
        " WHERE event_id < ? AND (? = '' OR principal = ?) AND (? = '' OR account_id = ?)"
        " AND (? = '' OR resource_id = ?) AND (? = '' OR method = ?)"
        " AND occurred_at >= ? AND occurred_at < ?"
        " ORDER BY event_id DESC LIMIT ?");
    int i = 0;
    stmt.setInt64(++i, q.before_event_id > 0 ? q.before_event_id : INT64_MAX);
    for (const std::string* v : {&q.principal, &q.account_id, &q.resource_id, &q.method}) {
      stmt.setString(++i, *v);
      stmt.setString(++i, *v);
    }
    stmt.setString(++i, q.since ? ToSqlDatetime(*q.since) : "1000-01-01 00:00:00");
    stmt.setString(++i, q.until ? ToSqlDatetime(*q.until) : "9999-12-31 23:59:59");
    stmt.setInt(++i, q.page_size + 1);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    while (rs->next()) {
      if (static_cast<int>(page.events.size()) == q.page_size) {
        page.next_before_event_id = page.events.back().event_id;
        break;
      }
      AuditRecord a;
      a.event_id = rs->getInt64(1);
      ASSIGN_OR_RETURN(a.occurred_at, FromSqlDatetime(std::string(rs->getString(2))));
      a.principal = rs->getString(3);
      a.method = rs->getString(4);
      a.access = std::string(rs->getString(5)) == "WRITE" ? AuditAccess::kWrite : AuditAccess::kRead;
      a.account_id = rs->getString(6);
      a.resource_type = rs->getString(7);
      a.resource_id = rs->getString(8);
      a.status_code = rs->getInt(9);
      a.request_id = rs->getString(10);
      a.peer = rs->getString(11);
      a.client_subject = rs->getString(12);
      page.events.push_back(std::move(a));
    }
    return absl::OkStatus();
  }));
  return page;
}

absl::StatusOr<std::set<std::string>> RegulatedAccountsIn(
    Pool& pool, const std::vector<std::string>& account_ids) {
  std::set<std::string> out;
  if (account_ids.empty()) return out;
  RETURN_IF_ERROR(pool.Run([&](Connection& conn) -> absl::Status {
    ForEachChunk(account_ids.size(), [&](size_t offset, size_t count) {
      auto& stmt = conn.Prepare(absl::StrCat(
          "SELECT account_id FROM accounts WHERE ", kRegulatedIndustry,
          " AND account_id IN ", RowPlaceholders(1, count)));
      for (size_t k = 0; k < count; ++k) {
        stmt.setString(static_cast<int>(k + 1), account_ids[offset + k]);
      }
      std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
      while (rs->next()) out.insert(std::string(rs->getString(1)));
    });
    return absl::OkStatus();
  }));
  return out;
}

absl::Status ForEachRegulatedAccount(Pool& pool,
                                     const std::function<void(const std::string&)>& fn) {
  return pool.Run([&](Connection& conn) -> absl::Status {
    auto& stmt =
        conn.Prepare(absl::StrCat("SELECT account_id FROM accounts WHERE ", kRegulatedIndustry));
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    while (rs->next()) fn(std::string(rs->getString(1)));
    return absl::OkStatus();
  });
}

}  // namespace cs::db
