#include "services/expansion/mysql_revenue_repository.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <map>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/db/sql_values.h"
#include "common/status.h"
#include "services/expansion/sql_page.h"

namespace cs::expansion {
namespace {

absl::StatusOr<int64_t> GetSum(sql::ResultSet& rs, int index) {
  // SUM over BIGINT is DECIMAL: read its text so a sum beyond int64 is an error,
  // not a wrapped number.
  const std::string text = rs.getString(index);
  int64_t value = 0;
  if (text.empty()) return 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::OutOfRangeError("a ledger sum does not fit in 64 bits");
  }
  return value;
}

absl::StatusOr<RevenueMovement> ReadMovement(sql::ResultSet& rs) {
  RevenueMovement m;
  m.movement_id = rs.getInt64(1);
  m.account_id = rs.getString(2);
  ASSIGN_OR_RETURN(std::optional<absl::CivilDay> day, db::GetOptionalDate(rs, 3));
  m.month = absl::CivilMonth(day.value_or(absl::CivilDay()));
  m.kind = MovementKindFromName(std::string(rs.getString(4))).value_or(MovementKind::kUnspecified);
  m.mrr_change = {rs.getInt64(5), std::string(rs.getString(6))};
  ASSIGN_OR_RETURN(m.recorded_at, db::FromSqlDatetime(std::string(rs.getString(7))));
  m.source =
      MovementSourceFromName(std::string(rs.getString(8))).value_or(MovementSource::kUnspecified);
  m.opportunity_id = rs.isNull(9) ? 0 : rs.getInt64(9);
  return m;
}

constexpr char kMovementColumns[] =
    "movement_id, account_id, month, kind, mrr_change_minor, currency, recorded_at, source,"
    " opportunity_id";

}  // namespace

void LogMovementChange(db::Connection& conn, const std::string& account_id, int64_t movement_id,
                       const std::optional<absl::CivilDay>& month, const std::string& old_kind,
                       int64_t old_amount, const std::optional<std::string>& new_kind,
                       int64_t new_amount, absl::Time now) {
  auto& stmt = conn.Prepare(
      "INSERT INTO ledger_changes (account_id, movement_id, month, old_kind,"
      " old_mrr_change_minor, new_kind, new_mrr_change_minor, changed_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  stmt.setString(1, account_id);
  stmt.setInt64(2, movement_id);
  db::SetOptionalDate(stmt, 3, month);
  stmt.setString(4, old_kind);
  stmt.setInt64(5, old_amount);
  if (new_kind.has_value()) {
    stmt.setString(6, *new_kind);
    stmt.setInt64(7, new_amount);
  } else {
    stmt.setNull(6, 0);
    stmt.setNull(7, 0);
  }
  stmt.setString(8, db::ToSqlDatetime(now));
  stmt.executeUpdate();
}

void LogProfileChange(db::Connection& conn, const std::string& account_id, absl::Time now) {
  auto& stmt = conn.Prepare(
      "INSERT INTO ledger_changes (account_id, changed_at) VALUES (?, ?)");
  stmt.setString(1, account_id);
  stmt.setString(2, db::ToSqlDatetime(now));
  stmt.executeUpdate();
}

absl::Status ClaimLedgerCurrency(db::Connection& conn, const std::string& account_id,
                                 const std::string& currency, absl::string_view field) {
  auto& claim = conn.Prepare(
      "INSERT INTO ledger_accounts (account_id, currency) VALUES (?, ?)"
      " ON DUPLICATE KEY UPDATE account_id = account_id");
  claim.setString(1, account_id);
  claim.setString(2, currency);
  claim.executeUpdate();
  auto& select =
      conn.Prepare("SELECT currency FROM ledger_accounts WHERE account_id = ? FOR UPDATE");
  select.setString(1, account_id);
  std::unique_ptr<sql::ResultSet> rs(select.executeQuery());
  rs->next();
  const std::string ledger_currency = rs->getString(1);
  if (ledger_currency != currency) {
    return absl::FailedPreconditionError(
        absl::StrCat(field, ": account '", account_id, "' keeps its ledger in ", ledger_currency));
  }
  return absl::OkStatus();
}

absl::Status CheckBalance(db::Connection& conn, const std::string& account_id, int64_t change,
                          absl::string_view field) {
  auto& sum = conn.Prepare(
      "SELECT COALESCE(SUM(mrr_change_minor), 0) FROM revenue_movements WHERE account_id = ?");
  sum.setString(1, account_id);
  std::unique_ptr<sql::ResultSet> rs(sum.executeQuery());
  rs->next();
  ASSIGN_OR_RETURN(int64_t balance, GetSum(*rs, 1));
  const __int128 after = static_cast<__int128>(balance) + change;
  if (after > kMaxMovementMinor || after < -kMaxMovementMinor) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": the account's MRR would leave +/-", kMaxMovementMinor));
  }
  return absl::OkStatus();
}

absl::StatusOr<RevenueMovement> InsertMovement(db::Connection& conn,
                                               const RevenueMovement& movement, absl::Time now,
                                               std::optional<absl::CivilMonth> import_month) {
  RevenueMovement out = movement;
  out.recorded_at = now;
  auto& insert = conn.Prepare(
      "INSERT INTO revenue_movements"
      " (account_id, month, kind, mrr_change_minor, currency, recorded_at, source, opportunity_id,"
      " import_month) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.setString(1, out.account_id);
  db::SetOptionalDate(insert, 2, absl::CivilDay(out.month));
  insert.setString(3, std::string(MovementKindName(out.kind)));
  insert.setInt64(4, out.mrr_change.minor_units);
  insert.setString(5, out.mrr_change.currency_code);
  insert.setString(6, db::ToSqlDatetime(now));
  insert.setString(7, std::string(MovementSourceName(out.source)));
  if (out.opportunity_id != 0) {
    insert.setInt64(8, out.opportunity_id);
  } else {
    insert.setNull(8, 0);
  }
  db::SetOptionalDate(insert, 9,
                      import_month.has_value()
                          ? std::optional<absl::CivilDay>(absl::CivilDay(*import_month))
                          : std::nullopt);
  insert.executeUpdate();
  std::unique_ptr<sql::ResultSet> id(conn.Prepare("SELECT LAST_INSERT_ID()").executeQuery());
  id->next();
  out.movement_id = id->getInt64(1);
  return out;
}

absl::StatusOr<RevenueMovement> MySqlRevenueRepository::Record(
    const db::WriteKey& key, const db::ResultCodec<RevenueMovement>& codec,
    const RevenueMovement& movement, absl::Time now) {
  return db::RunIdempotent<RevenueMovement>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<RevenueMovement> {
        RETURN_IF_ERROR(ClaimLedgerCurrency(conn, movement.account_id,
                                            movement.mrr_change.currency_code,
                                            "movement.mrr_change.currency_code"));
        RETURN_IF_ERROR(CheckBalance(conn, movement.account_id, movement.mrr_change.minor_units,
                                     "movement.mrr_change.minor_units"));
        RevenueMovement manual = movement;
        manual.source = MovementSource::kManual;
        manual.opportunity_id = 0;
        return InsertMovement(conn, manual, now);
      });
}

absl::StatusOr<MovementPage> MySqlRevenueRepository::List(const std::string& account_id,
                                                          int64_t after_id, int page_size) {
  MovementPage page;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    // One row more than asked tells whether another page follows.
    auto& stmt = conn.Prepare(
        absl::StrCat("SELECT ", kMovementColumns,
                     " FROM revenue_movements WHERE movement_id > ? AND (? = '' OR account_id = ?)"
                     " ORDER BY movement_id LIMIT ?"));
    stmt.setInt64(1, after_id);
    stmt.setString(2, account_id);
    stmt.setString(3, account_id);
    stmt.setInt(4, page_size + 1);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    ASSIGN_OR_RETURN(page.next_after_id,
                     ReadPage(
                         *rs, page_size, ReadMovement,
                         [](const RevenueMovement& m) { return m.movement_id; }, page.movements));
    return absl::OkStatus();
  }));
  return page;
}

absl::StatusOr<ImportResult> MySqlRevenueRepository::Import(
    const db::WriteKey& key, const db::ResultCodec<ImportResult>& codec,
    const std::vector<SubscriptionMonth>& rows, absl::Time now) {
  return db::RunIdempotent<ImportResult>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<ImportResult> {
        ImportResult result;
        // Accounts in id order: concurrent imports lock ledger rows in the same order.
        std::map<std::string, std::vector<size_t>> by_account;
        for (size_t i = 0; i < rows.size(); ++i) by_account[rows[i].account_id].push_back(i);
        for (const auto& [account, indexes] : by_account) {
          const size_t first = indexes.front();
          RETURN_IF_ERROR(
              ClaimLedgerCurrency(conn, account, rows[first].mrr.currency_code,
                                  absl::StrCat("subscriptions[", first, "].mrr.currency_code")));
          for (size_t i : indexes) {
            const SubscriptionMonth& r = rows[i];
            auto& find = conn.Prepare(
                "SELECT mrr_minor FROM subscription_months WHERE account_id = ? AND month = ?");
            find.setString(1, account);
            db::SetOptionalDate(find, 2, absl::CivilDay(r.month));
            std::unique_ptr<sql::ResultSet> rs(find.executeQuery());
            if (!rs->next() || rs->getInt64(1) != r.mrr.minor_units) {
              auto& upsert = conn.Prepare(
                  "INSERT INTO subscription_months (account_id, month, mrr_minor, currency)"
                  " VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE mrr_minor = VALUES(mrr_minor)");
              upsert.setString(1, account);
              db::SetOptionalDate(upsert, 2, absl::CivilDay(r.month));
              upsert.setInt64(3, r.mrr.minor_units);
              upsert.setString(4, r.mrr.currency_code);
              upsert.executeUpdate();
              ++result.months_changed;
            }
            if (r.tier != 0) {
              auto& tier = conn.Prepare(
                  "INSERT INTO account_profiles (account_id, tier, seats_licensed, seats_used,"
                  " usage_units, usage_limit, plan, feature_requests, integration_requests,"
                  " updated_at) VALUES (?, ?, 0, 0, 0, 0, '', '', '', ?)"
                  " ON DUPLICATE KEY UPDATE updated_at = IF(tier = VALUES(tier), updated_at,"
                  " VALUES(updated_at)), tier = VALUES(tier)");
              tier.setString(1, account);
              tier.setString(2, std::string(TierName(static_cast<Tier>(r.tier))));
              tier.setString(3, db::ToSqlDatetime(now));
              tier.executeUpdate();
              LogProfileChange(conn, account, now);
            }
          }
          // Re-derive from every stored month of the account, not just this import's.
          std::map<absl::CivilMonth, int64_t> months;
          auto& all =
              conn.Prepare("SELECT month, mrr_minor FROM subscription_months WHERE account_id = ?");
          all.setString(1, account);
          std::unique_ptr<sql::ResultSet> ms(all.executeQuery());
          while (ms->next()) {
            ASSIGN_OR_RETURN(std::optional<absl::CivilDay> day, db::GetOptionalDate(*ms, 1));
            months[absl::CivilMonth(day.value_or(absl::CivilDay()))] = ms->getInt64(2);
          }
          struct Existing {
            int64_t id;
            MovementKind kind;
            int64_t amount;
            std::string stored_kind;  // as stored, for the change log
            std::optional<absl::CivilDay> month;
          };
          std::map<absl::CivilMonth, Existing> existing;
          auto& derived = conn.Prepare(
              "SELECT movement_id, import_month, kind, mrr_change_minor, month"
              " FROM revenue_movements WHERE account_id = ? AND import_month IS NOT NULL"
              " FOR UPDATE");
          derived.setString(1, account);
          std::unique_ptr<sql::ResultSet> ds(derived.executeQuery());
          while (ds->next()) {
            ASSIGN_OR_RETURN(std::optional<absl::CivilDay> day, db::GetOptionalDate(*ds, 2));
            ASSIGN_OR_RETURN(std::optional<absl::CivilDay> month, db::GetOptionalDate(*ds, 5));
            const std::string stored_kind = ds->getString(3);
            existing[absl::CivilMonth(day.value_or(absl::CivilDay()))] = {
                ds->getInt64(1),
                MovementKindFromName(stored_kind).value_or(MovementKind::kUnspecified),
                ds->getInt64(4), stored_kind, month};
          }
          for (const DerivedMovement& d : DeriveMovements(months)) {
            auto it = existing.find(d.month);
            if (it == existing.end()) {
              RevenueMovement m;
              m.account_id = account;
              m.month = d.month;
              m.kind = d.kind;
              m.mrr_change = {d.mrr_change, rows[first].mrr.currency_code};
              m.source = MovementSource::kSubscriptionImport;
              RETURN_IF_ERROR(InsertMovement(conn, m, now, d.month).status());
              ++result.movements_added;
              continue;
            }
            if (it->second.kind != d.kind || it->second.amount != d.mrr_change) {
              auto& update = conn.Prepare(
                  "UPDATE revenue_movements SET kind = ?, mrr_change_minor = ?, recorded_at = ?"
                  " WHERE movement_id = ?");
              update.setString(1, std::string(MovementKindName(d.kind)));
              update.setInt64(2, d.mrr_change);
              update.setString(3, db::ToSqlDatetime(now));
              update.setInt64(4, it->second.id);
              update.executeUpdate();
              LogMovementChange(conn, account, it->second.id, it->second.month,
                                it->second.stored_kind, it->second.amount,
                                std::string(MovementKindName(d.kind)), d.mrr_change, now);
              ++result.movements_changed;
            }
            existing.erase(it);
          }
          for (const auto& [month, stale] : existing) {
            auto& remove = conn.Prepare("DELETE FROM revenue_movements WHERE movement_id = ?");
            remove.setInt64(1, stale.id);
            remove.executeUpdate();
            LogMovementChange(conn, account, stale.id, stale.month, stale.stored_kind, stale.amount,
                              std::nullopt, 0, now);
            ++result.movements_removed;
          }
        }
        return result;
      });
}

absl::StatusOr<std::vector<AccountPeriod>> MySqlRevenueRepository::LoadPeriods(
    const std::string& currency, Tier tier, absl::CivilMonth first, absl::CivilMonth last) {
  std::vector<AccountPeriod> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    // One pass over the account's movements up to the end of the period; the
    // database sums, so only one row per account travels.
    auto& stmt = conn.Prepare(
        "SELECT m.account_id, COALESCE(MAX(p.tier), 'UNSPECIFIED'),"
        " SUM(IF(m.month < ?, m.mrr_change_minor, 0)),"
        " SUM(m.mrr_change_minor),"
        " SUM(IF(m.month >= ? AND m.kind = 'NEW', m.mrr_change_minor, 0)),"
        " SUM(IF(m.month >= ? AND m.kind = 'EXPANSION', m.mrr_change_minor, 0)),"
        " SUM(IF(m.month >= ? AND m.kind = 'REACTIVATION', m.mrr_change_minor, 0)),"
        " -SUM(IF(m.month >= ? AND m.kind = 'CONTRACTION', m.mrr_change_minor, 0)),"
        " -SUM(IF(m.month >= ? AND m.kind = 'CHURN', m.mrr_change_minor, 0)),"
        " SUM(IF(m.month >= ? AND m.kind = 'EXPANSION', 1, 0))"
        " FROM revenue_movements m"
        " JOIN ledger_accounts l ON l.account_id = m.account_id AND l.currency = ?"
        " LEFT JOIN account_profiles p ON p.account_id = m.account_id"
        " WHERE m.month <= ? AND (? = '' OR COALESCE(p.tier, 'UNSPECIFIED') = ?)"
        " GROUP BY m.account_id ORDER BY m.account_id");
    const absl::CivilDay first_day(first), last_day(last);
    for (int i = 1; i <= 7; ++i) db::SetOptionalDate(stmt, i, first_day);
    stmt.setString(8, currency);
    db::SetOptionalDate(stmt, 9, last_day);
    const std::string tier_name = TierFilterName(tier);
    stmt.setString(10, tier_name);
    stmt.setString(11, tier_name);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    while (rs->next()) {
      AccountPeriod a;
      a.account_id = rs->getString(1);
      a.tier = TierFromName(std::string(rs->getString(2))).value_or(Tier::kUnspecified);
      ASSIGN_OR_RETURN(a.start_mrr, GetSum(*rs, 3));
      ASSIGN_OR_RETURN(a.end_mrr, GetSum(*rs, 4));
      ASSIGN_OR_RETURN(a.new_mrr, GetSum(*rs, 5));
      ASSIGN_OR_RETURN(a.expansion_mrr, GetSum(*rs, 6));
      ASSIGN_OR_RETURN(a.reactivation_mrr, GetSum(*rs, 7));
      ASSIGN_OR_RETURN(a.contraction_mrr, GetSum(*rs, 8));
      ASSIGN_OR_RETURN(a.churn_mrr, GetSum(*rs, 9));
      ASSIGN_OR_RETURN(int64_t count, GetSum(*rs, 10));
      a.expansion_movements = static_cast<int>(count);
      out.push_back(std::move(a));
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace cs::expansion
