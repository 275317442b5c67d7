#include "services/health/mysql_account_repository.h"

#include <cppconn/datatype.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/db/event_log.h"
#include "common/db/sql_values.h"
#include "services/health/event.h"
#include "services/health/scorecard.h"
#include "common/status.h"

namespace cs::health {
namespace {

constexpr char kColumns[] =
    "account_id, name, tier, employee_count, industry, owner_id, lifecycle, contract_start,"
    " renewal_date, arr_minor, arr_currency, created_at, updated_at, version, churned_on,"
    " churn_reason";

absl::StatusOr<Account> ReadAccount(sql::ResultSet& rs) {
  Account a;
  a.account_id = rs.getString(1);
  a.name = rs.getString(2);
  a.tier = TierFromName(std::string(rs.getString(3))).value_or(Tier::kUnspecified);
  a.employee_count = rs.getInt(4);
  a.industry = IndustryFromName(std::string(rs.getString(5))).value_or(Industry::kUnspecified);
  a.owner_id = rs.getString(6);
  a.lifecycle = LifecycleFromName(std::string(rs.getString(7))).value_or(Lifecycle::kUnspecified);
  ASSIGN_OR_RETURN(a.contract_start, db::GetOptionalDate(rs, 8));
  ASSIGN_OR_RETURN(a.renewal_date, db::GetOptionalDate(rs, 9));
  a.arr.minor_units = rs.getInt64(10);
  a.arr.currency_code = rs.getString(11);
  ASSIGN_OR_RETURN(a.created_at, db::FromSqlDatetime(std::string(rs.getString(12))));
  ASSIGN_OR_RETURN(a.updated_at, db::FromSqlDatetime(std::string(rs.getString(13))));
  a.version = rs.getInt64(14);
  ASSIGN_OR_RETURN(a.churned_on, db::GetOptionalDate(rs, 15));
  a.churn_reason = rs.getString(16);
  return a;
}

}  // namespace

absl::StatusOr<std::optional<Account>> FindAccount(db::Connection& conn,
                                                   const std::string& account_id,
                                                   bool for_update) {
  auto& stmt = conn.Prepare(absl::StrCat("SELECT ", kColumns,
                                         " FROM accounts WHERE account_id = ?",
                                         for_update ? " FOR UPDATE" : ""));
  stmt.setString(1, account_id);
  std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
  if (!rs->next()) return std::optional<Account>();
  ASSIGN_OR_RETURN(Account a, ReadAccount(*rs));
  return std::optional<Account>(std::move(a));
}

absl::StatusOr<std::vector<Account>> AccountsAfter(db::Connection& conn,
                                                   const std::string& after_id, int limit) {
  auto& stmt = conn.Prepare(absl::StrCat(
      "SELECT ", kColumns, " FROM accounts WHERE account_id > ? ORDER BY account_id LIMIT ?"));
  stmt.setString(1, after_id);
  stmt.setInt(2, limit);
  std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
  std::vector<Account> out;
  while (rs->next()) {
    ASSIGN_OR_RETURN(Account a, ReadAccount(*rs));
    out.push_back(std::move(a));
  }
  return out;
}

absl::StatusOr<UpsertAccountResult> MySqlAccountRepository::Upsert(
    const db::WriteKey& key, const db::ResultCodec<UpsertAccountResult>& codec,
    const Account& account, absl::Time now) {
  return db::RunIdempotent<UpsertAccountResult>(
      *pool_, *clock_, key, codec,
      [&](db::Connection& conn) -> absl::StatusOr<UpsertAccountResult> {
        ASSIGN_OR_RETURN(std::optional<Account> existing,
                         FindAccount(conn, account.account_id, /*for_update=*/true));
        UpsertAccountResult result;
        result.account = account;
        result.account.updated_at = now;
        if (existing.has_value()) {
          result.created = false;
          result.account.created_at = existing->created_at;
          result.account.version = existing->version + 1;
          if (account.lifecycle == Lifecycle::kUnspecified) {
            result.account.lifecycle = existing->lifecycle;
          }
        } else {
          result.created = true;
          result.account.created_at = now;
          result.account.version = 1;
          if (account.lifecycle == Lifecycle::kUnspecified) {
            result.account.lifecycle = Lifecycle::kOnboarding;
          }
        }
        const Account& a = result.account;
        auto& stmt = conn.Prepare(absl::StrCat(
            "INSERT INTO accounts (", kColumns,
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON DUPLICATE KEY UPDATE name = VALUES(name), tier = VALUES(tier),"
            " employee_count = VALUES(employee_count), industry = VALUES(industry),"
            " owner_id = VALUES(owner_id), lifecycle = VALUES(lifecycle),"
            " contract_start = VALUES(contract_start), renewal_date = VALUES(renewal_date),"
            " arr_minor = VALUES(arr_minor), arr_currency = VALUES(arr_currency),"
            " updated_at = VALUES(updated_at), version = VALUES(version)"));
        stmt.setString(1, a.account_id);
        stmt.setString(2, a.name);
        stmt.setString(3, std::string(TierName(a.tier)));
        stmt.setInt(4, a.employee_count);
        stmt.setString(5, std::string(IndustryName(a.industry)));
        stmt.setString(6, a.owner_id);
        stmt.setString(7, std::string(LifecycleName(a.lifecycle)));
        db::SetOptionalDate(stmt, 8, a.contract_start);
        db::SetOptionalDate(stmt, 9, a.renewal_date);
        stmt.setInt64(10, a.arr.minor_units);
        stmt.setString(11, a.arr.currency_code);
        stmt.setString(12, db::ToSqlDatetime(a.created_at));
        stmt.setString(13, db::ToSqlDatetime(a.updated_at));
        stmt.setInt64(14, a.version);
        // Churn is set by MarkChurned only; an upsert keeps what is stored.
        if (existing.has_value()) {
          result.account.churned_on = existing->churned_on;
          result.account.churn_reason = existing->churn_reason;
        }
        db::SetOptionalDate(stmt, 15, result.account.churned_on);
        stmt.setString(16, result.account.churn_reason);
        stmt.executeUpdate();
        Publish(conn, EventKind::kAccountUpserted, a, now);
        return result;
      });
}

void MySqlAccountRepository::Publish(db::Connection& conn, EventKind kind, const Account& a,
                                     absl::Time now) {
  std::vector<db::LoggedEvent> events(1);
  events[0].kind = std::string(EventKindName(kind));
  events[0].subject_id = a.account_id;
  events[0].occurred_at = now;
  events[0].payload = encode_event_(a);
  db::AppendEvents(conn, events);
}

absl::StatusOr<Account> MySqlAccountRepository::MarkChurned(
    const db::WriteKey& key, const db::ResultCodec<Account>& codec, const std::string& account_id,
    absl::CivilDay churned_on, const std::string& reason, absl::Time now) {
  return db::RunIdempotent<Account>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<Account> {
        ASSIGN_OR_RETURN(std::optional<Account> found, FindAccount(conn, account_id, /*for_update=*/true));
        if (!found.has_value()) {
          return absl::NotFoundError(absl::StrCat("account '", account_id, "' not found"));
        }
        Account a = *std::move(found);
        if (a.lifecycle == Lifecycle::kChurned) {
          return absl::FailedPreconditionError(
              absl::StrCat("account '", account_id, "' is already churned"));
        }
        a.lifecycle = Lifecycle::kChurned;
        a.churned_on = churned_on;
        a.churn_reason = reason;
        a.updated_at = now;
        a.version += 1;
        auto& stmt = conn.Prepare(
            "UPDATE accounts SET lifecycle = ?, churned_on = ?, churn_reason = ?, updated_at = ?,"
            " version = ? WHERE account_id = ?");
        stmt.setString(1, std::string(LifecycleName(a.lifecycle)));
        db::SetOptionalDate(stmt, 2, a.churned_on);
        stmt.setString(3, a.churn_reason);
        stmt.setString(4, db::ToSqlDatetime(now));
        stmt.setInt64(5, a.version);
        stmt.setString(6, a.account_id);
        stmt.executeUpdate();
        Publish(conn, EventKind::kAccountChurned, a, now);
        return a;
      });
}

absl::StatusOr<Account> MySqlAccountRepository::Get(const std::string& account_id) {
  std::optional<Account> found;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(found, FindAccount(conn, account_id, /*for_update=*/false));
    return absl::OkStatus();
  }));
  if (!found.has_value()) {
    return absl::NotFoundError(absl::StrCat("account '", account_id, "' not found"));
  }
  return *std::move(found);
}

absl::StatusOr<AccountPage> MySqlAccountRepository::List(const AccountFilter& filter,
                                                         const std::string& after_id,
                                                         int limit) {
  AccountPage page;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    // One statement for every combination of filters: an empty parameter matches all.
    auto& stmt = conn.Prepare(absl::StrCat(
        "SELECT ", kColumns,
        " FROM accounts WHERE account_id > ?"
        " AND (? = '' OR tier = ?) AND (? = '' OR industry = ?)"
        " AND (? = '' OR owner_id = ?) AND (? = '' OR lifecycle = ?)"
        // The band lives with the score; the account_scores primary key makes
        // this one lookup per candidate account.
        " AND (? = '' OR EXISTS (SELECT 1 FROM account_scores s"
        "   WHERE s.account_id = accounts.account_id AND s.score_name = ? AND s.band = ?))",
        filter.account_ids.empty()
            ? ""
            : absl::StrCat(" AND account_id IN ", db::InListPlaceholders(filter.account_ids.size())),
        " ORDER BY account_id LIMIT ?"));
    const std::string tier = filter.tier ? std::string(TierName(*filter.tier)) : "";
    const std::string industry =
        filter.industry ? std::string(IndustryName(*filter.industry)) : "";
    const std::string lifecycle =
        filter.lifecycle ? std::string(LifecycleName(*filter.lifecycle)) : "";
    stmt.setString(1, after_id);
    stmt.setString(2, tier);
    stmt.setString(3, tier);
    stmt.setString(4, industry);
    stmt.setString(5, industry);
    stmt.setString(6, filter.owner_id);
    stmt.setString(7, filter.owner_id);
    stmt.setString(8, lifecycle);
    stmt.setString(9, lifecycle);
    const std::string band = filter.band ? std::string(BandName(*filter.band)) : "";
    stmt.setString(10, band);
    stmt.setString(11, kDefaultScoreName);
    stmt.setString(12, band);
    int next = 13;
    if (!filter.account_ids.empty()) {
      next = db::BindInList(stmt, next, filter.account_ids, 0, filter.account_ids.size());
    }
    stmt.setInt(next, limit + 1);  // one more tells whether a next page exists
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    while (rs->next()) {
      if (static_cast<int>(page.accounts.size()) == limit) {
        page.next_after_id = page.accounts.back().account_id;
        break;
      }
      ASSIGN_OR_RETURN(Account a, ReadAccount(*rs));
      page.accounts.push_back(std::move(a));
    }
    return absl::OkStatus();
  }));
  return page;
}

}  // namespace cs::health
