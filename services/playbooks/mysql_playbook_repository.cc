#include "services/playbooks/mysql_playbook_repository.h"

#include <cppconn/datatype.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/db/event_log.h"
#include "common/db/sql_values.h"
#include "common/hash.h"
#include "common/status.h"
#include "services/playbooks/advocacy_store.h"
#include "services/playbooks/mysql_escalation_repository.h"

namespace cs::playbooks {
namespace {

using ResultSetPtr = std::unique_ptr<sql::ResultSet>;

constexpr char kHeldOutArm[] = "HELD_OUT";
constexpr char kTreatedArm[] = "TREATED";


std::vector<std::string> SplitNames(const std::string& csv) {
  if (csv.empty()) return {};
  return absl::StrSplit(csv, ',');
}

absl::Time StartOfDay(absl::CivilDay day) { return absl::FromCivil(day, absl::UTCTimeZone()); }
absl::CivilDay DayOf(absl::Time t) { return absl::ToCivilDay(t, absl::UTCTimeZone()); }

// Accounts that must never be scheduled again (churned).
const absl::Time kNever = absl::FromCivil(absl::CivilDay(9999, 12, 31), absl::UTCTimeZone());

struct AccountRow {
  AccountProfile profile;
  std::string band;
  std::optional<absl::Time> churned_at;
  absl::Time first_seen_at;
};

// (playbook_id, account_id, trigger_key): a trigger applied to an account once.
using TriggerId = std::tuple<std::string, std::string, std::string>;
// (account_id, playbook_id).
using AccountPlaybook = std::pair<std::string, std::string>;

// An account's active run of a playbook as a page of health events sees it.
struct HeldRun {
  Run run;
  std::optional<absl::Time> green_since;
  // Set for a run this page opened (its row not written yet): copied from the playbook.
  bool inserted = false;
  std::string trigger_kind;
  std::string trigger_band;
  int exit_green_days = 0;
  bool fail_on_churn = false;
  // A stored run whose count, last trigger or green_since this page changed.
  bool changed = false;
};

// An account's cohort row of a playbook (the treated / held-out draw).
struct HeldCohort {
  std::string arm;
  double draw = 0;
  int holdout_percent = 0;
  absl::Time entered_at;
  std::optional<absl::Time> recovered_at;
  std::optional<absl::Time> churned_at;
  bool inserted = false;
  bool changed = false;
};

// The rows that opening runs reads and writes, for the accounts in `accounts`: read
// for a whole page of health events up front (ReadPageRunRows), then kept in memory
// with the page's own changes, which are written together (WriteRunRows) when the
// page is done or before a statement that reads them in the database. StartRunTx
// also uses one for a single start outside a page, read from and written to the
// database at once.
struct RunRows {
  // Accounts whose active runs and cohort rows are all below (locked until commit).
  std::set<std::string> accounts;
  // Triggers read up front: one absent from `triggers` was never applied.
  std::set<TriggerId> looked_up;
  // Triggers applied, read or written: the run id ("" when held out).
  std::map<TriggerId, std::string> triggers;
  std::vector<TriggerId> new_triggers;
  std::map<AccountPlaybook, HeldRun> active;
  std::map<AccountPlaybook, HeldCohort> cohort;
  std::vector<Task> new_tasks;
  // Accounts with rows not written yet.
  std::set<std::string> unwritten;
};

// Everything a write transaction needs, and the outbox events it produced; the
// events are appended last, so the outbox head is locked for the shortest time.
struct Tx {
  Tx(db::Connection& c, const TaskEventCodec& events_codec, absl::Time at)
      : conn(c), codec(events_codec), now(at) {}
  db::Connection& conn;
  const TaskEventCodec& codec;
  absl::Time now;
  std::vector<TaskEvent> events;
  // Playbook versions read in this transaction.
  std::map<std::pair<std::string, int>, Playbook> playbooks;
  std::map<std::string, EscalationChain> chains;
  // Current playbooks by trigger kind, read once per transaction (a page of events
  // fires the same few playbooks over and over).
  std::map<TriggerKind, std::vector<Playbook>> by_trigger;
  // A page of health events reads its accounts' rows locked in one statement
  // (ReadAccountsForPage). Every write of an account's row in the transaction keeps
  // its entry current (UpsertAccount, ApplyBand, ApplyChurn), so later events of the
  // account use it too; an entry of nullopt means no row.
  std::map<std::string, std::optional<AccountRow>> prefetched;
  // Accounts the page's first pass inserted (InsertPageAccounts); the first
  // UpsertAccount of each reports it created.
  std::set<std::string> inserted_for_page;
  // Score and band moves of the page, written when the page is done.
  StandingUpdates standing;
  // Runs, triggers and cohort rows of the page's accounts (ApplyHealthEvents only).
  std::unique_ptr<RunRows> page;
  // The page's accounts' new bands, written when the page is done (WriteBands).
  std::map<std::string, std::string> bands;
};

void Publish(Tx& tx) {
  if (tx.events.empty()) return;
  std::vector<db::LoggedEvent> logged;
  logged.reserve(tx.events.size());
  for (const TaskEvent& e : tx.events) {
    logged.push_back({0, std::string(TaskEventKindName(e.kind)), e.task.account_id, e.occurred_at,
                      tx.codec.encode(e)});
  }
  db::AppendEvents(tx.conn, logged);
  tx.events.clear();
}

// ---------------------------------------------------------------------------
// Playbook definitions

void InsertPlaybookVersion(db::Connection& conn, const Playbook& p) {
  auto& v = conn.Prepare(
      "INSERT INTO playbook_versions (playbook_id, version, name, description, trigger_kind,"
      " trigger_band, trigger_alert_kind, renewal_days_before, cadence_months, tiers, industries,"
      " exit_green_days, fail_on_churn, holdout_percent, escalation_chain_id, disabled, updated_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  v.setString(1, p.playbook_id);
  v.setInt(2, p.version);
  v.setString(3, p.name);
  v.setString(4, p.description);
  v.setString(5, std::string(TriggerKindName(p.trigger.kind)));
  v.setString(6, p.trigger.band);
  v.setString(7, p.trigger.alert_kind);
  v.setInt(8, p.trigger.renewal_days_before);
  v.setInt(9, p.trigger.cadence_months);
  v.setString(10, absl::StrJoin(p.tiers, ","));
  v.setString(11, absl::StrJoin(p.industries, ","));
  v.setInt(12, p.exit.green_days);
  v.setBoolean(13, p.exit.fail_on_churn);
  v.setInt(14, p.holdout_percent);
  v.setString(15, p.escalation_chain_id);
  v.setBoolean(16, p.disabled);
  v.setString(17, db::ToSqlDatetime(p.updated_at));
  v.executeUpdate();
  auto& s = conn.Prepare(
      "INSERT INTO playbook_steps (playbook_id, version, step_index, title, kind,"
      " due_offset_seconds, role, sla_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const Step& step = p.steps[i];
    s.setString(1, p.playbook_id);
    s.setInt(2, p.version);
    s.setInt(3, static_cast<int>(i));
    s.setString(4, step.title);
    s.setString(5, std::string(StepKindName(step.kind)));
    s.setInt64(6, absl::ToInt64Seconds(step.due_offset));
    s.setString(7, std::string(RoleName(step.role)));
    s.setInt64(8, absl::ToInt64Seconds(step.sla));
    s.executeUpdate();
  }
}

absl::StatusOr<std::optional<int>> CurrentVersion(db::Connection& conn, const std::string& id,
                                                  bool for_update) {
  auto& stmt = conn.Prepare(absl::StrCat("SELECT current_version FROM playbooks WHERE playbook_id = ?",
                                         for_update ? " FOR UPDATE" : ""));
  stmt.setString(1, id);
  ResultSetPtr rs(stmt.executeQuery());
  if (!rs->next()) return std::optional<int>();
  return std::optional<int>(rs->getInt(1));
}

absl::StatusOr<std::optional<Playbook>> ReadPlaybook(db::Connection& conn, const std::string& id,
                                                     int version) {
  if (version == 0) {
    ASSIGN_OR_RETURN(std::optional<int> current, CurrentVersion(conn, id, false));
    if (!current.has_value()) return std::optional<Playbook>();
    version = *current;
  }
  auto& stmt = conn.Prepare(
      "SELECT name, description, trigger_kind, trigger_band, trigger_alert_kind,"
      " renewal_days_before, cadence_months, tiers, industries, exit_green_days, fail_on_churn,"
      " holdout_percent, escalation_chain_id, disabled, updated_at FROM playbook_versions"
      " WHERE playbook_id = ? AND version = ?");
  stmt.setString(1, id);
  stmt.setInt(2, version);
  ResultSetPtr rs(stmt.executeQuery());
  if (!rs->next()) return std::optional<Playbook>();
  Playbook p;
  p.playbook_id = id;
  p.version = version;
  p.name = db::GetString(*rs, 1);
  p.description = db::GetString(*rs, 2);
  p.trigger.kind = TriggerKindFromName(db::GetString(*rs, 3)).value_or(TriggerKind::kUnspecified);
  p.trigger.band = db::GetString(*rs, 4);
  p.trigger.alert_kind = db::GetString(*rs, 5);
  p.trigger.renewal_days_before = rs->getInt(6);
  p.trigger.cadence_months = rs->getInt(7);
  p.tiers = SplitNames(db::GetString(*rs, 8));
  p.industries = SplitNames(db::GetString(*rs, 9));
  p.exit.green_days = rs->getInt(10);
  p.exit.fail_on_churn = rs->getBoolean(11);
  p.holdout_percent = rs->getInt(12);
  p.escalation_chain_id = db::GetString(*rs, 13);
  p.disabled = rs->getBoolean(14);
  ASSIGN_OR_RETURN(p.updated_at, db::GetTime(*rs, 15));
  auto& steps = conn.Prepare(
      "SELECT title, kind, due_offset_seconds, role, sla_seconds FROM playbook_steps"
      " WHERE playbook_id = ? AND version = ? ORDER BY step_index");
  steps.setString(1, id);
  steps.setInt(2, version);
  ResultSetPtr srs(steps.executeQuery());
  while (srs->next()) {
    Step s;
    s.title = db::GetString(*srs, 1);
    s.kind = StepKindFromName(db::GetString(*srs, 2)).value_or(StepKind::kUnspecified);
    s.due_offset = absl::Seconds(srs->getInt64(3));
    s.role = RoleFromName(db::GetString(*srs, 4)).value_or(Role::kUnspecified);
    s.sla = absl::Seconds(srs->getInt64(5));
    p.steps.push_back(std::move(s));
  }
  return std::optional<Playbook>(std::move(p));
}

// The current version of every playbook (with `kind`'s trigger, when given).
absl::StatusOr<std::vector<Playbook>> ReadCurrentPlaybooks(db::Connection& conn,
                                                           std::optional<TriggerKind> kind) {
  std::vector<std::pair<std::string, int>> ids;
  {
    auto& stmt = conn.Prepare(
        kind.has_value()
            ? "SELECT playbook_id, current_version FROM playbooks WHERE trigger_kind = ?"
              " ORDER BY playbook_id"
            : "SELECT playbook_id, current_version FROM playbooks ORDER BY playbook_id");
    if (kind.has_value()) stmt.setString(1, std::string(TriggerKindName(*kind)));
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) ids.emplace_back(db::GetString(*rs, 1), rs->getInt(2));
  }
  std::vector<Playbook> out;
  for (const auto& [id, version] : ids) {
    ASSIGN_OR_RETURN(std::optional<Playbook> p, ReadPlaybook(conn, id, version));
    if (p.has_value()) out.push_back(*std::move(p));
  }
  return out;
}

absl::StatusOr<const Playbook*> CachedPlaybook(Tx& tx, const std::string& id, int version) {
  auto it = tx.playbooks.find({id, version});
  if (it == tx.playbooks.end()) {
    ASSIGN_OR_RETURN(std::optional<Playbook> p, ReadPlaybook(tx.conn, id, version));
    if (!p.has_value()) {
      return absl::NotFoundError(absl::StrCat("playbook '", id, "' version ", version, " not found"));
    }
    it = tx.playbooks.emplace(std::make_pair(id, version), *std::move(p)).first;
  }
  return &it->second;
}

// A playbook's chain; a chain deleted or never created falls back to DOMAIN's.
absl::StatusOr<const EscalationChain*> CachedChain(Tx& tx, std::string chain_id) {
  if (chain_id.empty()) chain_id = "default";
  auto it = tx.chains.find(chain_id);
  if (it == tx.chains.end()) {
    ASSIGN_OR_RETURN(std::optional<EscalationChain> chain,
                     FindEscalationChain(tx.conn, chain_id, /*for_update=*/false));
    it = tx.chains.emplace(chain_id, chain.value_or(DefaultEscalationChain())).first;
  }
  return &it->second;
}

// ---------------------------------------------------------------------------
// Accounts

constexpr char kAccountColumns[] =
    "tier, industry, owner_id, lifecycle, contract_start, renewal_date, band, churned_at,"
    " first_seen_at";

// kAccountColumns from column `first` on.
absl::StatusOr<AccountRow> ParseAccount(sql::ResultSet& rs, int first, const std::string& id) {
  AccountRow a;
  a.profile.account_id = id;
  a.profile.tier = db::GetString(rs, first);
  a.profile.industry = db::GetString(rs, first + 1);
  a.profile.owner_id = db::GetString(rs, first + 2);
  a.profile.lifecycle = db::GetString(rs, first + 3);
  ASSIGN_OR_RETURN(a.profile.contract_start, db::GetOptionalDate(rs, first + 4));
  ASSIGN_OR_RETURN(a.profile.renewal_date, db::GetOptionalDate(rs, first + 5));
  a.band = db::GetString(rs, first + 6);
  ASSIGN_OR_RETURN(a.churned_at, db::GetOptionalTime(rs, first + 7));
  ASSIGN_OR_RETURN(a.first_seen_at, db::GetTime(rs, first + 8));
  return a;
}

absl::StatusOr<std::optional<AccountRow>> ReadAccount(db::Connection& conn, const std::string& id,
                                                      bool for_update) {
  auto& stmt = conn.Prepare(absl::StrCat("SELECT ", kAccountColumns,
                                         " FROM accounts WHERE account_id = ?",
                                         for_update ? " FOR UPDATE" : ""));
  stmt.setString(1, id);
  ResultSetPtr rs(stmt.executeQuery());
  if (!rs->next()) return std::optional<AccountRow>();
  ASSIGN_OR_RETURN(AccountRow a, ParseAccount(*rs, 1, id));
  return std::optional<AccountRow>(std::move(a));
}

// The rows of `ids` (sorted, distinct) locked, in key order, into tx.prefetched; an
// id without a row is remembered as such.
absl::Status ReadAccountsForPage(Tx& tx, const std::vector<std::string>& ids) {
  for (const std::string& id : ids) tx.prefetched[id] = std::nullopt;
  absl::Status status;
  // The reads a page makes for its accounts (these, their active runs, cohort rows
  // and applied triggers) go in binary chunk sizes: a page names a few hundred
  // accounts, which in 256/64/16/4/1 chunks took about six statements per read.
  db::ForEachChunk(ids.size(), db::kBinaryRowChunks, [&](size_t offset, size_t count) {
    if (!status.ok()) return;
    auto& stmt = tx.conn.Prepare(absl::StrCat("SELECT account_id, ", kAccountColumns,
                                              " FROM accounts WHERE account_id IN ",
                                              db::RowPlaceholders(1, count),
                                              " ORDER BY account_id FOR UPDATE"));
    for (size_t i = 0; i < count; ++i) stmt.setString(static_cast<int>(i + 1), ids[offset + i]);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      const std::string id = db::GetString(*rs, 1);
      absl::StatusOr<AccountRow> row = ParseAccount(*rs, 2, id);
      if (!row.ok()) {
        status = row.status();
        return;
      }
      tx.prefetched[id] = *std::move(row);
    }
  });
  return status;
}

absl::Status HandOver(Tx& tx, const std::string& account_id, const std::string& from,
                      const std::string& to);
void ReleaseAccount(Tx& tx, const std::string& account_id);

// The transaction's copy of an account row, for a write to keep it current; null
// when the transaction holds none.
AccountRow* KeptRow(Tx& tx, const std::string& account_id) {
  auto it = tx.prefetched.find(account_id);
  if (it == tx.prefetched.end() || !it->second.has_value()) return nullptr;
  return &*it->second;
}

// New account rows (band empty, not churned, next schedule at first sight), in
// multi-row statements.
void InsertAccountRows(Tx& tx, const std::vector<const AccountRow*>& ordered) {
  db::ForEachChunk(ordered.size(), [&](size_t offset, size_t count) {
    auto& insert = tx.conn.Prepare(absl::StrCat(
        "INSERT INTO accounts (account_id, tier, industry, owner_id, lifecycle, contract_start,"
        " renewal_date, band, churned_at, first_seen_at, updated_at, next_schedule_at) VALUES ",
        db::RowPlaceholders(count, 12)));
    for (size_t i = 0; i < count; ++i) {
      const AccountRow& row = *ordered[offset + i];
      const AccountProfile& p = row.profile;
      const int at = static_cast<int>(i * 12);
      insert.setString(at + 1, p.account_id);
      insert.setString(at + 2, p.tier);
      insert.setString(at + 3, p.industry);
      insert.setString(at + 4, p.owner_id);
      insert.setString(at + 5, p.lifecycle);
      db::SetOptionalDate(insert, at + 6, p.contract_start);
      db::SetOptionalDate(insert, at + 7, p.renewal_date);
      insert.setString(at + 8, "");
      insert.setNull(at + 9, sql::DataType::TIMESTAMP);
      insert.setString(at + 10, db::ToSqlDatetime(row.first_seen_at));
      insert.setString(at + 11, db::ToSqlDatetime(tx.now));
      insert.setString(at + 12, db::ToSqlDatetime(row.first_seen_at));
    }
    insert.executeUpdate();
  });
}

// Creates or updates the account from `p` (empty fields keep what is stored).
// Returns the row as stored and whether it was created.
absl::StatusOr<std::pair<AccountRow, bool>> UpsertAccount(Tx& tx, const AccountProfile& p,
                                                          absl::Time seen_at) {
  std::optional<AccountRow> existing;
  // Inserted by the page's first pass (from this same profile): created here.
  const bool created = tx.inserted_for_page.erase(p.account_id) > 0;
  if (auto it = tx.prefetched.find(p.account_id); it != tx.prefetched.end()) {
    existing = it->second;
  } else {
    ASSIGN_OR_RETURN(existing, ReadAccount(tx.conn, p.account_id, true));
  }
  // The row stays locked until commit, so later events of the page use it as written.
  auto remember = [&](const AccountRow& row) { tx.prefetched[p.account_id] = row; };
  if (!existing.has_value()) {
    AccountRow row;
    row.profile = p;
    row.first_seen_at = seen_at;
    InsertAccountRows(tx, {&row});
    remember(row);
    return std::make_pair(row, true);
  }
  AccountRow row = *std::move(existing);
  const AccountProfile existing_profile = row.profile;
  const std::string previous_owner = row.profile.owner_id;
  auto keep = [](std::string& field, const std::string& value) {
    if (!value.empty()) field = value;
  };
  keep(row.profile.tier, p.tier);
  keep(row.profile.industry, p.industry);
  keep(row.profile.owner_id, p.owner_id);
  keep(row.profile.lifecycle, p.lifecycle);
  if (p.contract_start.has_value()) row.profile.contract_start = p.contract_start;
  if (p.renewal_date.has_value()) row.profile.renewal_date = p.renewal_date;
  // Most events (score changes) carry the profile the row already has: no write.
  if (row.profile == existing_profile) {
    remember(row);
    return std::make_pair(row, created);
  }
  auto& update = tx.conn.Prepare(
      "UPDATE accounts SET tier = ?, industry = ?, owner_id = ?, lifecycle = ?,"
      " contract_start = ?, renewal_date = ?, updated_at = ? WHERE account_id = ?");
  update.setString(1, row.profile.tier);
  update.setString(2, row.profile.industry);
  update.setString(3, row.profile.owner_id);
  update.setString(4, row.profile.lifecycle);
  db::SetOptionalDate(update, 5, row.profile.contract_start);
  db::SetOptionalDate(update, 6, row.profile.renewal_date);
  update.setString(7, db::ToSqlDatetime(tx.now));
  update.setString(8, row.profile.account_id);
  update.executeUpdate();
  remember(row);
  if (!previous_owner.empty() && row.profile.owner_id != previous_owner) {
    RETURN_IF_ERROR(HandOver(tx, row.profile.account_id, previous_owner, row.profile.owner_id));
  }
  return std::make_pair(row, created);
}

// ---------------------------------------------------------------------------
// Runs and tasks

constexpr char kRunColumns[] =
    "run_id, playbook_id, playbook_version, account_id, state, tier, owner_id, trigger_key,"
    " triggered_at, trigger_count, last_triggered_at, ended_at, end_reason";

absl::StatusOr<Run> ParseRun(sql::ResultSet& rs) {
  Run r;
  r.run_id = db::GetString(rs, 1);
  r.playbook_id = db::GetString(rs, 2);
  r.playbook_version = rs.getInt(3);
  r.account_id = db::GetString(rs, 4);
  r.state = RunStateFromName(db::GetString(rs, 5)).value_or(RunState::kUnspecified);
  r.tier = db::GetString(rs, 6);
  r.owner_id = db::GetString(rs, 7);
  r.trigger_key = db::GetString(rs, 8);
  ASSIGN_OR_RETURN(r.triggered_at, db::GetTime(rs, 9));
  r.trigger_count = rs.getInt(10);
  ASSIGN_OR_RETURN(r.last_triggered_at, db::GetTime(rs, 11));
  ASSIGN_OR_RETURN(r.ended_at, db::GetOptionalTime(rs, 12));
  r.end_reason = db::GetString(rs, 13);
  return r;
}

absl::StatusOr<std::optional<Run>> ReadRun(db::Connection& conn, const std::string& run_id,
                                           bool for_update) {
  auto& stmt = conn.Prepare(absl::StrCat("SELECT ", kRunColumns, " FROM runs WHERE run_id = ?",
                                         for_update ? " FOR UPDATE" : ""));
  stmt.setString(1, run_id);
  ResultSetPtr rs(stmt.executeQuery());
  if (!rs->next()) return std::optional<Run>();
  ASSIGN_OR_RETURN(Run r, ParseRun(*rs));
  return std::optional<Run>(std::move(r));
}

constexpr char kTaskColumns[] =
    "task_id, run_id, playbook_id, account_id, step_index, title, kind, role, assignee_id,"
    " status, due_at, escalate_at, escalation_level, created_at, completed_at, outcome, note,"
    " sla_met, snoozed_until, sla_seconds, escalation_chain_id, tier";

absl::StatusOr<Task> ParseTask(sql::ResultSet& rs) {
  Task t;
  t.task_id = db::GetString(rs, 1);
  t.run_id = db::GetString(rs, 2);
  t.playbook_id = db::GetString(rs, 3);
  t.account_id = db::GetString(rs, 4);
  t.step_index = rs.getInt(5);
  t.title = db::GetString(rs, 6);
  t.kind = StepKindFromName(db::GetString(rs, 7)).value_or(StepKind::kUnspecified);
  t.role = RoleFromName(db::GetString(rs, 8)).value_or(Role::kUnspecified);
  t.assignee_id = db::GetString(rs, 9);
  t.status = TaskStatusFromName(db::GetString(rs, 10)).value_or(TaskStatus::kUnspecified);
  ASSIGN_OR_RETURN(t.due_at, db::GetTime(rs, 11));
  ASSIGN_OR_RETURN(t.escalate_at, db::GetOptionalTime(rs, 12));
  t.escalation_level = rs.getInt(13);
  ASSIGN_OR_RETURN(t.created_at, db::GetTime(rs, 14));
  ASSIGN_OR_RETURN(t.completed_at, db::GetOptionalTime(rs, 15));
  t.outcome = db::GetString(rs, 16);
  t.note = db::GetString(rs, 17);
  t.sla_met = rs.getBoolean(18);
  ASSIGN_OR_RETURN(t.snoozed_until, db::GetOptionalTime(rs, 19));
  t.sla = absl::Seconds(rs.getInt64(20));
  t.escalation_chain_id = db::GetString(rs, 21);
  t.tier = db::GetString(rs, 22);
  return t;
}

absl::StatusOr<std::vector<Task>> ParseTasks(sql::PreparedStatement& stmt) {
  ResultSetPtr rs(stmt.executeQuery());
  std::vector<Task> out;
  while (rs->next()) {
    ASSIGN_OR_RETURN(Task t, ParseTask(*rs));
    out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<std::optional<Task>> ReadTask(db::Connection& conn, const std::string& task_id,
                                             bool for_update) {
  auto& stmt = conn.Prepare(absl::StrCat("SELECT ", kTaskColumns, " FROM tasks WHERE task_id = ?",
                                         for_update ? " FOR UPDATE" : ""));
  stmt.setString(1, task_id);
  ASSIGN_OR_RETURN(std::vector<Task> tasks, ParseTasks(stmt));
  if (tasks.empty()) return std::optional<Task>();
  return std::optional<Task>(std::move(tasks.front()));
}

absl::StatusOr<Task> MustReadTask(db::Connection& conn, const std::string& task_id) {
  ASSIGN_OR_RETURN(std::optional<Task> t, ReadTask(conn, task_id, /*for_update=*/true));
  if (!t.has_value()) return absl::NotFoundError(absl::StrCat("task '", task_id, "' not found"));
  return *std::move(t);
}

void WriteTaskState(db::Connection& conn, const Task& t) {
  auto& stmt = conn.Prepare(
      "UPDATE tasks SET role = ?, assignee_id = ?, status = ?, due_at = ?, escalate_at = ?,"
      " escalation_level = ?, completed_at = ?, outcome = ?, note = ?, sla_met = ?,"
      " snoozed_until = ? WHERE task_id = ?");
  stmt.setString(1, std::string(RoleName(t.role)));
  stmt.setString(2, t.assignee_id);
  stmt.setString(3, std::string(TaskStatusName(t.status)));
  stmt.setString(4, db::ToSqlDatetime(t.due_at));
  db::SetOptionalTime(stmt, 5, t.escalate_at);
  stmt.setInt(6, t.escalation_level);
  db::SetOptionalTime(stmt, 7, t.completed_at);
  stmt.setString(8, t.outcome);
  stmt.setString(9, t.note);
  stmt.setBoolean(10, t.sla_met);
  db::SetOptionalTime(stmt, 11, t.snoozed_until);
  stmt.setString(12, t.task_id);
  stmt.executeUpdate();
}

// A new owner takes over the account's open CSM work and its active runs; work
// already escalated or reassigned to someone else stays where it is.
absl::Status HandOver(Tx& tx, const std::string& account_id, const std::string& from,
                      const std::string& to) {
  // Its tasks and runs change below, in the database.
  ReleaseAccount(tx, account_id);
  auto& open = tx.conn.Prepare(absl::StrCat(
      "SELECT ", kTaskColumns,
      " FROM tasks WHERE account_id = ? AND assignee_id = ? AND role = 'CSM'"
      " AND status IN ('OPEN', 'SNOOZED') ORDER BY task_id FOR UPDATE"));
  open.setString(1, account_id);
  open.setString(2, from);
  ASSIGN_OR_RETURN(std::vector<Task> tasks, ParseTasks(open));
  for (Task& t : tasks) {
    t.assignee_id = to;
    WriteTaskState(tx.conn, t);
    tx.events.push_back({0, TaskEventKind::kReassigned, tx.now, t, std::nullopt});
  }
  auto& runs = tx.conn.Prepare(
      "UPDATE runs SET owner_id = ? WHERE account_id = ? AND active_flag = 1 AND owner_id = ?");
  runs.setString(1, to);
  runs.setString(2, account_id);
  runs.setString(3, from);
  runs.executeUpdate();
  return absl::OkStatus();
}

constexpr char kTaskInsertColumns[] =
    "task_id, run_id, playbook_id, account_id, tier, step_index, title, kind, role, assignee_id,"
    " status, due_at, sla_seconds, escalate_at, escalation_level, escalation_chain_id,"
    " created_at, completed_at, outcome, note, sla_met, snoozed_until";
// One row's placeholders for kTaskInsertColumns (16 bound, the rest fixed).
constexpr char kTaskInsertRow[] =
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, NULL, '', '', FALSE, NULL)";
constexpr int kTaskInsertParams = 16;

// Binds a new task's row at parameters first + 1 .. first + kTaskInsertParams.
void BindTaskRow(sql::PreparedStatement& stmt, int first, const Task& t) {
  stmt.setString(first + 1, t.task_id);
  stmt.setString(first + 2, t.run_id);
  stmt.setString(first + 3, t.playbook_id);
  stmt.setString(first + 4, t.account_id);
  stmt.setString(first + 5, t.tier);
  stmt.setInt(first + 6, t.step_index);
  stmt.setString(first + 7, t.title);
  stmt.setString(first + 8, std::string(StepKindName(t.kind)));
  stmt.setString(first + 9, std::string(RoleName(t.role)));
  stmt.setString(first + 10, t.assignee_id);
  stmt.setString(first + 11, std::string(TaskStatusName(t.status)));
  stmt.setString(first + 12, db::ToSqlDatetime(t.due_at));
  stmt.setInt64(first + 13, absl::ToInt64Seconds(t.sla));
  db::SetOptionalTime(stmt, first + 14, t.escalate_at);
  stmt.setString(first + 15, t.escalation_chain_id);
  stmt.setString(first + 16, db::ToSqlDatetime(t.created_at));
}

// Inserts the task unless its id exists (a touchpoint already generated); publishes
// TASK_CREATED when it was new.
bool InsertTask(Tx& tx, const Task& t) {
  auto& stmt = tx.conn.Prepare(absl::StrCat("INSERT IGNORE INTO tasks (", kTaskInsertColumns,
                                            ") VALUES ", kTaskInsertRow));
  BindTaskRow(stmt, 0, t);
  if (stmt.executeUpdate() == 0) return false;
  tx.events.push_back({0, TaskEventKind::kCreated, tx.now, t, std::nullopt});
  return true;
}

// The task for `step` of `run`, due at `base` + the step's offset. Steps that can
// escalate do so first when their SLA has run out past the due time.
Task TaskForStep(const Run& run, const Playbook& p, const EscalationChain& chain, int index,
                 absl::Time base, std::string task_id, absl::Time now) {
  const Step& step = p.steps[index];
  Task t;
  t.task_id = std::move(task_id);
  t.run_id = run.run_id;
  t.playbook_id = run.playbook_id;
  t.account_id = run.account_id;
  t.tier = run.tier;
  t.step_index = index;
  t.title = step.title;
  t.kind = step.kind;
  t.role = step.role;
  t.assignee_id = ResolveAssignee(step.role, run.owner_id, chain);
  t.status = TaskStatus::kOpen;
  t.due_at = base + step.due_offset;
  t.sla = step.sla;
  if (step.sla > absl::ZeroDuration() && step.role != Role::kAutomated) {
    t.escalate_at = t.due_at + step.sla;
  }
  t.escalation_chain_id = p.escalation_chain_id.empty() ? "default" : p.escalation_chain_id;
  t.created_at = now;
  return t;
}

bool IsRiskTrigger(const Trigger& t) {
  return (t.kind == TriggerKind::kBandEntered && (t.band == "RED" || t.band == "YELLOW")) ||
         t.kind == TriggerKind::kAlertOpened;
}

// Writes what `rows` holds that the database does not, in multi-row statements where
// rows are new: cohort draws, runs, triggers and tasks, then the stored runs and
// cohort rows the page changed.
void WriteRunRows(Tx& tx, RunRows& rows) {
  if (rows.unwritten.empty()) return;
  std::vector<std::pair<const AccountPlaybook*, HeldCohort*>> new_cohort;
  std::vector<std::pair<const AccountPlaybook*, HeldCohort*>> changed_cohort;
  for (auto& [key, c] : rows.cohort) {
    if (c.inserted) new_cohort.emplace_back(&key, &c);
    if (c.changed) changed_cohort.emplace_back(&key, &c);
  }
  db::ForEachChunk(new_cohort.size(), [&](size_t offset, size_t count) {
    auto& insert = tx.conn.Prepare(absl::StrCat(
        "INSERT INTO cohort (playbook_id, account_id, arm, draw, holdout_percent, entered_at,"
        " recovered_at, churned_at) VALUES ",
        db::RowPlaceholders(count, 8)));
    for (size_t i = 0; i < count; ++i) {
      const auto& [key, c] = new_cohort[offset + i];
      const int at = static_cast<int>(i * 8);
      insert.setString(at + 1, key->second);
      insert.setString(at + 2, key->first);
      insert.setString(at + 3, c->arm);
      insert.setDouble(at + 4, c->draw);
      insert.setInt(at + 5, c->holdout_percent);
      insert.setString(at + 6, db::ToSqlDatetime(c->entered_at));
      db::SetOptionalTime(insert, at + 7, c->recovered_at);
      db::SetOptionalTime(insert, at + 8, c->churned_at);
    }
    insert.executeUpdate();
  });
  std::vector<HeldRun*> new_runs;
  std::vector<HeldRun*> changed_runs;
  for (auto& [key, r] : rows.active) {
    if (r.inserted) new_runs.push_back(&r);
    if (r.changed) changed_runs.push_back(&r);
  }
  db::ForEachChunk(new_runs.size(), [&](size_t offset, size_t count) {
    std::string values;
    for (size_t i = 0; i < count; ++i) {
      absl::StrAppend(&values, i == 0 ? "" : ", ",
                      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ACTIVE', NULL, '', 1)");
    }
    auto& insert = tx.conn.Prepare(absl::StrCat(
        "INSERT INTO runs (run_id, playbook_id, playbook_version, account_id, tier, owner_id,"
        " trigger_kind, trigger_band, trigger_key, triggered_at, trigger_count,"
        " last_triggered_at, green_since, exit_green_days, fail_on_churn, state, ended_at,"
        " end_reason, active_flag) VALUES ",
        values));
    for (size_t i = 0; i < count; ++i) {
      const HeldRun& h = *new_runs[offset + i];
      const Run& run = h.run;
      const int at = static_cast<int>(i * 15);
      insert.setString(at + 1, run.run_id);
      insert.setString(at + 2, run.playbook_id);
      insert.setInt(at + 3, run.playbook_version);
      insert.setString(at + 4, run.account_id);
      insert.setString(at + 5, run.tier);
      insert.setString(at + 6, run.owner_id);
      insert.setString(at + 7, h.trigger_kind);
      insert.setString(at + 8, h.trigger_band);
      insert.setString(at + 9, run.trigger_key);
      insert.setString(at + 10, db::ToSqlDatetime(run.triggered_at));
      insert.setInt(at + 11, run.trigger_count);
      insert.setString(at + 12, db::ToSqlDatetime(run.last_triggered_at));
      db::SetOptionalTime(insert, at + 13, h.green_since);
      insert.setInt(at + 14, h.exit_green_days);
      insert.setBoolean(at + 15, h.fail_on_churn);
    }
    insert.executeUpdate();
  });
  db::ForEachChunk(rows.new_triggers.size(), [&](size_t offset, size_t count) {
    auto& insert = tx.conn.Prepare(absl::StrCat(
        "INSERT INTO run_triggers (playbook_id, account_id, trigger_key, run_id, applied_at)"
        " VALUES ",
        db::RowPlaceholders(count, 5)));
    for (size_t i = 0; i < count; ++i) {
      const TriggerId& id = rows.new_triggers[offset + i];
      const int at = static_cast<int>(i * 5);
      insert.setString(at + 1, std::get<0>(id));
      insert.setString(at + 2, std::get<1>(id));
      insert.setString(at + 3, std::get<2>(id));
      insert.setString(at + 4, rows.triggers.at(id));
      insert.setString(at + 5, db::ToSqlDatetime(tx.now));
    }
    insert.executeUpdate();
  });
  // A new run's tasks: their ids start with the run's, so none exists yet.
  db::ForEachChunk(rows.new_tasks.size(), [&](size_t offset, size_t count) {
    std::string values;
    for (size_t i = 0; i < count; ++i) {
      absl::StrAppend(&values, i == 0 ? "" : ", ", kTaskInsertRow);
    }
    auto& stmt = tx.conn.Prepare(
        absl::StrCat("INSERT INTO tasks (", kTaskInsertColumns, ") VALUES ", values));
    for (size_t i = 0; i < count; ++i) {
      BindTaskRow(stmt, static_cast<int>(i) * kTaskInsertParams, rows.new_tasks[offset + i]);
    }
    stmt.executeUpdate();
  });
  for (HeldRun* h : changed_runs) {
    auto& update = tx.conn.Prepare(
        "UPDATE runs SET trigger_count = ?, last_triggered_at = ?, green_since = ?"
        " WHERE run_id = ?");
    update.setInt(1, h->run.trigger_count);
    update.setString(2, db::ToSqlDatetime(h->run.last_triggered_at));
    db::SetOptionalTime(update, 3, h->green_since);
    update.setString(4, h->run.run_id);
    update.executeUpdate();
  }
  for (const auto& [key, c] : changed_cohort) {
    auto& update = tx.conn.Prepare(
        "UPDATE cohort SET recovered_at = ? WHERE playbook_id = ? AND account_id = ?");
    db::SetOptionalTime(update, 1, c->recovered_at);
    update.setString(2, key->second);
    update.setString(3, key->first);
    update.executeUpdate();
  }
  for (auto& [key, r] : rows.active) r.inserted = r.changed = false;
  for (auto& [key, c] : rows.cohort) c.inserted = c.changed = false;
  rows.new_triggers.clear();
  rows.new_tasks.clear();
  rows.unwritten.clear();
}

// Before a statement that reads or writes the account's runs, tasks or cohort rows
// in the database: the page's unwritten rows go first.
void WritePageRowsOf(Tx& tx, const std::string& account_id) {
  if (tx.page != nullptr && tx.page->unwritten.count(account_id)) WriteRunRows(tx, *tx.page);
}

// The page stops holding the account's rows (after a statement that changed them in
// the database); its later starts read them again.
void ReleaseAccount(Tx& tx, const std::string& account_id) {
  if (tx.page == nullptr || tx.page->accounts.erase(account_id) == 0) return;
  WritePageRowsOf(tx, account_id);
  RunRows& rows = *tx.page;
  auto drop = [&](auto& map) {
    auto it = map.lower_bound(AccountPlaybook(account_id, ""));
    while (it != map.end() && it->first.first == account_id) it = map.erase(it);
  };
  drop(rows.active);
  drop(rows.cohort);
}

absl::StatusOr<HeldRun> ParseHeldRun(sql::ResultSet& rs) {
  HeldRun h;
  ASSIGN_OR_RETURN(h.run, ParseRun(rs));
  ASSIGN_OR_RETURN(h.green_since, db::GetOptionalTime(rs, 14));
  return h;
}

// The active runs (locked) and cohort rows of `ids` (sorted, distinct) and which of
// `triggers` were applied before, into `rows`, which then holds those accounts.
absl::Status ReadRunRows(Tx& tx, const std::vector<std::string>& ids,
                         const std::vector<TriggerId>& triggers, RunRows& rows) {
  absl::Status status;
  db::ForEachChunk(ids.size(), db::kBinaryRowChunks, [&](size_t offset, size_t count) {
    if (!status.ok()) return;
    auto& runs = tx.conn.Prepare(absl::StrCat(
        "SELECT ", kRunColumns, ", green_since FROM runs WHERE account_id IN ",
        db::RowPlaceholders(1, count), " AND active_flag = 1 ORDER BY account_id, playbook_id",
        " FOR UPDATE"));
    for (size_t i = 0; i < count; ++i) runs.setString(static_cast<int>(i + 1), ids[offset + i]);
    ResultSetPtr rs(runs.executeQuery());
    while (rs->next()) {
      absl::StatusOr<HeldRun> h = ParseHeldRun(*rs);
      if (!h.ok()) {
        status = h.status();
        return;
      }
      AccountPlaybook key(h->run.account_id, h->run.playbook_id);
      rows.active[key] = *std::move(h);
    }
    auto& cohort = tx.conn.Prepare(absl::StrCat(
        "SELECT account_id, playbook_id, arm, draw, holdout_percent, entered_at, recovered_at,"
        " churned_at FROM cohort WHERE account_id IN ",
        db::RowPlaceholders(1, count)));
    for (size_t i = 0; i < count; ++i) cohort.setString(static_cast<int>(i + 1), ids[offset + i]);
    ResultSetPtr crs(cohort.executeQuery());
    while (crs->next()) {
      HeldCohort c;
      c.arm = db::GetString(*crs, 3);
      c.draw = crs->getDouble(4);
      c.holdout_percent = crs->getInt(5);
      absl::StatusOr<absl::Time> entered = db::GetTime(*crs, 6);
      absl::StatusOr<std::optional<absl::Time>> recovered = db::GetOptionalTime(*crs, 7);
      absl::StatusOr<std::optional<absl::Time>> churned = db::GetOptionalTime(*crs, 8);
      for (const absl::Status& s : {entered.status(), recovered.status(), churned.status()}) {
        if (!s.ok() && status.ok()) status = s;
      }
      if (!status.ok()) return;
      c.entered_at = *entered;
      c.recovered_at = *recovered;
      c.churned_at = *churned;
      rows.cohort[AccountPlaybook(db::GetString(*crs, 1), db::GetString(*crs, 2))] = std::move(c);
    }
  });
  RETURN_IF_ERROR(status);
  db::ForEachChunk(triggers.size(), db::kBinaryRowChunks, [&](size_t offset, size_t count) {
    auto& seen = tx.conn.Prepare(absl::StrCat(
        "SELECT playbook_id, account_id, trigger_key, run_id FROM run_triggers"
        " FORCE INDEX (PRIMARY) WHERE (playbook_id, account_id, trigger_key) IN (",
        db::RowPlaceholders(count, 3), ") FOR UPDATE"));
    for (size_t i = 0; i < count; ++i) {
      const TriggerId& id = triggers[offset + i];
      seen.setString(static_cast<int>(i * 3 + 1), std::get<0>(id));
      seen.setString(static_cast<int>(i * 3 + 2), std::get<1>(id));
      seen.setString(static_cast<int>(i * 3 + 3), std::get<2>(id));
    }
    ResultSetPtr rs(seen.executeQuery());
    while (rs->next()) {
      rows.triggers[TriggerId(db::GetString(*rs, 1), db::GetString(*rs, 2),
                              db::GetString(*rs, 3))] = db::GetString(*rs, 4);
    }
  });
  rows.looked_up.insert(triggers.begin(), triggers.end());
  rows.accounts.insert(ids.begin(), ids.end());
  return absl::OkStatus();
}

// Opens a run of `p` for the account, or updates its active run. Returns nullopt
// when the trigger was applied before (a replay) or the account is held out.
// `automatic`: opened by an event or the scheduler (hold-out applies), not by hand.
// Within a page of health events the account's rows come from the page and what
// it writes waits for the page's end (WriteRunRows); otherwise they are read and
// written here.
absl::StatusOr<std::optional<StartResult>> StartRunTx(Tx& tx, const Playbook& p,
                                                      const AccountRow& account,
                                                      const std::string& trigger_key,
                                                      absl::Time triggered_at, bool automatic) {
  const std::string& account_id = account.profile.account_id;
  RunRows single;
  const bool held = tx.page != nullptr && tx.page->accounts.count(account_id) > 0;
  RunRows& rows = held ? *tx.page : single;
  if (!held) RETURN_IF_ERROR(ReadRunRows(tx, {account_id}, {}, single));
  const TriggerId id(p.playbook_id, account_id, trigger_key);
  const AccountPlaybook key(account_id, p.playbook_id);
  if (!rows.looked_up.count(id)) {
    auto& seen = tx.conn.Prepare(
        "SELECT run_id FROM run_triggers WHERE playbook_id = ? AND account_id = ? AND"
        " trigger_key = ? FOR UPDATE");
    seen.setString(1, p.playbook_id);
    seen.setString(2, account_id);
    seen.setString(3, trigger_key);
    ResultSetPtr rs(seen.executeQuery());
    if (rs->next()) rows.triggers[id] = db::GetString(*rs, 1);
    rows.looked_up.insert(id);
  }
  if (auto seen = rows.triggers.find(id); seen != rows.triggers.end()) {
    const std::string& run_id = seen->second;
    if (run_id.empty()) return std::optional<StartResult>();
    auto it = rows.active.find(key);
    if (it != rows.active.end() && it->second.run.run_id == run_id) {
      return std::optional<StartResult>(StartResult{it->second.run, false});
    }
    WritePageRowsOf(tx, account_id);
    ASSIGN_OR_RETURN(std::optional<Run> run, ReadRun(tx.conn, run_id, false));
    if (!run.has_value()) return std::optional<StartResult>();
    return std::optional<StartResult>(StartResult{*std::move(run), false});
  }
  auto applied = [&](const std::string& run_id) {
    rows.triggers[id] = run_id;
    rows.new_triggers.push_back(id);
    rows.unwritten.insert(account_id);
  };
  std::optional<StartResult> result;
  // The treated / held-out draw is made once per playbook and account and kept.
  if (automatic && (p.holdout_percent > 0 || IsRiskTrigger(p.trigger))) {
    auto drawn = rows.cohort.find(key);
    if (drawn == rows.cohort.end()) {
      HeldCohort c;
      c.draw = HoldoutDraw(p.playbook_id, account_id);
      c.arm = c.draw * 100 < p.holdout_percent ? kHeldOutArm : kTreatedArm;
      c.holdout_percent = p.holdout_percent;
      c.entered_at = triggered_at;
      c.inserted = true;
      drawn = rows.cohort.emplace(key, std::move(c)).first;
      rows.unwritten.insert(account_id);
    }
    if (drawn->second.arm == kHeldOutArm) applied("");
  }
  if (rows.triggers.count(id) == 0) {
    if (auto active = rows.active.find(key); active != rows.active.end()) {
      HeldRun& h = active->second;
      h.run.trigger_count += 1;
      h.run.last_triggered_at = triggered_at;
      if (!h.inserted) h.changed = true;
      applied(h.run.run_id);
      result = StartResult{h.run, false};
    } else {
      HeldRun h;
      Run& run = h.run;
      run.run_id = absl::StrCat("run-", Fingerprint64Hex(absl::StrCat(p.playbook_id, "\n",
                                                                      account_id, "\n",
                                                                      trigger_key)));
      run.playbook_id = p.playbook_id;
      run.playbook_version = p.version;
      run.account_id = account_id;
      run.state = RunState::kActive;
      run.tier = account.profile.tier;
      run.owner_id = account.profile.owner_id;
      run.trigger_key = trigger_key;
      run.triggered_at = triggered_at;
      run.trigger_count = 1;
      run.last_triggered_at = triggered_at;
      h.inserted = true;
      h.trigger_kind = std::string(TriggerKindName(p.trigger.kind));
      h.trigger_band = p.trigger.band;
      h.exit_green_days = p.exit.green_days;
      h.fail_on_churn = p.exit.fail_on_churn;
      // An account already GREEN when the run opens (an alert on a green account) is
      // counting its green days from now.
      if (account.band == "GREEN") h.green_since = triggered_at;
      applied(run.run_id);
      // Cadence runs get their tasks from the scheduler, one touchpoint at a time.
      if (p.trigger.kind != TriggerKind::kCadence) {
        ASSIGN_OR_RETURN(const EscalationChain* chain, CachedChain(tx, p.escalation_chain_id));
        for (size_t i = 0; i < p.steps.size(); ++i) {
          Task t = TaskForStep(run, p, *chain, static_cast<int>(i), triggered_at,
                               absl::StrCat(run.run_id, ".", i), tx.now);
          tx.events.push_back({0, TaskEventKind::kCreated, tx.now, t, std::nullopt});
          rows.new_tasks.push_back(std::move(t));
        }
      }
      result = StartResult{run, true};
      rows.active.emplace(key, std::move(h));
    }
  }
  if (!held) WriteRunRows(tx, single);
  return result;
}

// Ends a run: its open tasks are cancelled.
absl::Status EndRunTx(Tx& tx, Run& run, RunState state, const std::string& reason) {
  auto& stmt = tx.conn.Prepare(
      "UPDATE runs SET state = ?, ended_at = ?, end_reason = ?, active_flag = NULL"
      " WHERE run_id = ?");
  stmt.setString(1, std::string(RunStateName(state)));
  stmt.setString(2, db::ToSqlDatetime(tx.now));
  stmt.setString(3, reason);
  stmt.setString(4, run.run_id);
  stmt.executeUpdate();
  run.state = state;
  run.ended_at = tx.now;
  run.end_reason = reason;
  auto& open = tx.conn.Prepare(absl::StrCat(
      "SELECT ", kTaskColumns,
      " FROM tasks WHERE run_id = ? AND status IN ('OPEN', 'SNOOZED') ORDER BY task_id FOR UPDATE"));
  open.setString(1, run.run_id);
  ASSIGN_OR_RETURN(std::vector<Task> tasks, ParseTasks(open));
  for (Task& t : tasks) {
    t.status = TaskStatus::kCancelled;
    t.escalate_at.reset();
    WriteTaskState(tx.conn, t);
    tx.events.push_back({0, TaskEventKind::kCancelled, tx.now, t, std::nullopt});
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Applying health events

// The current playbooks with `kind`'s trigger, read once per transaction.
absl::StatusOr<const std::vector<Playbook>*> PlaybooksFor(Tx& tx, TriggerKind kind) {
  auto cached = tx.by_trigger.find(kind);
  if (cached == tx.by_trigger.end()) {
    ASSIGN_OR_RETURN(std::vector<Playbook> playbooks, ReadCurrentPlaybooks(tx.conn, kind));
    cached = tx.by_trigger.emplace(kind, std::move(playbooks)).first;
  }
  return &cached->second;
}

// The trigger kind a health event of `kind` can fire.
std::optional<TriggerKind> FiredKind(HealthEventKind kind) {
  switch (kind) {
    case HealthEventKind::kAccountUpserted: return TriggerKind::kAccountCreated;
    case HealthEventKind::kAccountChurned: return TriggerKind::kAccountChurned;
    case HealthEventKind::kBandChanged: return TriggerKind::kBandEntered;
    case HealthEventKind::kAlertOpened: return TriggerKind::kAlertOpened;
    default: return std::nullopt;
  }
}

// Whether a playbook's trigger (of the event's FiredKind) fires on the event.
bool TriggerMatches(const Trigger& t, const HealthEvent& e) {
  switch (t.kind) {
    case TriggerKind::kBandEntered: return t.band == e.band;
    case TriggerKind::kAlertOpened: return t.alert_kind == e.alert_kind;
    default: return true;
  }
}

std::string HealthTriggerKey(const HealthEvent& e) { return absl::StrCat("health:", e.sequence); }

// Opens runs of every enabled playbook the event fires that covers the account.
absl::Status Fire(Tx& tx, const AccountRow& account, const HealthEvent& e) {
  const std::optional<TriggerKind> kind = FiredKind(e.kind);
  if (!kind.has_value()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const std::vector<Playbook>* playbooks, PlaybooksFor(tx, *kind));
  for (const Playbook& p : *playbooks) {
    if (p.disabled || !TriggerMatches(p.trigger, e)) continue;
    if (!Applies(p, account.profile.tier, account.profile.industry)) continue;
    ASSIGN_OR_RETURN(std::optional<StartResult> started,
                     StartRunTx(tx, p, account, HealthTriggerKey(e), e.occurred_at,
                                /*automatic=*/true));
    (void)started;
  }
  return absl::OkStatus();
}

// A page's runs, triggers and cohort rows read up front: the active runs and cohort
// rows of the accounts whose events can fire a trigger, and the triggers those
// events can fire (ApplyEvent's Fire calls, give or take the tier and industry
// filter). Only those events reach the runs (Fire, ApplyBand, ApplyChurn): an
// account with score changes alone (most of a rescore's events) is not read or
// locked here.
absl::Status ReadPageRunRows(Tx& tx, const std::vector<HealthEvent>& events, int64_t cursor) {
  std::set<TriggerId> triggers;
  std::set<std::string> accounts;
  for (const HealthEvent& e : events) {
    if (e.sequence <= cursor || e.account_id.empty()) continue;
    const std::optional<TriggerKind> kind = FiredKind(e.kind);
    if (!kind.has_value()) continue;
    accounts.insert(e.account_id);
    ASSIGN_OR_RETURN(const std::vector<Playbook>* playbooks, PlaybooksFor(tx, *kind));
    for (const Playbook& p : *playbooks) {
      if (p.disabled || !TriggerMatches(p.trigger, e)) continue;
      triggers.emplace(p.playbook_id, e.account_id, HealthTriggerKey(e));
    }
  }
  tx.page = std::make_unique<RunRows>();
  return ReadRunRows(tx, std::vector<std::string>(accounts.begin(), accounts.end()),
                     std::vector<TriggerId>(triggers.begin(), triggers.end()), *tx.page);
}

absl::Status ApplyChurn(Tx& tx, const std::string& account_id, absl::Time at) {
  // Its runs end and its cohort rows change below, in the database.
  ReleaseAccount(tx, account_id);
  auto& mark = tx.conn.Prepare(
      "UPDATE accounts SET churned_at = ?, lifecycle = 'CHURNED', next_schedule_at = ?"
      " WHERE account_id = ?");
  mark.setString(1, db::ToSqlDatetime(at));
  mark.setString(2, db::ToSqlDatetime(kNever));
  mark.setString(3, account_id);
  mark.executeUpdate();
  if (AccountRow* kept = KeptRow(tx, account_id)) {
    kept->churned_at = at;
    kept->profile.lifecycle = "CHURNED";
  }
  auto& active = tx.conn.Prepare(absl::StrCat(
      "SELECT ", kRunColumns, ", fail_on_churn FROM runs WHERE account_id = ? AND active_flag = 1"
      " ORDER BY run_id FOR UPDATE"));
  active.setString(1, account_id);
  std::vector<std::pair<Run, bool>> runs;
  {
    ResultSetPtr rs(active.executeQuery());
    while (rs->next()) {
      ASSIGN_OR_RETURN(Run r, ParseRun(*rs));
      runs.emplace_back(std::move(r), rs->getBoolean(14));
    }
  }
  for (auto& [run, fail] : runs) {
    RETURN_IF_ERROR(EndRunTx(tx, run, fail ? RunState::kFailed : RunState::kCancelled,
                             "account churned"));
  }
  auto& cohort = tx.conn.Prepare(
      "UPDATE cohort SET churned_at = ? WHERE account_id = ? AND churned_at IS NULL");
  cohort.setString(1, db::ToSqlDatetime(at));
  cohort.setString(2, account_id);
  cohort.executeUpdate();
  return absl::OkStatus();
}

// The bands of a page's accounts, one statement per chunk: nothing in the page's
// transaction reads the column back from the database (its rows are kept).
void WriteBands(Tx& tx) {
  std::vector<const std::pair<const std::string, std::string>*> bands;
  for (const auto& entry : tx.bands) bands.push_back(&entry);
  db::ForEachChunk(bands.size(), [&](size_t offset, size_t count) {
    std::string cases;
    for (size_t i = 0; i < count; ++i) absl::StrAppend(&cases, " WHEN ? THEN ?");
    auto& set = tx.conn.Prepare(absl::StrCat("UPDATE accounts SET band = CASE account_id", cases,
                                             " END WHERE account_id IN ",
                                             db::RowPlaceholders(1, count)));
    for (size_t i = 0; i < count; ++i) {
      set.setString(static_cast<int>(2 * i + 1), bands[offset + i]->first);
      set.setString(static_cast<int>(2 * i + 2), bands[offset + i]->second);
      set.setString(static_cast<int>(2 * count + i + 1), bands[offset + i]->first);
    }
    set.executeUpdate();
  });
  tx.bands.clear();
}

absl::Status ApplyBand(Tx& tx, const std::string& account_id, const std::string& band,
                       absl::Time at) {
  if (AccountRow* kept = KeptRow(tx, account_id); kept != nullptr && tx.page != nullptr) {
    kept->band = band;
    tx.bands[account_id] = band;
  } else {
    auto& set = tx.conn.Prepare("UPDATE accounts SET band = ? WHERE account_id = ?");
    set.setString(1, band);
    set.setString(2, account_id);
    set.executeUpdate();
    if (kept != nullptr) kept->band = band;
  }
  if (tx.page != nullptr && tx.page->accounts.count(account_id)) {
    // The page holds every active run and cohort row of the account: the same
    // changes as the statements below, in memory, written with the page.
    RunRows& rows = *tx.page;
    const bool green = band == "GREEN";
    for (auto it = rows.active.lower_bound(AccountPlaybook(account_id, ""));
         it != rows.active.end() && it->first.first == account_id; ++it) {
      HeldRun& h = it->second;
      if (green == h.green_since.has_value()) continue;
      h.green_since = green ? std::optional<absl::Time>(at) : std::nullopt;
      if (!h.inserted) h.changed = true;
      rows.unwritten.insert(account_id);
    }
    if (!green) return absl::OkStatus();
    for (auto it = rows.cohort.lower_bound(AccountPlaybook(account_id, ""));
         it != rows.cohort.end() && it->first.first == account_id; ++it) {
      HeldCohort& c = it->second;
      if (c.recovered_at.has_value() || c.churned_at.has_value() || c.entered_at > at) continue;
      c.recovered_at = at;
      if (!c.inserted) c.changed = true;
      rows.unwritten.insert(account_id);
    }
    return absl::OkStatus();
  }
  if (band == "GREEN") {
    auto& green = tx.conn.Prepare(
        "UPDATE runs SET green_since = ? WHERE account_id = ? AND active_flag = 1"
        " AND green_since IS NULL");
    green.setString(1, db::ToSqlDatetime(at));
    green.setString(2, account_id);
    green.executeUpdate();
    auto& recovered = tx.conn.Prepare(
        "UPDATE cohort SET recovered_at = ? WHERE account_id = ? AND recovered_at IS NULL"
        " AND churned_at IS NULL AND entered_at <= ?");
    recovered.setString(1, db::ToSqlDatetime(at));
    recovered.setString(2, account_id);
    recovered.setString(3, db::ToSqlDatetime(at));
    recovered.executeUpdate();
  } else {
    auto& not_green = tx.conn.Prepare(
        "UPDATE runs SET green_since = NULL WHERE account_id = ? AND active_flag = 1");
    not_green.setString(1, account_id);
    not_green.executeUpdate();
  }
  return absl::OkStatus();
}

// The profile an event's account is upserted with: what health's GetAccount said,
// overlaid with what the event itself carries.
AccountProfile ProfileOf(const HealthEvent& e,
                         const std::map<std::string, AccountProfile>& context) {
  AccountProfile profile;
  if (auto it = context.find(e.account_id); it != context.end()) profile = it->second;
  profile.account_id = e.account_id;
  if (e.account.has_value()) {
    const AccountProfile& a = *e.account;
    profile.tier = a.tier;
    profile.industry = a.industry;
    profile.owner_id = a.owner_id;
    profile.lifecycle = a.lifecycle;
    profile.contract_start = a.contract_start;
    profile.renewal_date = a.renewal_date;
  } else if (!e.tier.empty()) {
    profile.tier = e.tier;
  }
  // Churn comes from ACCOUNT_CHURNED only (a replayed old event must not see today's state).
  if (profile.lifecycle == "CHURNED") profile.lifecycle.clear();
  return profile;
}

// The page's accounts that have no row yet, inserted with one multi-row statement
// per chunk, each as its first event in the page would have created it; the rows
// join tx.prefetched and tx.inserted_for_page.
void InsertPageAccounts(Tx& tx, const std::vector<HealthEvent>& events, int64_t cursor,
                        const std::map<std::string, AccountProfile>& context) {
  std::map<std::string, AccountRow> rows;
  for (const HealthEvent& e : events) {
    if (e.sequence <= cursor || e.account_id.empty() || rows.count(e.account_id)) continue;
    auto it = tx.prefetched.find(e.account_id);
    if (it == tx.prefetched.end() || it->second.has_value()) continue;
    AccountRow row;
    row.profile = ProfileOf(e, context);
    row.first_seen_at = e.occurred_at;
    rows.emplace(e.account_id, std::move(row));
  }
  std::vector<const AccountRow*> ordered;
  for (const auto& entry : rows) ordered.push_back(&entry.second);
  InsertAccountRows(tx, ordered);
  for (auto& [id, row] : rows) {
    tx.prefetched[id] = std::move(row);
    tx.inserted_for_page.insert(id);
  }
}

absl::Status ApplyEvent(Tx& tx, const HealthEvent& e,
                        const std::map<std::string, AccountProfile>& context) {
  if (e.account_id.empty()) return absl::OkStatus();
  const AccountProfile profile = ProfileOf(e, context);
  ASSIGN_OR_RETURN(auto upserted, UpsertAccount(tx, profile, e.occurred_at));
  AccountRow& account = upserted.first;
  const bool created = upserted.second;
  const bool churned = account.churned_at.has_value();
  // Standing (score, band, NPS, ARR) and onboarding first value (advocacy_store.cc),
  // which marks the account's onboarding runs in the database.
  if (e.kind == HealthEventKind::kFirstValueReached) WritePageRowsOf(tx, e.account_id);
  RETURN_IF_ERROR(ApplyOutcomeEvent(tx.conn, e, tx.now, tx.standing));
  switch (e.kind) {
    case HealthEventKind::kAccountUpserted:
      if (created && !churned &&
          (account.profile.lifecycle.empty() || account.profile.lifecycle == "ONBOARDING")) {
        return Fire(tx, account, e);
      }
      return absl::OkStatus();
    case HealthEventKind::kAccountChurned:
      if (churned) return absl::OkStatus();
      RETURN_IF_ERROR(ApplyChurn(tx, e.account_id, e.occurred_at));
      account.churned_at = e.occurred_at;
      return Fire(tx, account, e);
    case HealthEventKind::kBandChanged:
      if (e.band.empty() || e.band == account.band) return absl::OkStatus();
      RETURN_IF_ERROR(ApplyBand(tx, e.account_id, e.band, e.occurred_at));
      account.band = e.band;
      if (churned) return absl::OkStatus();
      return Fire(tx, account, e);
    case HealthEventKind::kAlertOpened:
      if (churned) return absl::OkStatus();
      return Fire(tx, account, e);
    case HealthEventKind::kExpansionSignal: {
      // DOMAIN §4: opportunities come from GREEN accounts; red ones are not pushed.
      if (churned || e.band != "GREEN") return absl::OkStatus();
      const std::string signal = e.signal_event_id.empty() ? absl::StrCat("seq-", e.sequence)
                                                           : e.signal_event_id;
      auto& insert = tx.conn.Prepare(
          "INSERT IGNORE INTO expansion_requests (request_id, account_id, signal_event_id,"
          " signal_kind, feature, tier, created_at, next_attempt_at, attempts, sent_at,"
          " opportunity_id, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, '', '')");
      insert.setString(1, absl::StrCat("playbooks-expansion-",
                                       Fingerprint64Hex(absl::StrCat(e.account_id, "\n", signal))));
      insert.setString(2, e.account_id);
      insert.setString(3, signal.substr(0, 128));
      insert.setString(4, e.signal_kind);
      insert.setString(5, e.feature.substr(0, 200));
      insert.setString(6, account.profile.tier);
      insert.setString(7, db::ToSqlDatetime(tx.now));
      insert.setString(8, db::ToSqlDatetime(tx.now));
      insert.executeUpdate();
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

absl::Status MissingOr(const std::optional<Run>& run, const std::string& run_id) {
  if (!run.has_value()) return absl::NotFoundError(absl::StrCat("run '", run_id, "' not found"));
  return absl::OkStatus();
}

std::string TimeKeyToken(absl::Time t, const std::string& id) {
  return absl::StrCat(db::ToSqlDatetime(t), "|", id);
}

absl::Status ParseTimeKeyToken(const std::string& token, std::string* time, std::string* id) {
  const size_t bar = token.find('|');
  if (bar == std::string::npos || !db::FromSqlDatetime(token.substr(0, bar)).ok()) {
    return absl::InvalidArgumentError("page_token: not a token this service issued");
  }
  *time = token.substr(0, bar);
  *id = token.substr(bar + 1);
  return absl::OkStatus();
}

// A list query: optional equality filters, then keyset paging on (time, id), so a
// page token stays valid while rows are added.
class PagedQuery {
 public:
  PagedQuery(const std::string& select, std::string time_column, std::string id_column)
      : sql_(absl::StrCat(select, " WHERE 1 = 1")),
        time_column_(std::move(time_column)),
        id_column_(std::move(id_column)) {}

  // `clause` is " AND column = ?" (or any condition with one parameter).
  void Where(absl::string_view clause, const std::string& value) {
    absl::StrAppend(&sql_, clause);
    params_.push_back(value);
  }

  absl::Status After(const std::string& token) {
    if (token.empty()) return absl::OkStatus();
    std::string time, id;
    RETURN_IF_ERROR(ParseTimeKeyToken(token, &time, &id));
    absl::StrAppend(&sql_, " AND (", time_column_, " > ? OR (", time_column_, " = ? AND ",
                    id_column_, " > ?))");
    params_.insert(params_.end(), {time, time, id});
    return absl::OkStatus();
  }

  // Reads one page into `items` (and the token of the next into `next`, empty on
  // the last page): page_size + 1 rows are read, the extra one only says there is more.
  template <typename T>
  absl::Status Fetch(db::Pool& pool, int page_size, absl::StatusOr<T> (*parse)(sql::ResultSet&),
                     const std::function<std::pair<absl::Time, std::string>(const T&)>& key,
                     std::vector<T>* items, std::string* next) const {
    const std::string sql =
        absl::StrCat(sql_, " ORDER BY ", time_column_, ", ", id_column_, " LIMIT ?");
    RETURN_IF_ERROR(pool.Run([&](db::Connection& conn) -> absl::Status {
      auto& stmt = conn.Prepare(sql);
      for (size_t i = 0; i < params_.size(); ++i) {
        stmt.setString(static_cast<int>(i + 1), params_[i]);
      }
      stmt.setInt(static_cast<int>(params_.size() + 1), page_size + 1);
      ResultSetPtr rs(stmt.executeQuery());
      while (rs->next()) {
        ASSIGN_OR_RETURN(T item, parse(*rs));
        items->push_back(std::move(item));
      }
      return absl::OkStatus();
    }));
    if (static_cast<int>(items->size()) > page_size) {
      items->pop_back();
      const auto [time, id] = key(items->back());
      *next = TimeKeyToken(time, id);
    }
    return absl::OkStatus();
  }

 private:
  std::string sql_;
  std::string time_column_;
  std::string id_column_;
  std::vector<std::string> params_;
};

}  // namespace

// ---------------------------------------------------------------------------
// Definitions

absl::StatusOr<Playbook> MySqlPlaybookRepository::CreatePlaybook(
    const db::WriteKey& key, const db::ResultCodec<Playbook>& codec, const Playbook& playbook,
    absl::Time now) {
  return db::RunIdempotent<Playbook>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<Playbook> {
        ASSIGN_OR_RETURN(std::optional<int> current,
                         CurrentVersion(conn, playbook.playbook_id, /*for_update=*/true));
        if (current.has_value()) {
          return absl::AlreadyExistsError(
              absl::StrCat("playbook '", playbook.playbook_id, "' already exists"));
        }
        Playbook p = playbook;
        p.version = 1;
        p.updated_at = now;
        auto& head = conn.Prepare(
            "INSERT INTO playbooks (playbook_id, current_version, trigger_kind, created_at,"
            " updated_at) VALUES (?, 1, ?, ?, ?)");
        head.setString(1, p.playbook_id);
        head.setString(2, std::string(TriggerKindName(p.trigger.kind)));
        head.setString(3, db::ToSqlDatetime(now));
        head.setString(4, db::ToSqlDatetime(now));
        head.executeUpdate();
        InsertPlaybookVersion(conn, p);
        return p;
      });
}

absl::StatusOr<Playbook> MySqlPlaybookRepository::UpdatePlaybook(
    const db::WriteKey& key, const db::ResultCodec<Playbook>& codec, const Playbook& playbook,
    absl::Time now) {
  return db::RunIdempotent<Playbook>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<Playbook> {
        ASSIGN_OR_RETURN(std::optional<int> current,
                         CurrentVersion(conn, playbook.playbook_id, /*for_update=*/true));
        if (!current.has_value()) {
          return absl::NotFoundError(absl::StrCat("playbook '", playbook.playbook_id, "' not found"));
        }
        if (*current != playbook.version) {
          return absl::AbortedError(absl::StrCat("playbook.version: ", playbook.version,
                                                 " is not the current version ", *current));
        }
        Playbook p = playbook;
        p.version = *current + 1;
        p.updated_at = now;
        auto& head = conn.Prepare(
            "UPDATE playbooks SET current_version = ?, trigger_kind = ?, updated_at = ?"
            " WHERE playbook_id = ?");
        head.setInt(1, p.version);
        head.setString(2, std::string(TriggerKindName(p.trigger.kind)));
        head.setString(3, db::ToSqlDatetime(now));
        head.setString(4, p.playbook_id);
        head.executeUpdate();
        InsertPlaybookVersion(conn, p);
        return p;
      });
}

absl::StatusOr<Playbook> MySqlPlaybookRepository::GetPlaybook(const std::string& playbook_id,
                                                              int version) {
  std::optional<Playbook> found;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(found, ReadPlaybook(conn, playbook_id, version));
    return absl::OkStatus();
  }));
  if (!found.has_value()) {
    return absl::NotFoundError(
        version == 0 ? absl::StrCat("playbook '", playbook_id, "' not found")
                     : absl::StrCat("playbook '", playbook_id, "' version ", version, " not found"));
  }
  return *std::move(found);
}

absl::StatusOr<std::vector<Playbook>> MySqlPlaybookRepository::ListPlaybooks() {
  std::vector<Playbook> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, ReadCurrentPlaybooks(conn, std::nullopt));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status MySqlPlaybookRepository::EnsurePlaybooks(const std::vector<Playbook>& playbooks,
                                                      absl::Time now) {
  return pool_->InTransaction([&](db::Connection& conn) -> absl::Status {
    for (const Playbook& playbook : playbooks) {
      Playbook p = playbook;
      p.version = 1;
      p.updated_at = now;
      // IGNORE: replicas starting together may both get here; a playbook a user
      // changed or created under the same id is left alone.
      auto& head = conn.Prepare(
          "INSERT IGNORE INTO playbooks (playbook_id, current_version, trigger_kind, created_at,"
          " updated_at) VALUES (?, 1, ?, ?, ?)");
      head.setString(1, p.playbook_id);
      head.setString(2, std::string(TriggerKindName(p.trigger.kind)));
      head.setString(3, db::ToSqlDatetime(now));
      head.setString(4, db::ToSqlDatetime(now));
      if (head.executeUpdate() == 0) continue;
      InsertPlaybookVersion(conn, p);
    }
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------
// Runs

absl::StatusOr<StartResult> MySqlPlaybookRepository::StartRun(
    const db::WriteKey& key, const db::ResultCodec<StartResult>& codec,
    const std::string& playbook_id, const AccountProfile& account, const std::string& trigger_key,
    absl::Time now) {
  return db::RunIdempotent<StartResult>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<StartResult> {
        Tx tx{conn, events_, now};
        ASSIGN_OR_RETURN(std::optional<Playbook> p, ReadPlaybook(conn, playbook_id, 0));
        if (!p.has_value()) {
          return absl::NotFoundError(absl::StrCat("playbook '", playbook_id, "' not found"));
        }
        if (p->disabled) {
          return absl::FailedPreconditionError(
              absl::StrCat("playbook '", playbook_id, "' is disabled"));
        }
        AccountProfile profile = account;
        if (profile.lifecycle == "CHURNED" && p->trigger.kind != TriggerKind::kAccountChurned) {
          return absl::FailedPreconditionError(
              absl::StrCat("account '", account.account_id, "' has churned"));
        }
        if (profile.lifecycle == "CHURNED") profile.lifecycle.clear();
        ASSIGN_OR_RETURN(auto upserted, UpsertAccount(tx, profile, now));
        if (upserted.first.churned_at.has_value() &&
            p->trigger.kind != TriggerKind::kAccountChurned) {
          return absl::FailedPreconditionError(
              absl::StrCat("account '", account.account_id, "' has churned"));
        }
        ASSIGN_OR_RETURN(std::optional<StartResult> started,
                         StartRunTx(tx, *p, upserted.first, trigger_key, now, /*automatic=*/false));
        if (!started.has_value()) return absl::InternalError("manual start produced no run");
        Publish(tx);
        return *std::move(started);
      });
}

absl::StatusOr<Run> MySqlPlaybookRepository::GetRun(const std::string& run_id) {
  std::optional<Run> run;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(run, ReadRun(conn, run_id, false));
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(MissingOr(run, run_id));
  return *std::move(run);
}

absl::StatusOr<RunPage> MySqlPlaybookRepository::ListRuns(const RunFilter& filter) {
  PagedQuery query(absl::StrCat("SELECT ", kRunColumns, " FROM runs"), "triggered_at", "run_id");
  if (!filter.account_id.empty()) query.Where(" AND account_id = ?", filter.account_id);
  if (!filter.playbook_id.empty()) query.Where(" AND playbook_id = ?", filter.playbook_id);
  if (filter.state.has_value()) {
    query.Where(" AND state = ?", std::string(RunStateName(*filter.state)));
  }
  RETURN_IF_ERROR(query.After(filter.after));
  RunPage page;
  RETURN_IF_ERROR(query.Fetch<Run>(
      *pool_, filter.page_size, ParseRun,
      [](const Run& r) { return std::make_pair(r.triggered_at, r.run_id); }, &page.runs,
      &page.next));
  return page;
}

absl::StatusOr<Run> MySqlPlaybookRepository::CancelRun(const db::WriteKey& key,
                                                       const db::ResultCodec<Run>& codec,
                                                       const std::string& run_id,
                                                       const std::string& reason, absl::Time now) {
  return db::RunIdempotent<Run>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<Run> {
        Tx tx{conn, events_, now};
        ASSIGN_OR_RETURN(std::optional<Run> run, ReadRun(conn, run_id, /*for_update=*/true));
        RETURN_IF_ERROR(MissingOr(run, run_id));
        if (run->state != RunState::kActive) {
          return absl::FailedPreconditionError(absl::StrCat(
              "run '", run_id, "' is ", RunStateName(run->state), ", not ACTIVE"));
        }
        RETURN_IF_ERROR(EndRunTx(tx, *run, RunState::kCancelled, reason));
        Publish(tx);
        return *std::move(run);
      });
}

// ---------------------------------------------------------------------------
// Tasks

absl::StatusOr<TaskPage> MySqlPlaybookRepository::ListTasks(const TaskFilter& filter,
                                                             absl::Time now) {
  PagedQuery query(absl::StrCat("SELECT ", kTaskColumns, " FROM tasks"), "due_at", "task_id");
  if (!filter.assignee_id.empty()) query.Where(" AND assignee_id = ?", filter.assignee_id);
  if (!filter.account_id.empty()) query.Where(" AND account_id = ?", filter.account_id);
  if (!filter.run_id.empty()) query.Where(" AND run_id = ?", filter.run_id);
  if (filter.status.has_value()) {
    query.Where(" AND status = ?", std::string(TaskStatusName(*filter.status)));
  }
  if (filter.overdue_only) query.Where(" AND status IN ('OPEN', 'SNOOZED') AND due_at < ?", db::ToSqlDatetime(now));
  RETURN_IF_ERROR(query.After(filter.after));
  TaskPage page;
  RETURN_IF_ERROR(query.Fetch<Task>(
      *pool_, filter.page_size, ParseTask,
      [](const Task& t) { return std::make_pair(t.due_at, t.task_id); }, &page.tasks,
      &page.next));
  return page;
}

absl::StatusOr<Task> MySqlPlaybookRepository::GetTask(const std::string& task_id) {
  std::optional<Task> task;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(task, ReadTask(conn, task_id, false));
    return absl::OkStatus();
  }));
  if (!task.has_value()) return absl::NotFoundError(absl::StrCat("task '", task_id, "' not found"));
  return *std::move(task);
}

namespace {

absl::Status MustBeOpen(const Task& t) {
  if (t.status == TaskStatus::kOpen || t.status == TaskStatus::kSnoozed) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("task '", t.task_id, "' is ", TaskStatusName(t.status)));
}

}  // namespace

absl::StatusOr<Task> MySqlPlaybookRepository::CompleteTask(const db::WriteKey& key,
                                                           const db::ResultCodec<Task>& codec,
                                                           const std::string& task_id,
                                                           const std::string& outcome,
                                                           const std::string& note,
                                                           absl::Time now) {
  return db::RunIdempotent<Task>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<Task> {
        Tx tx{conn, events_, now};
        ASSIGN_OR_RETURN(Task t, MustReadTask(conn, task_id));
        RETURN_IF_ERROR(MustBeOpen(t));
        t.status = TaskStatus::kCompleted;
        t.completed_at = now;
        t.outcome = outcome;
        t.note = note;
        // Within SLA: done before it ever escalated, by its due time plus the SLA.
        t.sla_met = t.escalation_level == 0 && now <= t.due_at + t.sla;
        t.escalate_at.reset();
        WriteTaskState(conn, t);
        tx.events.push_back({0, TaskEventKind::kCompleted, now, t, std::nullopt});
        // A run without a GREEN-days criterion succeeds with its last task
        // (cadence runs go on until the account churns or someone cancels them).
        ASSIGN_OR_RETURN(std::optional<Run> run, ReadRun(conn, t.run_id, /*for_update=*/true));
        if (run.has_value() && run->state == RunState::kActive) {
          ASSIGN_OR_RETURN(const Playbook* p,
                           CachedPlaybook(tx, run->playbook_id, run->playbook_version));
          if (p->exit.green_days == 0 && p->trigger.kind != TriggerKind::kCadence) {
            auto& open = conn.Prepare(
                "SELECT COUNT(*) FROM tasks WHERE run_id = ? AND status IN ('OPEN', 'SNOOZED')");
            open.setString(1, run->run_id);
            ResultSetPtr rs(open.executeQuery());
            if (rs->next() && rs->getInt64(1) == 0) {
              RETURN_IF_ERROR(EndRunTx(tx, *run, RunState::kSucceeded, "every task completed"));
            }
          }
        }
        Publish(tx);
        return t;
      });
}

absl::StatusOr<Task> MySqlPlaybookRepository::SnoozeTask(const db::WriteKey& key,
                                                         const db::ResultCodec<Task>& codec,
                                                         const std::string& task_id,
                                                         absl::Time until, absl::Time now) {
  return db::RunIdempotent<Task>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<Task> {
        Tx tx{conn, events_, now};
        ASSIGN_OR_RETURN(Task t, MustReadTask(conn, task_id));
        RETURN_IF_ERROR(MustBeOpen(t));
        t.status = TaskStatus::kSnoozed;
        t.snoozed_until = until;
        t.due_at = until;
        // The SLA moves with the due time for work that escalates at all.
        if (t.sla > absl::ZeroDuration() && t.role != Role::kAutomated) {
          t.escalate_at = until + t.sla;
        }
        WriteTaskState(conn, t);
        tx.events.push_back({0, TaskEventKind::kSnoozed, now, t, std::nullopt});
        Publish(tx);
        return t;
      });
}

absl::StatusOr<Task> MySqlPlaybookRepository::ReassignTask(const db::WriteKey& key,
                                                           const db::ResultCodec<Task>& codec,
                                                           const std::string& task_id,
                                                           const std::string& assignee_id,
                                                           absl::Time now) {
  return db::RunIdempotent<Task>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<Task> {
        Tx tx{conn, events_, now};
        ASSIGN_OR_RETURN(Task t, MustReadTask(conn, task_id));
        RETURN_IF_ERROR(MustBeOpen(t));
        t.assignee_id = assignee_id;
        WriteTaskState(conn, t);
        tx.events.push_back({0, TaskEventKind::kReassigned, now, t, std::nullopt});
        Publish(tx);
        return t;
      });
}

absl::StatusOr<std::vector<Escalation>> MySqlPlaybookRepository::ListEscalations(
    const std::string& task_id) {
  std::vector<Escalation> out;
  bool exists = false;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<Task> t, ReadTask(conn, task_id, false));
    exists = t.has_value();
    auto& stmt = conn.Prepare(
        "SELECT level, from_assignee_id, to_assignee_id, to_role, reason, escalated_at, account_id"
        " FROM escalations WHERE task_id = ? ORDER BY escalation_id");
    stmt.setString(1, task_id);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      Escalation e;
      e.task_id = task_id;
      e.level = rs->getInt(1);
      e.from_assignee_id = db::GetString(*rs, 2);
      e.to_assignee_id = db::GetString(*rs, 3);
      e.to_role = RoleFromName(db::GetString(*rs, 4)).value_or(Role::kUnspecified);
      e.reason = db::GetString(*rs, 5);
      ASSIGN_OR_RETURN(e.escalated_at, db::GetTime(*rs, 6));
      e.account_id = db::GetString(*rs, 7);
      out.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  if (!exists) return absl::NotFoundError(absl::StrCat("task '", task_id, "' not found"));
  return out;
}

// ---------------------------------------------------------------------------
// The health stream

absl::StatusOr<int64_t> MySqlPlaybookRepository::Cursor(const std::string& consumer) {
  int64_t last = 0;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare("SELECT last_sequence FROM consumer_cursors WHERE consumer = ?");
    stmt.setString(1, consumer);
    ResultSetPtr rs(stmt.executeQuery());
    if (rs->next()) last = rs->getInt64(1);
    return absl::OkStatus();
  }));
  return last;
}

namespace {

uint64_t KnownHash(const std::string& account_id) {
  return absl::Hash<std::string>{}(account_id);
}

uint32_t TierPrint(const std::string& tier) {
  return static_cast<uint32_t>(absl::Hash<std::string>{}(tier));
}

}  // namespace

void MySqlPlaybookRepository::RememberKnown(const std::vector<KnownRow>& rows) {
  std::lock_guard<std::mutex> lock(known_mu_);
  if (known_accounts_.size() + rows.size() > kKnownAccountsMax) known_accounts_.clear();
  for (const KnownRow& row : rows) {
    known_accounts_.insert_or_assign(KnownHash(row.account_id), TierPrint(row.tier));
  }
}

std::set<std::string> MySqlPlaybookRepository::ScoreOnlyKnownAccounts(
    const std::vector<HealthEvent>& events, int64_t cursor) {
  // Each account of the page, and whether every event of it so far qualifies.
  std::map<std::string, bool> score_only;
  {
    std::lock_guard<std::mutex> lock(known_mu_);
    for (const HealthEvent& e : events) {
      if (e.sequence <= cursor || e.account_id.empty()) continue;
      auto [it, first] = score_only.emplace(e.account_id, true);
      if (!it->second) continue;
      auto known = known_accounts_.find(KnownHash(e.account_id));
      it->second = known != known_accounts_.end() && e.kind == HealthEventKind::kScoreChanged &&
                   (e.tier.empty() || TierPrint(e.tier) == known->second);
    }
  }
  std::set<std::string> out;
  for (const auto& [id, only] : score_only) {
    if (only) out.insert(out.end(), id);
  }
  return out;
}

absl::StatusOr<std::set<std::string>> MySqlPlaybookRepository::KnownAccounts(
    const std::vector<std::string>& account_ids) {
  std::set<std::string> known;
  std::vector<std::string> unsure;
  {
    std::lock_guard<std::mutex> lock(known_mu_);
    for (const std::string& id : account_ids) {
      if (known_accounts_.contains(KnownHash(id))) {
        known.insert(id);
      } else {
        unsure.push_back(id);
      }
    }
  }
  if (unsure.empty()) return known;
  std::vector<KnownRow> found;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    found.clear();
    db::ForEachChunk(unsure.size(), db::kBinaryRowChunks, [&](size_t offset, size_t count) {
      auto& stmt = conn.Prepare(absl::StrCat(
          "SELECT account_id, tier FROM accounts WHERE account_id IN ",
          db::RowPlaceholders(1, count)));
      for (size_t i = 0; i < count; ++i) {
        stmt.setString(static_cast<int>(i + 1), unsure[offset + i]);
      }
      ResultSetPtr rs(stmt.executeQuery());
      while (rs->next()) found.push_back({db::GetString(*rs, 1), db::GetString(*rs, 2)});
    });
    return absl::OkStatus();
  }));
  RememberKnown(found);
  for (const KnownRow& row : found) known.insert(row.account_id);
  return known;
}

absl::StatusOr<int> MySqlPlaybookRepository::ApplyHealthEvents(
    const std::string& consumer, const std::vector<HealthEvent>& events,
    const std::map<std::string, AccountProfile>& context, absl::Time now) {
  // The cursor row is made once per consumer and replica, not once per page.
  bool known = false;
  {
    std::lock_guard<std::mutex> lock(cursors_mu_);
    known = cursor_rows_.count(consumer) > 0;
  }
  if (!known) {
    RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
      auto& ensure = conn.Prepare(
          "INSERT IGNORE INTO consumer_cursors (consumer, last_sequence, updated_at)"
          " VALUES (?, 0, ?)");
      ensure.setString(1, consumer);
      ensure.setString(2, db::ToSqlDatetime(now));
      ensure.executeUpdate();
      return absl::OkStatus();
    }));
    std::lock_guard<std::mutex> lock(cursors_mu_);
    cursor_rows_.insert(consumer);
  }
  // The page's accounts that have a row once it commits (each attempt's own).
  std::vector<KnownRow> with_rows;
  auto apply = [&](db::Connection& conn) -> absl::StatusOr<int> {
    Tx tx{conn, events_, now};
    // The claim: a replica that finds the row locked leaves this page to the holder.
    // SKIP LOCKED cannot tell a locked row from a missing one, so a miss also has
    // the row made again on the next page, in case it was deleted.
    auto& claim = conn.Prepare(
        "SELECT last_sequence FROM consumer_cursors WHERE consumer = ? FOR UPDATE SKIP LOCKED");
    claim.setString(1, consumer);
    ResultSetPtr rs(claim.executeQuery());
    if (!rs->next()) {
      std::lock_guard<std::mutex> lock(cursors_mu_);
      cursor_rows_.erase(consumer);
      return 0;
    }
    int64_t cursor = rs->getInt64(1);
    const std::set<std::string> score_only = ScoreOnlyKnownAccounts(events, cursor);
    std::set<std::string> accounts;
    for (const HealthEvent& e : events) {
      if (e.sequence > cursor && !e.account_id.empty() && score_only.count(e.account_id) == 0) {
        accounts.insert(e.account_id);
      }
    }
    const std::vector<std::string> page_accounts(accounts.begin(), accounts.end());
    RETURN_IF_ERROR(ReadAccountsForPage(tx, page_accounts));
    InsertPageAccounts(tx, events, cursor, context);
    RETURN_IF_ERROR(ReadPageRunRows(tx, events, cursor));
    int applied = 0;
    for (const HealthEvent& e : events) {
      if (e.sequence <= cursor) continue;
      if (score_only.count(e.account_id) > 0) {
        RETURN_IF_ERROR(ApplyOutcomeEvent(conn, e, now, tx.standing));
      } else {
        RETURN_IF_ERROR(ApplyEvent(tx, e, context));
      }
      cursor = e.sequence;
      ++applied;
    }
    if (applied == 0) return 0;
    WriteRunRows(tx, *tx.page);
    WriteBands(tx);
    tx.standing.Write(conn, now);
    auto& advance = conn.Prepare(
        "UPDATE consumer_cursors SET last_sequence = ?, updated_at = ? WHERE consumer = ?");
    advance.setInt64(1, cursor);
    advance.setString(2, db::ToSqlDatetime(now));
    advance.setString(3, consumer);
    advance.executeUpdate();
    Publish(tx);
    with_rows.clear();
    for (const auto& [id, row] : tx.prefetched) {
      if (row.has_value()) with_rows.push_back({id, row->profile.tier});
    }
    return applied;
  };
  absl::StatusOr<int> result = pool_->Transact<int>(apply);
  // Remembered once committed: an attempt that rolled back inserted nothing.
  if (result.ok() && *result > 0) RememberKnown(with_rows);
  return result;
}

absl::StatusOr<bool> MySqlPlaybookRepository::SkipHealthEvent(const std::string& consumer,
                                                              const HealthEvent& event,
                                                              const std::string& reason,
                                                              absl::Time now) {
  return pool_->Transact<bool>([&](db::Connection& conn) -> absl::StatusOr<bool> {
    auto& claim = conn.Prepare(
        "SELECT last_sequence FROM consumer_cursors WHERE consumer = ? FOR UPDATE SKIP LOCKED");
    claim.setString(1, consumer);
    ResultSetPtr rs(claim.executeQuery());
    if (!rs->next() || rs->getInt64(1) != event.sequence - 1) return false;
    auto& record = conn.Prepare(
        "INSERT INTO skipped_events (consumer, sequence, account_id, kind, reason, skipped_at)"
        " VALUES (?, ?, ?, ?, ?, ?)");
    record.setString(1, consumer);
    record.setInt64(2, event.sequence);
    record.setString(3, event.account_id.substr(0, 255));
    record.setString(4, absl::StrCat(static_cast<int>(event.kind)));
    record.setString(5, reason.substr(0, 500));
    record.setString(6, db::ToSqlDatetime(now));
    record.executeUpdate();
    auto& advance = conn.Prepare(
        "UPDATE consumer_cursors SET last_sequence = ?, updated_at = ? WHERE consumer = ?");
    advance.setInt64(1, event.sequence);
    advance.setString(2, db::ToSqlDatetime(now));
    advance.setString(3, consumer);
    advance.executeUpdate();
    return true;
  });
}

// ---------------------------------------------------------------------------
// Background work

absl::StatusOr<int> MySqlPlaybookRepository::EscalateOverdue(absl::Time now, int limit) {
  return pool_->Transact<int>([&](db::Connection& conn) -> absl::StatusOr<int> {
    Tx tx{conn, events_, now};
    auto& due = conn.Prepare(absl::StrCat(
        "SELECT ", kTaskColumns,
        " FROM tasks WHERE status IN ('OPEN', 'SNOOZED') AND escalate_at <= ?"
        " ORDER BY escalate_at, task_id LIMIT ? FOR UPDATE SKIP LOCKED"));
    due.setString(1, db::ToSqlDatetime(now));
    due.setInt(2, limit);
    ASSIGN_OR_RETURN(std::vector<Task> tasks, ParseTasks(due));
    int escalated = 0;
    for (Task& t : tasks) {
      ASSIGN_OR_RETURN(const EscalationChain* chain, CachedChain(tx, t.escalation_chain_id));
      const std::optional<int> next = NextEscalationLevel(*chain, t.role);
      if (!next.has_value()) {
        // The top of the chain: nobody left to climb to.
        t.escalate_at.reset();
        WriteTaskState(conn, t);
        continue;
      }
      const EscalationLevel& level = chain->levels[*next];
      Escalation e;
      e.task_id = t.task_id;
      e.account_id = t.account_id;
      e.level = t.escalation_level + 1;
      e.from_assignee_id = t.assignee_id;
      e.to_role = level.role;
      e.to_assignee_id = ResolveAssignee(level.role, "", *chain);
      e.reason = absl::StrCat(
          "SLA missed: ", t.escalation_level == 0 ? "due " : "escalated deadline ",
          absl::FormatTime("%Y-%m-%d %H:%M UTC", *t.escalate_at, absl::UTCTimeZone()),
          " passed untouched with ", RoleName(t.role), " ", t.assignee_id);
      e.escalated_at = now;
      t.escalation_level = e.level;
      t.role = level.role;
      t.assignee_id = e.to_assignee_id;
      t.status = TaskStatus::kOpen;
      t.snoozed_until.reset();
      // The next level gets one SLA to act before it climbs again.
      t.escalate_at = now + t.sla;
      WriteTaskState(conn, t);
      auto& insert = conn.Prepare(
          "INSERT INTO escalations (task_id, account_id, level, from_assignee_id, to_assignee_id,"
          " to_role, reason, escalated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      insert.setString(1, e.task_id);
      insert.setString(2, e.account_id);
      insert.setInt(3, e.level);
      insert.setString(4, e.from_assignee_id);
      insert.setString(5, e.to_assignee_id);
      insert.setString(6, std::string(RoleName(e.to_role)));
      insert.setString(7, e.reason.substr(0, 500));
      insert.setString(8, db::ToSqlDatetime(now));
      insert.executeUpdate();
      tx.events.push_back({0, TaskEventKind::kEscalated, now, t, e});
      ++escalated;
    }
    Publish(tx);
    return escalated;
  });
}

absl::StatusOr<int> MySqlPlaybookRepository::CloseRecoveredRuns(absl::Time now, int limit) {
  return pool_->Transact<int>([&](db::Connection& conn) -> absl::StatusOr<int> {
    Tx tx{conn, events_, now};
    auto& due = conn.Prepare(absl::StrCat(
        "SELECT ", kRunColumns, ", exit_green_days FROM runs WHERE state = 'ACTIVE'"
        " AND green_since IS NOT NULL AND exit_green_days > 0"
        " AND green_since <= DATE_SUB(?, INTERVAL exit_green_days DAY)"
        " ORDER BY green_since LIMIT ? FOR UPDATE SKIP LOCKED"));
    due.setString(1, db::ToSqlDatetime(now));
    due.setInt(2, limit);
    std::vector<std::pair<Run, int>> runs;
    {
      ResultSetPtr rs(due.executeQuery());
      while (rs->next()) {
        ASSIGN_OR_RETURN(Run r, ParseRun(*rs));
        runs.emplace_back(std::move(r), rs->getInt(14));
      }
    }
    for (auto& [run, days] : runs) {
      RETURN_IF_ERROR(
          EndRunTx(tx, run, RunState::kSucceeded, absl::StrCat("GREEN for ", days, " days")));
    }
    Publish(tx);
    return static_cast<int>(runs.size());
  });
}

absl::StatusOr<int> MySqlPlaybookRepository::ScheduleAccounts(absl::Time now,
                                                              absl::Duration horizon, int limit) {
  return pool_->Transact<int>([&](db::Connection& conn) -> absl::StatusOr<int> {
    Tx tx{conn, events_, now};
    // Replicas each take different accounts; the task ids are the backstop.
    auto& claim = conn.Prepare(
        "SELECT account_id FROM accounts WHERE next_schedule_at <= ? ORDER BY next_schedule_at,"
        " account_id LIMIT ? FOR UPDATE SKIP LOCKED");
    claim.setString(1, db::ToSqlDatetime(now));
    claim.setInt(2, limit);
    std::vector<std::string> ids;
    {
      ResultSetPtr rs(claim.executeQuery());
      while (rs->next()) ids.push_back(db::GetString(*rs, 1));
    }
    if (ids.empty()) return 0;
    ASSIGN_OR_RETURN(std::vector<Playbook> cadences,
                     ReadCurrentPlaybooks(conn, TriggerKind::kCadence));
    ASSIGN_OR_RETURN(std::vector<Playbook> renewals,
                     ReadCurrentPlaybooks(conn, TriggerKind::kRenewalDue));
    const absl::CivilDay today = DayOf(now);
    const absl::CivilDay last_day = DayOf(now + horizon);
    int created = 0;
    for (const std::string& id : ids) {
      ASSIGN_OR_RETURN(std::optional<AccountRow> account, ReadAccount(conn, id, false));
      if (!account.has_value() || account->churned_at.has_value()) continue;
      const AccountProfile& profile = account->profile;
      const absl::CivilDay anchor = profile.contract_start.value_or(DayOf(account->first_seen_at));
      for (const Playbook& p : cadences) {
        if (p.disabled || !Applies(p, profile.tier, profile.industry)) continue;
        // The run opens when the account is first scheduled: touchpoints count
        // from the contract start but only those from then on are created, so an
        // account years into its contract gets no backlog of past QBRs.
        ASSIGN_OR_RETURN(std::optional<StartResult> started,
                         StartRunTx(tx, p, *account, "cadence", now, /*automatic=*/true));
        if (!started.has_value() || started->run.state != RunState::kActive) continue;
        const Run& run = started->run;
        ASSIGN_OR_RETURN(const EscalationChain* chain, CachedChain(tx, p.escalation_chain_id));
        const int months = std::max(1, p.trigger.cadence_months);
        const absl::CivilDay from = std::max(DayOf(run.triggered_at), anchor);
        int i = std::max<int64_t>(1, (absl::CivilMonth(from) - absl::CivilMonth(anchor)) / months);
        for (;; ++i) {
          const absl::CivilDay day = CadenceDate(anchor, months, i);
          if (day > last_day) break;
          if (day < from) continue;
          for (size_t s = 0; s < p.steps.size(); ++s) {
            Task t = TaskForStep(run, p, *chain, static_cast<int>(s), StartOfDay(day),
                                 absl::StrCat(run.run_id, ".", absl::FormatCivilTime(day), ".", s),
                                 now);
            if (InsertTask(tx, t)) ++created;
          }
        }
      }
      if (profile.renewal_date.has_value()) {
        for (const Playbook& p : renewals) {
          if (p.disabled || !Applies(p, profile.tier, profile.industry)) continue;
          const absl::CivilDay start = *profile.renewal_date - p.trigger.renewal_days_before;
          if (today < start || today > *profile.renewal_date) continue;
          ASSIGN_OR_RETURN(
              std::optional<StartResult> started,
              StartRunTx(tx, p, *account,
                         absl::StrCat("renewal:", absl::FormatCivilTime(*profile.renewal_date)),
                         std::max(StartOfDay(start), now), /*automatic=*/true));
          (void)started;
        }
      }
      // Touchpoints and renewals are by day: look again tomorrow.
      auto& next = conn.Prepare("UPDATE accounts SET next_schedule_at = ? WHERE account_id = ?");
      next.setString(1, db::ToSqlDatetime(StartOfDay(today + 1)));
      next.setString(2, id);
      next.executeUpdate();
    }
    Publish(tx);
    return created;
  });
}

absl::StatusOr<std::vector<OpportunityRequest>> MySqlPlaybookRepository::ClaimExpansionRequests(
    absl::Time now, absl::Duration lease, int limit) {
  return pool_->Transact<std::vector<OpportunityRequest>>(
      [&](db::Connection& conn) -> absl::StatusOr<std::vector<OpportunityRequest>> {
        auto& claim = conn.Prepare(
            "SELECT request_id, account_id, signal_kind, feature, tier FROM expansion_requests"
            " WHERE sent_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?"
            " FOR UPDATE SKIP LOCKED");
        claim.setString(1, db::ToSqlDatetime(now));
        claim.setInt(2, limit);
        std::vector<OpportunityRequest> out;
        {
          ResultSetPtr rs(claim.executeQuery());
          while (rs->next()) {
            OpportunityRequest r;
            r.request_id = db::GetString(*rs, 1);
            r.account_id = db::GetString(*rs, 2);
            r.signal_kind = db::GetString(*rs, 3);
            r.feature = db::GetString(*rs, 4);
            r.tier = db::GetString(*rs, 5);
            out.push_back(std::move(r));
          }
        }
        auto& earlier = conn.Prepare(
            "SELECT opportunity_id FROM expansion_requests WHERE account_id = ?"
            " AND signal_kind = ? AND feature = ? AND sent_at IS NOT NULL"
            " AND opportunity_id <> '' ORDER BY sent_at DESC LIMIT 1");
        for (OpportunityRequest& r : out) {
          earlier.setString(1, r.account_id);
          earlier.setString(2, r.signal_kind);
          earlier.setString(3, r.feature);
          ResultSetPtr rs(earlier.executeQuery());
          if (rs->next()) r.earlier_opportunity_id = db::GetString(*rs, 1);
        }
        auto& lease_stmt = conn.Prepare(
            "UPDATE expansion_requests SET next_attempt_at = ?, attempts = attempts + 1"
            " WHERE request_id = ?");
        for (const OpportunityRequest& r : out) {
          lease_stmt.setString(1, db::ToSqlDatetime(now + lease));
          lease_stmt.setString(2, r.request_id);
          lease_stmt.executeUpdate();
        }
        return out;
      });
}

absl::Status MySqlPlaybookRepository::FinishExpansionRequest(
    const std::string& request_id, const absl::StatusOr<std::string>& outcome, absl::Time now,
    absl::Time retry_at) {
  return pool_->Run([&](db::Connection& conn) -> absl::Status {
    if (outcome.ok()) {
      auto& stmt = conn.Prepare(
          "UPDATE expansion_requests SET sent_at = ?, opportunity_id = ?, last_error = ''"
          " WHERE request_id = ?");
      stmt.setString(1, db::ToSqlDatetime(now));
      stmt.setString(2, *outcome);
      stmt.setString(3, request_id);
      stmt.executeUpdate();
    } else {
      auto& stmt = conn.Prepare(
          "UPDATE expansion_requests SET next_attempt_at = ?, last_error = ? WHERE request_id = ?");
      stmt.setString(1, db::ToSqlDatetime(retry_at));
      stmt.setString(2, std::string(outcome.status().message()).substr(0, 500));
      stmt.setString(3, request_id);
      stmt.executeUpdate();
    }
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------
// Outbox and measures

absl::StatusOr<std::vector<TaskEvent>> MySqlPlaybookRepository::TaskEventsAfter(int64_t after,
                                                                               int limit) {
  ASSIGN_OR_RETURN(std::vector<db::LoggedEvent> logged, db::ReadEvents(*pool_, after, limit));
  std::vector<TaskEvent> out;
  out.reserve(logged.size());
  for (const db::LoggedEvent& l : logged) {
    ASSIGN_OR_RETURN(TaskEvent e, events_.decode(l.payload));
    e.sequence = l.sequence;
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<int64_t> MySqlPlaybookRepository::LastTaskEventSequence() {
  return db::LastSequence(*pool_);
}

absl::StatusOr<MetricsFacts> MySqlPlaybookRepository::LoadMetricsFacts(absl::Time from,
                                                                      absl::Time to) {
  MetricsFacts facts;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& runs = conn.Prepare(
        "SELECT r.tier, r.trigger_kind, r.trigger_band, r.state, r.triggered_at,"
        " (SELECT MIN(t.completed_at) FROM tasks t WHERE t.run_id = r.run_id"
        "  AND t.status = 'COMPLETED') FROM runs r WHERE r.triggered_at >= ? AND r.triggered_at < ?");
    runs.setString(1, db::ToSqlDatetime(from));
    runs.setString(2, db::ToSqlDatetime(to));
    {
      ResultSetPtr rs(runs.executeQuery());
      while (rs->next()) {
        RunFact f;
        f.tier = db::GetString(*rs, 1);
        f.trigger_kind = TriggerKindFromName(db::GetString(*rs, 2)).value_or(TriggerKind::kUnspecified);
        f.trigger_band = db::GetString(*rs, 3);
        f.state = RunStateFromName(db::GetString(*rs, 4)).value_or(RunState::kUnspecified);
        ASSIGN_OR_RETURN(f.triggered_at, db::GetTime(*rs, 5));
        ASSIGN_OR_RETURN(f.first_completed_at, db::GetOptionalTime(*rs, 6));
        facts.runs.push_back(std::move(f));
      }
    }
    auto& tasks = conn.Prepare(
        "SELECT tier, sla_met FROM tasks WHERE status = 'COMPLETED' AND completed_at >= ?"
        " AND completed_at < ?");
    tasks.setString(1, db::ToSqlDatetime(from));
    tasks.setString(2, db::ToSqlDatetime(to));
    {
      ResultSetPtr rs(tasks.executeQuery());
      while (rs->next()) facts.completed_tasks.push_back({db::GetString(*rs, 1), rs->getBoolean(2)});
    }
    auto& open = conn.Prepare(
        "SELECT tier, escalation_level, COUNT(*) FROM tasks WHERE status IN ('OPEN', 'SNOOZED')"
        " AND escalation_level > 0 GROUP BY tier, escalation_level");
    ResultSetPtr rs(open.executeQuery());
    while (rs->next()) facts.open_escalations[db::GetString(*rs, 1)][rs->getInt(2)] = rs->getInt64(3);
    return absl::OkStatus();
  }));
  return facts;
}

absl::StatusOr<CohortCounts> MySqlPlaybookRepository::LoadCohort(const std::string& playbook_id) {
  CohortCounts counts;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(
        "SELECT arm, COUNT(*), SUM(recovered_at IS NOT NULL), SUM(churned_at IS NOT NULL)"
        " FROM cohort WHERE playbook_id = ? GROUP BY arm");
    stmt.setString(1, playbook_id);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      CohortArm& arm = db::GetString(*rs, 1) == kHeldOutArm ? counts.held_out : counts.treated;
      arm.accounts = rs->getInt64(2);
      arm.recovered = rs->getInt64(3);
      arm.churned = rs->getInt64(4);
    }
    return absl::OkStatus();
  }));
  return counts;
}

}  // namespace cs::playbooks
