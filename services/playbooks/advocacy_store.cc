#include "services/playbooks/advocacy_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/db/idempotency.h"
#include "common/db/sql_values.h"
#include "common/status.h"

namespace cs::playbooks {
namespace {

using ResultSetPtr = std::unique_ptr<sql::ResultSet>;

// The standing row exists before any of its columns is set.
void EnsureStanding(db::Connection& conn, const std::string& account_id, absl::Time now) {
  auto& stmt = conn.Prepare(
      "INSERT IGNORE INTO account_standing (account_id, band, arr_currency, updated_at)"
      " VALUES (?, '', '', ?)");
  stmt.setString(1, account_id);
  stmt.setString(2, db::ToSqlDatetime(now));
  stmt.executeUpdate();
}

constexpr char kAskColumns[] =
    "ask_id, account_id, kind, status, asked_by, note, override_reason, asked_at, updated_at";

absl::StatusOr<AdvocacyAsk> ReadAsk(sql::ResultSet& rs) {
  AdvocacyAsk a;
  a.ask_id = rs.getInt64(1);
  a.account_id = db::GetString(rs, 2);
  std::optional<AdvocacyKind> kind = AdvocacyKindFromName(db::GetString(rs, 3));
  std::optional<AskStatus> status = AskStatusFromName(db::GetString(rs, 4));
  if (!kind || !status) return absl::InternalError("unknown kind or status in advocacy_asks");
  a.kind = *kind;
  a.status = *status;
  a.asked_by = db::GetString(rs, 5);
  a.note = db::GetString(rs, 6);
  a.override_reason = db::GetString(rs, 7);
  ASSIGN_OR_RETURN(a.asked_at, db::FromSqlDatetime(db::GetString(rs, 8)));
  ASSIGN_OR_RETURN(a.updated_at, db::FromSqlDatetime(db::GetString(rs, 9)));
  return a;
}

absl::StatusOr<std::optional<AdvocacyAsk>> FindAsk(db::Connection& conn, int64_t ask_id,
                                                   bool for_update) {
  auto& stmt = conn.Prepare(absl::StrCat("SELECT ", kAskColumns,
                                         " FROM advocacy_asks WHERE ask_id = ?",
                                         for_update ? " FOR UPDATE" : ""));
  stmt.setInt64(1, ask_id);
  ResultSetPtr rs(stmt.executeQuery());
  if (!rs->next()) return std::optional<AdvocacyAsk>();
  ASSIGN_OR_RETURN(AdvocacyAsk a, ReadAsk(*rs));
  return std::optional<AdvocacyAsk>(std::move(a));
}

}  // namespace

void StandingUpdates::Add(const HealthEvent& e) {
  if (e.kind != HealthEventKind::kScoreChanged && e.kind != HealthEventKind::kBandChanged) return;
  if (e.band.empty() || e.band == "UNSPECIFIED") return;
  Pending& p = pending_[e.account_id];
  p.score = e.score;
  p.band = e.band;
  if (e.band != "GREEN") {
    p.green_from.reset();
    p.restarted = true;
  } else if (!p.green_from.has_value()) {
    p.green_from = e.occurred_at;
  }
}

void StandingUpdates::Write(db::Connection& conn, absl::Time now) {
  // Rows that keep a stored green_since (every event GREEN, or the last one not)
  // and rows whose green_since restarted in this page take different updates.
  std::vector<const std::pair<const std::string, Pending>*> rows[2];
  for (const auto& entry : pending_) {
    const bool restarted = entry.second.restarted && entry.second.band == "GREEN";
    rows[restarted ? 1 : 0].push_back(&entry);
  }
  const std::string updated_at = db::ToSqlDatetime(now);
  for (int restarted = 0; restarted < 2; ++restarted) {
    const auto& group = rows[restarted];
    // Binary chunk sizes, as the page's reads: a page holds a few hundred accounts.
    db::ForEachChunk(group.size(), db::kBinaryRowChunks, [&](size_t offset, size_t count) {
      auto& stmt = conn.Prepare(absl::StrCat(
          "INSERT INTO account_standing (account_id, score, band, green_since, arr_currency,"
          " updated_at) VALUES ",
          db::RowPlaceholders(count, 6),
          " ON DUPLICATE KEY UPDATE score = VALUES(score), band = VALUES(band), green_since = ",
          restarted ? "VALUES(green_since)"
                    : "IF(VALUES(band) = 'GREEN', COALESCE(green_since, VALUES(green_since)), NULL)",
          ", updated_at = VALUES(updated_at)"));
      for (size_t i = 0; i < count; ++i) {
        const auto& [account_id, p] = *group[offset + i];
        const int at = static_cast<int>(i * 6);
        stmt.setString(at + 1, account_id);
        stmt.setDouble(at + 2, p.score);
        stmt.setString(at + 3, p.band);
        db::SetOptionalTime(stmt, at + 4, p.band == "GREEN" ? p.green_from : std::nullopt);
        stmt.setString(at + 5, "");  // arr_currency until an ACCOUNT_UPSERTED sets it
        stmt.setString(at + 6, updated_at);
      }
      stmt.executeUpdate();
    });
  }
  pending_.clear();
}

absl::Status ApplyOutcomeEvent(db::Connection& conn, const HealthEvent& e, absl::Time now,
                               StandingUpdates& standing) {
  switch (e.kind) {
    case HealthEventKind::kScoreChanged:
    case HealthEventKind::kBandChanged:
      standing.Add(e);
      return absl::OkStatus();
    case HealthEventKind::kAccountUpserted: {
      if (!e.arr_minor.has_value()) return absl::OkStatus();
      EnsureStanding(conn, e.account_id, now);
      auto& stmt = conn.Prepare(
          "UPDATE account_standing SET arr_minor = ?, arr_currency = ?, updated_at = ?"
          " WHERE account_id = ?");
      stmt.setInt64(1, *e.arr_minor);
      stmt.setString(2, e.arr_currency);
      stmt.setString(3, db::ToSqlDatetime(now));
      stmt.setString(4, e.account_id);
      stmt.executeUpdate();
      return absl::OkStatus();
    }
    case HealthEventKind::kNpsRecorded: {
      if (!e.signal_at.has_value()) return absl::OkStatus();
      EnsureStanding(conn, e.account_id, now);
      // The latest answer wins, whatever order late answers arrive in.
      auto& stmt = conn.Prepare(
          "UPDATE account_standing SET nps = ?, nps_at = ?, updated_at = ?"
          " WHERE account_id = ? AND (nps_at IS NULL OR nps_at <= ?)");
      stmt.setDouble(1, e.nps);
      stmt.setString(2, db::ToSqlDatetime(*e.signal_at));
      stmt.setString(3, db::ToSqlDatetime(now));
      stmt.setString(4, e.account_id);
      stmt.setString(5, db::ToSqlDatetime(*e.signal_at));
      stmt.executeUpdate();
      return absl::OkStatus();
    }
    case HealthEventKind::kFirstValueReached: {
      if (!e.signal_at.has_value()) return absl::OkStatus();
      EnsureStanding(conn, e.account_id, now);
      auto& standing = conn.Prepare(
          "UPDATE account_standing SET first_value_at = ?, updated_at = ?"
          " WHERE account_id = ? AND first_value_at IS NULL");
      standing.setString(1, db::ToSqlDatetime(*e.signal_at));
      standing.setString(2, db::ToSqlDatetime(now));
      standing.setString(3, e.account_id);
      standing.executeUpdate();
      auto& run = conn.Prepare(
          "UPDATE runs SET reached_value_at = ? WHERE account_id = ? AND trigger_kind = ?"
          " AND reached_value_at IS NULL ORDER BY triggered_at DESC LIMIT 1");
      run.setString(1, db::ToSqlDatetime(*e.signal_at));
      run.setString(2, e.account_id);
      run.setString(3, kOnboardingTrigger);
      run.executeUpdate();
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

absl::StatusOr<std::vector<OnboardingFact>> MySqlOutcomeRepository::LoadOnboardingFacts(
    absl::Time from, absl::Time to, const std::string& tier, absl::Time now) {
  std::vector<OnboardingFact> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    // One pass over the period's onboarding runs (runs_by_trigger), with their
    // tasks by run (tasks_by_run). A task is overdue once its SLA past the due
    // time has run out (when it escalates), so a day-0 task is not late at once. First value falls back to the standing for a
    // run opened after the value event was applied.
    auto& stmt = conn.Prepare(
        "SELECT r.run_id, r.account_id, r.tier, r.owner_id, r.state, r.triggered_at,"
        " COALESCE(r.reached_value_at, s.first_value_at), a.churned_at IS NOT NULL,"
        " (SELECT MAX(t.due_at) FROM tasks t WHERE t.run_id = r.run_id),"
        " (SELECT COUNT(*) FROM tasks t WHERE t.run_id = r.run_id AND t.status = 'OPEN'"
        "   AND t.due_at + INTERVAL t.sla_seconds SECOND < ?),"
        " (SELECT MIN(t.due_at) FROM tasks t WHERE t.run_id = r.run_id AND t.status = 'OPEN'"
        "   AND t.due_at + INTERVAL t.sla_seconds SECOND < ?)"
        " FROM runs r LEFT JOIN account_standing s ON s.account_id = r.account_id"
        " LEFT JOIN accounts a ON a.account_id = r.account_id"
        " WHERE r.trigger_kind = ? AND r.triggered_at >= ? AND r.triggered_at < ?"
        " AND (? = '' OR r.tier = ?) ORDER BY r.triggered_at, r.run_id");
    stmt.setString(1, db::ToSqlDatetime(now));
    stmt.setString(2, db::ToSqlDatetime(now));
    stmt.setString(3, kOnboardingTrigger);
    stmt.setString(4, db::ToSqlDatetime(from));
    stmt.setString(5, db::ToSqlDatetime(to));
    stmt.setString(6, tier);
    stmt.setString(7, tier);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      OnboardingFact f;
      f.run_id = db::GetString(*rs, 1);
      f.account_id = db::GetString(*rs, 2);
      f.tier = db::GetString(*rs, 3);
      f.owner_id = db::GetString(*rs, 4);
      f.state = RunStateFromName(db::GetString(*rs, 5)).value_or(RunState::kUnspecified);
      ASSIGN_OR_RETURN(f.started_at, db::FromSqlDatetime(db::GetString(*rs, 6)));
      ASSIGN_OR_RETURN(f.reached_value_at, db::GetOptionalTime(*rs, 7));
      f.churned = rs->getBoolean(8);
      ASSIGN_OR_RETURN(f.last_due_at, db::GetOptionalTime(*rs, 9));
      f.overdue_tasks = rs->getInt(10);
      ASSIGN_OR_RETURN(f.oldest_overdue_due_at, db::GetOptionalTime(*rs, 11));
      out.push_back(std::move(f));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<AdvocateCandidate>> MySqlOutcomeRepository::ListCandidates(
    const CandidateCriteria& c, absl::Time now) {
  std::vector<AdvocateCandidate> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    // A range of standing_green (the scores of GREEN accounts), each row checked
    // against its account, its active runs (runs_one_active starts with account_id)
    // and its recent asks (asks_by_account): no per-account round trip, whatever
    // the portfolio size.
    auto& stmt = conn.Prepare(
        "SELECT s.account_id, a.tier, a.owner_id, s.score, s.nps, s.nps_at, s.green_since,"
        " s.arr_minor, s.arr_currency"
        " FROM account_standing s JOIN accounts a ON a.account_id = s.account_id"
        " WHERE s.green_score >= ? AND s.nps >= ? AND s.green_since <= ?"
        " AND a.churned_at IS NULL AND (? = '' OR a.tier = ?)"
        " AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.account_id = s.account_id"
        "   AND r.active_flag = 1 AND (r.trigger_band IN ('RED', 'YELLOW')"
        "   OR r.trigger_kind IN ('ALERT_OPENED', 'ACCOUNT_CHURNED')))"
        " AND NOT EXISTS (SELECT 1 FROM advocacy_asks k WHERE k.account_id = s.account_id"
        "   AND k.asked_at > ?)"
        " ORDER BY s.score DESC, s.nps DESC, s.green_since ASC,"
        " COALESCE(s.arr_minor, -1) DESC, s.account_id ASC LIMIT ?");
    stmt.setDouble(1, c.min_score);
    stmt.setDouble(2, c.min_nps);
    stmt.setString(3, db::ToSqlDatetime(now - absl::Hours(24) * c.min_green_days));
    stmt.setString(4, c.tier);
    stmt.setString(5, c.tier);
    stmt.setString(6, db::ToSqlDatetime(now - kAskQuietPeriod));
    stmt.setInt(7, c.limit);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      AdvocateCandidate a;
      a.account_id = db::GetString(*rs, 1);
      a.tier = db::GetString(*rs, 2);
      a.owner_id = db::GetString(*rs, 3);
      a.score = rs->getDouble(4);
      a.nps = rs->getDouble(5);
      ASSIGN_OR_RETURN(a.nps_at, db::FromSqlDatetime(db::GetString(*rs, 6)));
      ASSIGN_OR_RETURN(a.green_since, db::FromSqlDatetime(db::GetString(*rs, 7)));
      a.days_stable = absl::ToDoubleHours(now - a.green_since) / 24.0;
      if (!rs->isNull(8)) a.arr_minor = rs->getInt64(8);
      a.arr_currency = db::GetString(*rs, 9);
      out.push_back(std::move(a));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<AdvocacyAsk> MySqlOutcomeRepository::RecordAsk(
    const db::WriteKey& key, const db::ResultCodec<AdvocacyAsk>& codec, const AdvocacyAsk& ask,
    absl::Time now) {
  return db::RunIdempotent<AdvocacyAsk>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<AdvocacyAsk> {
        // The account row is the lock that serialises two asks of one account, so
        // both cannot pass the quarterly check.
        auto& account = conn.Prepare("SELECT account_id FROM accounts WHERE account_id = ? FOR UPDATE");
        account.setString(1, ask.account_id);
        {
          ResultSetPtr rs(account.executeQuery());
          if (!rs->next()) {
            return absl::NotFoundError(absl::StrCat("account '", ask.account_id, "' not found"));
          }
        }
        auto& last = conn.Prepare(
            "SELECT asked_at, kind FROM advocacy_asks WHERE account_id = ?"
            " ORDER BY asked_at DESC, ask_id DESC LIMIT 1");
        last.setString(1, ask.account_id);
        {
          ResultSetPtr rs(last.executeQuery());
          if (rs->next() && ask.override_reason.empty()) {
            ASSIGN_OR_RETURN(absl::Time asked_at, db::FromSqlDatetime(db::GetString(*rs, 1)));
            if (asked_at > now - kAskQuietPeriod) {
              return absl::FailedPreconditionError(absl::StrCat(
                  "account '", ask.account_id, "' was last asked on ",
                  absl::FormatTime("%Y-%m-%d", asked_at, absl::UTCTimeZone()), " (",
                  db::GetString(*rs, 2), "); asks are at most one per 90 days, next from ",
                  absl::FormatTime("%Y-%m-%d", asked_at + kAskQuietPeriod, absl::UTCTimeZone()),
                  " unless override_reason is given"));
            }
          }
        }
        AdvocacyAsk out = ask;
        out.asked_at = now;
        out.updated_at = now;
        auto& insert = conn.Prepare(
            "INSERT INTO advocacy_asks (account_id, kind, status, asked_by, note, override_reason,"
            " asked_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        insert.setString(1, out.account_id);
        insert.setString(2, std::string(AdvocacyKindName(out.kind)));
        insert.setString(3, std::string(AskStatusName(out.status)));
        insert.setString(4, out.asked_by);
        insert.setString(5, out.note);
        insert.setString(6, out.override_reason);
        insert.setString(7, db::ToSqlDatetime(now));
        insert.setString(8, db::ToSqlDatetime(now));
        insert.executeUpdate();
        ResultSetPtr id(conn.Prepare("SELECT LAST_INSERT_ID()").executeQuery());
        if (id->next()) out.ask_id = id->getInt64(1);
        return out;
      });
}

absl::StatusOr<AdvocacyAsk> MySqlOutcomeRepository::UpdateAsk(
    const db::WriteKey& key, const db::ResultCodec<AdvocacyAsk>& codec, int64_t ask_id,
    AskStatus status, const std::string& note, absl::Time now) {
  return db::RunIdempotent<AdvocacyAsk>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<AdvocacyAsk> {
        ASSIGN_OR_RETURN(std::optional<AdvocacyAsk> found, FindAsk(conn, ask_id, true));
        if (!found.has_value()) {
          return absl::NotFoundError(absl::StrCat("advocacy ask ", ask_id, " not found"));
        }
        AdvocacyAsk a = *std::move(found);
        if (!AskTransitionAllowed(a.status, status)) {
          return absl::FailedPreconditionError(
              absl::StrCat("status: ask ", ask_id, " is ", AskStatusName(a.status),
                           " and cannot become ", AskStatusName(status)));
        }
        a.status = status;
        if (!note.empty()) a.note = note;
        a.updated_at = now;
        auto& stmt = conn.Prepare(
            "UPDATE advocacy_asks SET status = ?, note = ?, updated_at = ? WHERE ask_id = ?");
        stmt.setString(1, std::string(AskStatusName(a.status)));
        stmt.setString(2, a.note);
        stmt.setString(3, db::ToSqlDatetime(now));
        stmt.setInt64(4, ask_id);
        stmt.executeUpdate();
        return a;
      });
}

absl::StatusOr<AskPage> MySqlOutcomeRepository::ListAsks(const AskFilter& f) {
  AskPage page;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    // Newest first by id (ids grow with time); one row more than the page tells
    // whether another page follows.
    auto& stmt = conn.Prepare(absl::StrCat(
        "SELECT ", kAskColumns, " FROM advocacy_asks WHERE (? = '' OR account_id = ?)"
        " AND (? = '' OR kind = ?) AND (? = '' OR status = ?) AND (? = 0 OR ask_id < ?)"
        " ORDER BY ask_id DESC LIMIT ?"));
    const std::string kind = f.kind ? std::string(AdvocacyKindName(*f.kind)) : "";
    const std::string status = f.status ? std::string(AskStatusName(*f.status)) : "";
    stmt.setString(1, f.account_id);
    stmt.setString(2, f.account_id);
    stmt.setString(3, kind);
    stmt.setString(4, kind);
    stmt.setString(5, status);
    stmt.setString(6, status);
    stmt.setInt64(7, f.before_ask_id);
    stmt.setInt64(8, f.before_ask_id);
    stmt.setInt(9, f.page_size + 1);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      ASSIGN_OR_RETURN(AdvocacyAsk a, ReadAsk(*rs));
      page.asks.push_back(std::move(a));
    }
    return absl::OkStatus();
  }));
  if (page.asks.size() > static_cast<size_t>(f.page_size)) {
    page.asks.resize(f.page_size);
    page.next_before = page.asks.back().ask_id;
  }
  return page;
}

}  // namespace cs::playbooks
