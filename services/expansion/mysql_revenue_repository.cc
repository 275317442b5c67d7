#include "services/expansion/mysql_revenue_repository.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/db/sql_values.h"
#include "common/status.h"

namespace cs::expansion {

absl::StatusOr<RevenueMovement> MySqlRevenueRepository::Record(
    const db::WriteKey& key, const db::ResultCodec<RevenueMovement>& codec,
    const RevenueMovement& movement, absl::Time now) {
  return db::RunIdempotent<RevenueMovement>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<RevenueMovement> {
        auto& claim = conn.Prepare(
            "INSERT INTO ledger_accounts (account_id, currency) VALUES (?, ?)"
            " ON DUPLICATE KEY UPDATE account_id = account_id");
        claim.setString(1, movement.account_id);
        claim.setString(2, movement.mrr_change.currency_code);
        claim.executeUpdate();
        auto& currency = conn.Prepare(
            "SELECT currency FROM ledger_accounts WHERE account_id = ? FOR UPDATE");
        currency.setString(1, movement.account_id);
        std::unique_ptr<sql::ResultSet> rs(currency.executeQuery());
        rs->next();
        const std::string ledger_currency = rs->getString(1);
        if (ledger_currency != movement.mrr_change.currency_code) {
          return absl::FailedPreconditionError(absl::StrCat(
              "movement.mrr_change.currency_code: account '", movement.account_id,
              "' keeps its ledger in ", ledger_currency));
        }
        RevenueMovement out = movement;
        out.recorded_at = now;
        auto& insert = conn.Prepare(
            "INSERT INTO revenue_movements"
            " (account_id, month, kind, mrr_change_minor, currency, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?)");
        insert.setString(1, out.account_id);
        db::SetOptionalDate(insert, 2, absl::CivilDay(out.month));
        insert.setString(3, std::string(MovementKindName(out.kind)));
        insert.setInt64(4, out.mrr_change.minor_units);
        insert.setString(5, out.mrr_change.currency_code);
        insert.setString(6, db::ToSqlDatetime(now));
        insert.executeUpdate();
        std::unique_ptr<sql::ResultSet> id(conn.Prepare("SELECT LAST_INSERT_ID()").executeQuery());
        id->next();
        out.movement_id = id->getInt64(1);
        return out;
      });
}

absl::StatusOr<MovementPage> MySqlRevenueRepository::List(const std::string& account_id,
                                                         int64_t after_id, int page_size) {
  MovementPage page;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    // One row more than asked tells whether another page follows.
    auto& stmt = conn.Prepare(
        "SELECT movement_id, account_id, month, kind, mrr_change_minor, currency, recorded_at"
        " FROM revenue_movements WHERE movement_id > ? AND (? = '' OR account_id = ?)"
        " ORDER BY movement_id LIMIT ?");
    stmt.setInt64(1, after_id);
    stmt.setString(2, account_id);
    stmt.setString(3, account_id);
    stmt.setInt(4, page_size + 1);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    while (rs->next()) {
      if (static_cast<int>(page.movements.size()) == page_size) {
        page.next_after_id = page.movements.back().movement_id;
        break;
      }
      RevenueMovement m;
      m.movement_id = rs->getInt64(1);
      m.account_id = rs->getString(2);
      ASSIGN_OR_RETURN(std::optional<absl::CivilDay> day, db::GetOptionalDate(*rs, 3));
      m.month = absl::CivilMonth(day.value_or(absl::CivilDay()));
      m.kind = MovementKindFromName(std::string(rs->getString(4))).value_or(MovementKind::kUnspecified);
      m.mrr_change = {rs->getInt64(5), std::string(rs->getString(6))};
      ASSIGN_OR_RETURN(m.recorded_at, db::FromSqlDatetime(std::string(rs->getString(7))));
      page.movements.push_back(std::move(m));
    }
    return absl::OkStatus();
  }));
  return page;
}

}  // namespace cs::expansion
