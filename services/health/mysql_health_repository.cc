#include "services/health/mysql_health_repository.h"

#include <cppconn/datatype.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/db/audit_log.h"
#include "common/db/event_log.h"
#include "common/db/sql_values.h"
#include "common/status.h"
#include "services/health/event.h"
#include "services/health/mysql_account_repository.h"
#include "services/health/packed_rows.h"

namespace cs::health {
namespace {

using ResultSetPtr = std::unique_ptr<sql::ResultSet>;

std::string DayText(absl::CivilDay day) { return absl::FormatCivilTime(day); }

std::string Str(sql::ResultSet& rs, int i) { return db::GetString(rs, i); }

absl::StatusOr<absl::CivilDay> ReadDay(sql::ResultSet& rs, int i) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(Str(rs, i), &day)) return absl::InternalError("bad DATE from the database");
  return day;
}

Band ReadBand(sql::ResultSet& rs, int i) { return BandFromName(Str(rs, i)).value_or(Band::kUnspecified); }

std::string EncodeEvidence(const std::map<std::string, double>& evidence) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : evidence) parts.push_back(absl::StrFormat("%s=%.17g", k, v));
  return absl::StrJoin(parts, ";");
}

std::map<std::string, double> DecodeEvidence(absl::string_view text) {
  std::map<std::string, double> out;
  for (absl::string_view part : absl::StrSplit(text, ';', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    double v = 0;
    if (absl::SimpleAtod(kv.second, &v)) out[std::string(kv.first)] = v;
  }
  return out;
}

// Reads a point's "day, score, band, scorecard_version" from column `first` on.
absl::StatusOr<HealthPoint> ReadPoint(sql::ResultSet& rs, int first = 1) {
  HealthPoint p;
  ASSIGN_OR_RETURN(p.day, ReadDay(rs, first));
  p.score = rs.getDouble(first + 1);
  p.band = ReadBand(rs, first + 2);
  p.scorecard_version = rs.getInt(first + 3);
  return p;
}

constexpr char kScoreColumns[] =
    "account_id, score_name, scorecard_id, scorecard_version, score, band, components,"
    " computed_at";

// Components: decoded, or kept as their stored text (StoredScore::encoded_components).
enum class ScoreComponents { kDecoded, kEncoded };

// Reads the kScoreColumns (1-8) of a row.
absl::StatusOr<StoredScore> ReadScore(sql::ResultSet& rs,
                                      ScoreComponents components = ScoreComponents::kDecoded) {
  StoredScore s;
  s.account_id = Str(rs, 1);
  s.score_name = Str(rs, 2);
  s.scorecard_id = Str(rs, 3);
  s.scorecard_version = rs.getInt(4);
  s.score = rs.getDouble(5);
  s.band = ReadBand(rs, 6);
  if (components == ScoreComponents::kEncoded) {
    s.encoded_components = Str(rs, 7);
  } else {
    ASSIGN_OR_RETURN(s.components, DecodeComponents(Str(rs, 7)));
  }
  ASSIGN_OR_RETURN(s.computed_at, db::FromSqlDatetime(Str(rs, 8)));
  return s;
}

constexpr char kAlertColumns[] =
    "alert_id, account_id, kind, severity, summary, evidence, opened_at, resolved_at";

// Reads the kAlertColumns (1-8) of a row. With `evidence_text`, the evidence is left
// out of the alert and its stored text put there instead, for the caller to decode
// only if it needs it (a rescore, for the few open alerts it resolves).
absl::StatusOr<Alert> ReadAlert(sql::ResultSet& rs, std::string* evidence_text = nullptr) {
  Alert a;
  a.id = rs.getInt64(1);
  a.account_id = Str(rs, 2);
  a.kind = AlertKindFromName(Str(rs, 3)).value_or(AlertKind::kUnspecified);
  a.severity = SeverityFromName(Str(rs, 4)).value_or(Severity::kUnspecified);
  a.summary = Str(rs, 5);
  if (evidence_text != nullptr) {
    *evidence_text = Str(rs, 6);
  } else {
    a.evidence = DecodeEvidence(Str(rs, 6));
  }
  ASSIGN_OR_RETURN(a.opened_at, db::FromSqlDatetime(Str(rs, 7)));
  if (!rs.isNull(8)) {
    ASSIGN_OR_RETURN(absl::Time resolved, db::FromSqlDatetime(Str(rs, 8)));
    a.resolved_at = resolved;
  }
  return a;
}

absl::StatusOr<AlertSettings> LoadSettings(db::Connection& conn) {
  ResultSetPtr rs(conn.Prepare("SELECT period_days, usage_decline_pct, engagement_drop_pct,"
                               " ticket_increase_pct, communication_drop_pct, score_threshold,"
                               " min_baseline, updated_at FROM alert_settings WHERE id = 1")
                      .executeQuery());
  AlertSettings s;
  if (!rs->next()) return s;
  s.period_days = rs->getInt(1);
  s.usage_decline_pct = rs->getDouble(2);
  s.engagement_drop_pct = rs->getDouble(3);
  s.ticket_increase_pct = rs->getDouble(4);
  s.communication_drop_pct = rs->getDouble(5);
  s.score_threshold = rs->getDouble(6);
  s.min_baseline = rs->getDouble(7);
  ASSIGN_OR_RETURN(s.updated_at, db::FromSqlDatetime(Str(*rs, 8)));
  return s;
}

void InsertRejected(db::Connection& conn, const IngestBatch& batch, const IngestRecord& r,
                    const std::string& reason, absl::Time now) {
  const std::string record_json = batch.record_json ? batch.record_json(r.index) : "";
  auto& stmt = conn.Prepare(
      "INSERT INTO rejected_records (source, event_id, account_id, reason, record_json,"
      " received_at) VALUES (?, ?, ?, ?, ?, ?)");
  stmt.setString(1, batch.source);
  stmt.setString(2, r.event_id.substr(0, 255));
  stmt.setString(3, r.account_id.substr(0, 255));
  stmt.setString(4, reason.substr(0, 1000));
  stmt.setString(5, record_json.substr(0, 1 << 20));
  stmt.setString(6, db::ToSqlDatetime(now));
  stmt.executeUpdate();
}

void QueueRescore(db::Connection& conn, const std::string& reason, absl::Time now) {
  auto& stmt = conn.Prepare(
      "INSERT INTO rescore_jobs (kind, day, reason, created_at) VALUES ('SCORECARD', NULL, ?, ?)");
  stmt.setString(1, reason.substr(0, 255));
  stmt.setString(2, db::ToSqlDatetime(now));
  stmt.executeUpdate();
}

absl::StatusOr<std::optional<Scorecard>> LoadScorecard(db::Connection& conn,
                                                       const std::string& id, int version) {
  auto& head = conn.Prepare("SELECT current_version, updated_at FROM scorecards WHERE scorecard_id = ?");
  head.setString(1, id);
  ResultSetPtr h(head.executeQuery());
  if (!h->next()) return std::optional<Scorecard>();
  if (version == 0) version = h->getInt(1);
  auto& stmt = conn.Prepare(
      "SELECT definition, created_at FROM scorecard_versions WHERE scorecard_id = ? AND version = ?");
  stmt.setString(1, id);
  stmt.setInt(2, version);
  ResultSetPtr rs(stmt.executeQuery());
  if (!rs->next()) return std::optional<Scorecard>();
  Scorecard s;
  s.scorecard_id = id;
  s.version = version;
  RETURN_IF_ERROR(DecodeScorecardDefinition(Str(*rs, 1), &s));
  ASSIGN_OR_RETURN(s.updated_at, db::FromSqlDatetime(Str(*rs, 2)));
  return std::optional<Scorecard>(std::move(s));
}

void InsertScorecardVersion(db::Connection& conn, const Scorecard& s, absl::Time now) {
  auto& stmt = conn.Prepare(
      "INSERT INTO scorecard_versions (scorecard_id, version, definition, created_at)"
      " VALUES (?, ?, ?, ?)");
  stmt.setString(1, s.scorecard_id);
  stmt.setInt(2, s.version);
  stmt.setString(3, EncodeScorecardDefinition(s));
  stmt.setString(4, db::ToSqlDatetime(now));
  stmt.executeUpdate();
}

absl::StatusOr<Override> ReadOverride(sql::ResultSet& rs) {
  Override o;
  o.account_id = Str(rs, 1);
  o.score_name = Str(rs, 2);
  o.score = rs.getDouble(3);
  o.reason = Str(rs, 4);
  o.set_by = Str(rs, 5);
  ASSIGN_OR_RETURN(o.set_at, db::FromSqlDatetime(Str(rs, 6)));
  ASSIGN_OR_RETURN(o.expires_at, db::FromSqlDatetime(Str(rs, 7)));
  return o;
}

// Packed counter rows (packed_rows.h) select kCounterMonth, "<month>, counters": the
// month's first day as a number of days since 1970-01-01, not text, because
// rescoring reads a million of them.
constexpr char kCounterMonth[] = "TO_DAYS(month) - 719528, counters";

std::string MonthText(absl::CivilMonth month) { return DayText(absl::CivilDay(month)); }

// Packed rows are large: a multi-row statement of them stays under this many bytes
// of row text (the server's max_allowed_packet is 16 MiB by default).
constexpr size_t kPackedBytesPerStatement = 4 << 20;

// db::ForEachChunk over rows of these sizes, in runs of at most
// kPackedBytesPerStatement (a larger row goes alone).
void ForEachPackedChunk(const std::vector<size_t>& sizes,
                        const std::function<void(size_t offset, size_t count)>& fn) {
  size_t start = 0;
  while (start < sizes.size()) {
    size_t end = start;
    size_t bytes = 0;
    while (end < sizes.size() && (end == start || bytes + sizes[end] <= kPackedBytesPerStatement)) {
      bytes += sizes[end++];
    }
    db::ForEachChunk(end - start, [&](size_t offset, size_t count) { fn(start + offset, count); });
    start = end;
  }
}

// The month of the packed row whose kCounterMonth columns start at `first`.
absl::CivilMonth PackedMonth(sql::ResultSet& rs, int first) {
  return absl::CivilMonth(absl::CivilDay(1970, 1, 1) + rs.getInt64(first));
}

// Adds the values from..to of the packed row whose kCounterMonth columns start at
// `first` to `out` (sealed by the caller once every row is in).
absl::Status ReadPackedCounters(sql::ResultSet& rs, int first, absl::CivilDay from,
                                absl::CivilDay to, CounterWindow& out) {
  // Read in place: the row's text can be kilobytes, and a window is built from it once.
  const sql::SQLString text = rs.getString(first + 1);
  return AddCounters(PackedMonth(rs, first), text.asStdString(), from, to, out);
}

// One account's daily counters from..to (inclusive).
absl::StatusOr<CounterWindow> ReadCounters(db::Connection& conn, const std::string& account_id,
                                           absl::CivilDay from, absl::CivilDay to) {
  auto& stmt = conn.Prepare(absl::StrCat("SELECT ", kCounterMonth, " FROM signal_counters"
                                         " WHERE account_id = ? AND month >= ? AND month <= ?"));
  stmt.setString(1, account_id);
  stmt.setString(2, MonthText(absl::CivilMonth(from)));
  stmt.setString(3, MonthText(absl::CivilMonth(to)));
  ResultSetPtr rs(stmt.executeQuery());
  CounterWindow window;
  while (rs->next()) RETURN_IF_ERROR(ReadPackedCounters(*rs, 1, from, to, window));
  window.Seal();
  return window;
}

// The first day the account has any signal: the earliest day of its first packed
// month, one index lookup.
absl::StatusOr<std::optional<absl::CivilDay>> FirstSignalDay(db::Connection& conn,
                                                             const std::string& account_id) {
  auto& stmt = conn.Prepare(absl::StrCat("SELECT ", kCounterMonth, " FROM signal_counters"
                                         " WHERE account_id = ? ORDER BY month LIMIT 1"));
  stmt.setString(1, account_id);
  ResultSetPtr rs(stmt.executeQuery());
  if (!rs->next()) return std::optional<absl::CivilDay>();
  std::vector<CounterRow> rows;
  RETURN_IF_ERROR(AppendCounterRows(PackedMonth(*rs, 1), Str(*rs, 2), absl::CivilDay(1970, 1, 1),
                                    absl::CivilDay(9999, 12, 31), rows));
  std::optional<absl::CivilDay> first;
  for (const CounterRow& r : rows) {
    if (!first.has_value() || r.day < *first) first = r.day;
  }
  return first;
}

constexpr char kChurnModelColumns[] =
    "model_id, trained_at, cutoff, horizon_days, lookback_days, holdout_fraction, seed, model";

absl::StatusOr<StoredChurnModel> ReadChurnModel(sql::ResultSet& rs) {
  StoredChurnModel m;
  m.model_id = rs.getInt64(1);
  ASSIGN_OR_RETURN(m.trained_at, db::FromSqlDatetime(Str(rs, 2)));
  ASSIGN_OR_RETURN(m.cutoff, ReadDay(rs, 3));
  m.horizon_days = rs.getInt(4);
  m.lookback_days = rs.getInt(5);
  m.holdout_fraction = rs.getDouble(6);
  m.seed = rs.getUInt64(7);
  ASSIGN_OR_RETURN(m.model, DecodeChurnModel(Str(rs, 8)));
  return m;
}

constexpr char kOverrideColumns[] = "account_id, score_name, score, reason, set_by, set_at, expires_at";

}  // namespace

// ---------------------------------------------------------------------------
// Ingest and rescoring

namespace {

// The accounts among `ids` that exist, one statement per chunk.
std::set<std::string> ExistingAccounts(db::Connection& conn, const std::vector<std::string>& ids) {
  std::set<std::string> out;
  db::ForEachChunk(ids.size(), [&](size_t offset, size_t count) {
    auto& stmt = conn.Prepare(absl::StrCat("SELECT account_id FROM accounts WHERE account_id IN ",
                                           db::RowPlaceholders(1, count)));
    for (size_t i = 0; i < count; ++i) stmt.setString(static_cast<int>(i + 1), ids[offset + i]);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) out.insert(Str(*rs, 1));
  });
  return out;
}

// Binds months[offset, offset + count) as "(account_id, month)" pairs from parameter 1.
void BindMonths(sql::PreparedStatement& stmt, const std::vector<const SignalKeyCache::Key*>& months,
                size_t offset, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const auto& [account_id, month] = *months[offset + i];
    stmt.setString(static_cast<int>(2 * i + 1), account_id);
    stmt.setString(static_cast<int>(2 * i + 2), MonthText(month));
  }
}

}  // namespace

// What one ingest transaction knows of the months whose signal_counters rows it
// holds locked: the row as locked, the keys stored before (the cache's entry,
// brought up to the row's log_rows) and the keys and log rows it adds.
struct MySqlHealthRepository::KeyView {
  struct Month {
    uint32_t stored_rows = 0;  // log_rows as locked
    uint32_t new_rows = 0;     // numbered log rows this transaction appends
    std::string counters;      // the counters text as locked
    std::shared_ptr<SignalKeyCache::Entry> stored;
    // The event ids of the signals staged (the transaction's batches outlive it).
    absl::flat_hash_set<absl::string_view> added;

    // Adds a key unless it is stored or added already (false then). The caller
    // holds stored->mu.
    bool Add(absl::string_view event_id) {
      return !stored->keys.contains(event_id) && added.insert(event_id).second;
    }
  };
  std::map<SignalKeyCache::Key, Month> months;
  // The months locked while staging the current request: forgotten when it is
  // rolled back to its savepoint.
  std::vector<SignalKeyCache::Key> locked_by_request;
};

absl::Status MySqlHealthRepository::LockKeyMonths(db::Connection& conn, KeyView& keys,
                                                  const std::set<SignalKeyCache::Key>& months) {
  std::vector<const SignalKeyCache::Key*> missing;
  for (const SignalKeyCache::Key& m : months) {
    if (!keys.months.count(m)) missing.push_back(&m);
  }
  if (missing.empty()) return absl::OkStatus();
  // Under READ COMMITTED a locking read locks the rows it finds and nothing else.
  // The rows are read and locked in key order; those that do not exist yet (an
  // account's first signals of a month) are then made to exist, an empty row or
  // one another transaction created meanwhile left untouched, which locks them, and
  // read. Either lock is held until commit: another replica appending to the month
  // waits here. Two transactions creating rows at once can deadlock, and the
  // database then rolls one back to be retried; most appends find every row.
  const auto read_months = [&](const std::vector<const SignalKeyCache::Key*>& which,
                               bool lock) {
    db::ForEachChunk(which.size(), [&](size_t offset, size_t count) {
      auto& stmt = conn.Prepare(absl::StrCat(
          "SELECT account_id, ", kCounterMonth, ", log_rows FROM signal_counters"
          " FORCE INDEX (PRIMARY) WHERE (account_id, month) IN (",
          db::RowPlaceholders(count, 2), lock ? ") FOR UPDATE" : ")"));
      BindMonths(stmt, which, offset, count);
      ResultSetPtr rs(stmt.executeQuery());
      while (rs->next()) {
        SignalKeyCache::Key key(Str(*rs, 1), PackedMonth(*rs, 2));
        KeyView::Month& m = keys.months[key];
        m.counters = Str(*rs, 3);
        m.stored_rows = static_cast<uint32_t>(rs->getUInt(4));
        keys.locked_by_request.push_back(std::move(key));
      }
    });
  };
  read_months(missing, /*lock=*/true);
  std::vector<const SignalKeyCache::Key*> absent;
  for (const SignalKeyCache::Key* m : missing) {
    if (!keys.months.count(*m)) absent.push_back(m);
  }
  if (!absent.empty()) {
    db::ForEachChunk(absent.size(), [&](size_t offset, size_t count) {
      auto& stmt = conn.Prepare(absl::StrCat(
          "INSERT INTO signal_counters (account_id, month, counters) VALUES ",
          db::RowPlaceholders(count, 3), " ON DUPLICATE KEY UPDATE counters = counters"));
      for (size_t i = 0; i < count; ++i) {
        const auto& [account_id, month] = *absent[offset + i];
        const int p = static_cast<int>(i * 3);
        stmt.setString(p + 1, account_id);
        stmt.setString(p + 2, MonthText(month));
        stmt.setString(p + 3, "");
      }
      stmt.executeUpdate();
    });
    // Held now: a plain read sees the latest committed row.
    read_months(absent, /*lock=*/false);
  }
  // The stored keys: the cache's entry when it knows every row; the rows numbered
  // above what it knows; the whole month's log when it holds none (or more rows
  // than the month has, which only a restored database explains).
  std::vector<const SignalKeyCache::Key*> whole;
  for (const SignalKeyCache::Key* key : missing) {
    auto found = keys.months.find(*key);
    if (found == keys.months.end()) {
      return absl::InternalError(absl::StrCat("signal_counters of ", key->first, ", ",
                                              MonthText(key->second), " not found after its insert"));
    }
    KeyView::Month& m = found->second;
    std::shared_ptr<SignalKeyCache::Entry> entry = key_cache_->Find(*key);
    uint32_t known = 0;
    if (entry != nullptr) {
      std::lock_guard<std::mutex> lock(entry->mu);
      known = entry->log_rows;
    }
    if (entry == nullptr || known > m.stored_rows) {
      whole.push_back(key);
      continue;
    }
    m.stored = entry;
    if (known == m.stored_rows) continue;
    std::vector<std::string> texts;
    auto& stmt = conn.Prepare(
        "SELECT signals FROM signal_log FORCE INDEX (signal_log_no)"
        " WHERE account_id = ? AND month = ? AND log_no > ?");
    stmt.setString(1, key->first);
    stmt.setString(2, MonthText(key->second));
    stmt.setUInt(3, known);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) texts.push_back(Str(*rs, 1));
    {
      std::lock_guard<std::mutex> lock(entry->mu);
      for (const std::string& text : texts) {
        RETURN_IF_ERROR(ForEachLoggedKey(text, [&](absl::string_view id) { entry->Add(id); }));
      }
      entry->log_rows = std::max(entry->log_rows, m.stored_rows);
    }
    key_cache_->Put(*key, entry);
  }
  std::map<SignalKeyCache::Key, std::shared_ptr<SignalKeyCache::Entry>> loaded;
  for (const SignalKeyCache::Key* key : whole) {
    auto entry = std::make_shared<SignalKeyCache::Entry>();
    entry->log_rows = keys.months.at(*key).stored_rows;
    loaded.emplace(*key, entry);
  }
  absl::Status parsed;
  db::ForEachChunk(whole.size(), [&](size_t offset, size_t count) {
    if (!parsed.ok()) return;
    auto& stmt = conn.Prepare(absl::StrCat(
        "SELECT account_id, TO_DAYS(month) - 719528, signals FROM signal_log"
        " FORCE INDEX (signal_log_no) WHERE (account_id, month) IN (",
        db::RowPlaceholders(count, 2), ")"));
    BindMonths(stmt, whole, offset, count);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next() && parsed.ok()) {
      SignalKeyCache::Entry& entry = *loaded.at({Str(*rs, 1), PackedMonth(*rs, 2)});
      std::lock_guard<std::mutex> lock(entry.mu);
      parsed = ForEachLoggedKey(Str(*rs, 3), [&](absl::string_view id) { entry.Add(id); });
    }
  });
  RETURN_IF_ERROR(parsed);
  for (auto& [key, entry] : loaded) {
    keys.months.at(key).stored = entry;
    key_cache_->Put(key, entry, /*replace=*/true);
  }
  return absl::OkStatus();
}

void MySqlHealthRepository::KeepStoredKeys(KeyView& keys) {
  for (auto& [key, m] : keys.months) {
    if (m.added.empty() && m.new_rows == 0) continue;
    {
      std::lock_guard<std::mutex> lock(m.stored->mu);
      for (absl::string_view id : m.added) m.stored->Add(id);
      m.stored->log_rows = std::max(m.stored->log_rows, m.stored_rows + m.new_rows);
    }
    key_cache_->Put(key, m.stored);
  }
}

// Writes the accepted signals to signal_log: one row per account and month (a new
// row after every kSignalsPerLogRow signals), each under a sequence number of its
// own and numbered after the month's stored rows (log_no). Rows go in statements
// of at most kPackedBytesPerStatement.
void MySqlHealthRepository::AppendSignalLog(db::Connection& conn, KeyView& keys,
                                            const std::vector<const PreparedBatch::Item*>& signals,
                                            absl::Time now) {
  constexpr int kSignalsPerLogRow = 1000;
  struct LogRow {
    const std::string* account_id = nullptr;
    absl::CivilMonth month;
    uint64_t seq = 0;
    uint32_t log_no = 0;
    int lines = 0;
    std::string text;
  };
  std::map<std::pair<std::string, absl::CivilMonth>, std::vector<LogRow>> by_month;
  // Signals come in account order, mostly a month at a time: one lookup per run.
  std::vector<LogRow>* run = nullptr;
  const Signal* run_signal = nullptr;
  for (const PreparedBatch::Item* item : signals) {
    const Signal* s = &*item->record->signal;
    const absl::CivilMonth month(item->day);
    if (run == nullptr || run_signal->account_id != s->account_id ||
        run->front().month != month) {
      run = &by_month[{s->account_id, month}];
    }
    run_signal = s;
    std::vector<LogRow>& rows = *run;
    if (rows.empty() || rows.back().lines == kSignalsPerLogRow) {
      KeyView::Month& locked = keys.months.at({s->account_id, month});
      LogRow& row = rows.emplace_back();
      row.account_id = &s->account_id;
      row.month = month;
      row.seq = next_ingest_group_.fetch_add(1);
      row.log_no = locked.stored_rows + ++locked.new_rows;
    }
    std::string& text = rows.back().text;
    if (!text.empty()) text += '\n';
    text.append(item->line.data(), item->line.size());
    ++rows.back().lines;
  }
  std::vector<const LogRow*> rows;
  std::vector<size_t> sizes;
  for (const auto& [key, list] : by_month) {
    for (const LogRow& row : list) {
      rows.push_back(&row);
      sizes.push_back(row.text.size());
    }
  }
  const std::string recorded_at = db::ToSqlDatetime(now);
  ForEachPackedChunk(sizes, [&](size_t offset, size_t count) {
    auto& stmt = conn.Prepare(
        absl::StrCat("INSERT INTO signal_log (account_id, month, seq, log_no, recorded_at, signals)"
                     " VALUES ", db::RowPlaceholders(count, 6)));
    for (size_t i = 0; i < count; ++i) {
      const LogRow& row = *rows[offset + i];
      const int p = static_cast<int>(i * 6);
      stmt.setString(p + 1, *row.account_id);
      stmt.setString(p + 2, MonthText(row.month));
      stmt.setUInt64(p + 3, row.seq);
      stmt.setUInt(p + 4, row.log_no);
      stmt.setString(p + 5, recorded_at);
      stmt.setString(p + 6, row.text);
    }
    stmt.executeUpdate();
  });
}

// Adds the increments into the packed month rows, which the staging locked and read
// (LockKeyMonths), and writes each back whole with its new count of log rows. Groups
// of two replicas touching the same row take it in turn.
absl::Status MySqlHealthRepository::AddCounters(db::Connection& conn, KeyView& keys,
                                               const CounterAdditions& increments) {
  struct Write {
    const SignalKeyCache::Key* key;
    uint32_t log_rows;
    std::string text;
  };
  std::vector<Write> writes;
  for (const auto& [key, m] : keys.months) {
    auto added = increments.find(key);
    if (added == increments.end() && m.new_rows == 0) continue;
    static const MonthCounters kNothing;
    Write& w = writes.emplace_back(Write{&key, m.stored_rows + m.new_rows, ""});
    if (absl::Status s = MergeMonthCounters(
            m.counters, added == increments.end() ? kNothing : added->second, w.text);
        !s.ok()) {
      // Never overwrite a row that cannot be read: the ingest fails instead.
      return absl::DataLossError(absl::StrCat("signal_counters of ", key.first, ", ",
                                              MonthText(key.second), ": ", s.message()));
    }
  }
  for (const auto& [key, month] : increments) {
    if (!keys.months.count(key)) {
      return absl::InternalError(absl::StrCat("signal_counters of ", key.first, ", ",
                                              MonthText(key.second), " was not locked"));
    }
  }
  std::vector<size_t> sizes;
  for (const Write& w : writes) sizes.push_back(w.text.size());
  ForEachPackedChunk(sizes, [&](size_t offset, size_t count) {
    auto& stmt = conn.Prepare(absl::StrCat(
        "INSERT INTO signal_counters (account_id, month, counters, log_rows) VALUES ",
        db::RowPlaceholders(count, 4),
        " ON DUPLICATE KEY UPDATE counters = VALUES(counters), log_rows = VALUES(log_rows)"));
    for (size_t i = 0; i < count; ++i) {
      const Write& w = writes[offset + i];
      const int p = static_cast<int>(i * 4);
      stmt.setString(p + 1, w.key->first);
      stmt.setString(p + 2, MonthText(w.key->second));
      stmt.setString(p + 3, w.text);
      stmt.setUInt(p + 4, w.log_rows);
    }
    stmt.executeUpdate();
  });
  return absl::OkStatus();
}

MySqlHealthRepository::PreparedBatch MySqlHealthRepository::PrepareBatch(const IngestBatch& batch) {
  PreparedBatch prepared;
  prepared.items.reserve(batch.records.size());
  for (const IngestRecord& r : batch.records) prepared.items.emplace_back().record = &r;
  // Accounts in id order, so concurrent batches lock rows in the same order.
  std::stable_sort(prepared.items.begin(), prepared.items.end(),
                   [](const PreparedBatch::Item& a, const PreparedBatch::Item& b) {
                     return a.record->account_id < b.record->account_id;
                   });
  absl::flat_hash_set<std::pair<absl::string_view, absl::string_view>> seen;
  seen.reserve(batch.records.size());
  const SignalKeyCache::Key* last_month = nullptr;  // the month of the signal before
  std::string& lines = *prepared.lines;
  lines.reserve(batch.records.size() * 64);
  std::vector<std::pair<PreparedBatch::Item*, size_t>> line_at;  // (item, offset in `lines`)
  line_at.reserve(batch.records.size());
  for (PreparedBatch::Item& item : prepared.items) {
    if (!item.record->signal.has_value()) continue;
    const Signal& s = *item.record->signal;
    if (prepared.accounts.empty() || prepared.accounts.back() != s.account_id) {
      prepared.accounts.push_back(s.account_id);
    }
    // Sent twice in this batch: the first one counts.
    item.repeated = !seen.emplace(s.account_id, s.event_id).second;
    if (item.repeated) continue;
    item.day = DayOf(s.occurred_at);
    const absl::CivilMonth month(item.day);
    if (last_month == nullptr || last_month->first != s.account_id ||
        last_month->second != month) {
      last_month = &*prepared.months.emplace(s.account_id, month).first;
    }
    line_at.emplace_back(&item, lines.size());
    AppendSignalFields(s, lines);
  }
  // Pointed into once the buffer is complete.
  for (size_t i = 0; i < line_at.size(); ++i) {
    const size_t end = i + 1 < line_at.size() ? line_at[i + 1].second : lines.size();
    line_at[i].first->line = absl::string_view(lines).substr(line_at[i].second, end - line_at[i].second);
  }
  return prepared;
}

// What one request's ingest wrote before the rescore, and what it publishes after.
struct MySqlHealthRepository::StagedIngest {
  IngestResult result;
  std::set<std::string> touched;
  std::vector<const Signal*> expansion;
  std::vector<AcceptedSignal> first_value_candidates;
  // Logged and added by CommitStaged, once for all the calls of a group.
  std::vector<const PreparedBatch::Item*> accepted;
  CounterAdditions counters;
};

// One request waiting in the group-commit queue.
struct MySqlHealthRepository::PendingIngest {
  const db::WriteKey* key = nullptr;
  const db::ResultCodec<IngestResult>* codec = nullptr;
  const IngestBatch* batch = nullptr;
  const PreparedBatch* prepared = nullptr;
  absl::Time now;
  absl::StatusOr<IngestResult> out = absl::InternalError("ingest not run");
  bool done = false;
};

absl::StatusOr<MySqlHealthRepository::StagedIngest> MySqlHealthRepository::StageIngest(
    db::Connection& conn, KeyView& keys, const IngestBatch& batch, const PreparedBatch& prepared,
    absl::Time now, const std::set<std::string>* existing) {
  StagedIngest staged;
  IngestResult& result = staged.result;
  result.acks.resize(batch.records.size());
  // Reads first, a few multi-row statements for the whole batch: which accounts
  // exist (unless the group read them), then (with the months locked) which
  // signals are stored already.
  const std::set<std::string> read =
      existing == nullptr ? ExistingAccounts(conn, prepared.accounts) : std::set<std::string>();
  const std::set<std::string>& known = existing == nullptr ? read : *existing;

  // Items come in account order: one lookup per account.
  const std::string* last_asked = nullptr;
  bool last_known = false;
  const auto Known = [&](const std::string& account_id) {
    if (last_asked == nullptr || *last_asked != account_id) {
      last_asked = &account_id;
      last_known = known.count(account_id) > 0;
    }
    return last_known;
  };
  std::vector<const PreparedBatch::Item*> fresh;  // the first of each key in this batch
  std::set<SignalKeyCache::Key> months;
  for (const PreparedBatch::Item& item : prepared.items) {
    const IngestRecord* r = item.record;
    RecordAck& ack = result.acks[r->index];
    ack.index = r->index;
    ack.event_id = r->event_id;
    std::string rejection = r->rejection;
    if (rejection.empty() && r->signal.has_value() && !Known(r->account_id)) {
      rejection = absl::StrCat(batch.source == "TrackEvents" ? "events[" : "signals[",
                               r->index, "].account_id: account '", r->account_id,
                               "' not found");
      if (batch.atomic) return absl::NotFoundError(rejection);
    }
    if (!rejection.empty()) {
      ack.outcome = RecordOutcome::kRejected;
      ack.reason = rejection;
      InsertRejected(conn, batch, *r, rejection, now);
      ++result.rejected;
      continue;
    }
    if (item.repeated) {
      ack.outcome = RecordOutcome::kDuplicate;
      ++result.duplicates;
      continue;
    }
    const absl::CivilMonth month(item.day);
    if (fresh.empty() || fresh.back()->record->account_id != r->account_id ||
        absl::CivilMonth(fresh.back()->day) != month) {
      months.emplace(r->account_id, month);
    }
    fresh.push_back(&item);
  }
  // A signal is a duplicate when its event id is among the stored keys of its
  // account and month of occurrence (a retry carries the same signal, so the same
  // month), or among those an earlier request of this transaction stored.
  RETURN_IF_ERROR(LockKeyMonths(conn, keys, months));

  std::set<std::string>& touched = staged.touched;
  std::vector<const Signal*>& expansion = staged.expansion;
  std::vector<AcceptedSignal>& first_value_candidates = staged.first_value_candidates;
  KeyView::Month* stored = nullptr;
  const SignalKeyCache::Key* stored_key = nullptr;
  MonthCounters* month = nullptr;  // the staged additions to stored_key's month
  for (const PreparedBatch::Item* item : fresh) {
    const IngestRecord* r = item->record;
    RecordAck& ack = result.acks[r->index];
    const Signal& s = *r->signal;
    const absl::CivilDay day = item->day;
    // Signals come in account order, mostly a month at a time: one lookup per run.
    if (stored == nullptr || stored_key->first != s.account_id ||
        stored_key->second != absl::CivilMonth(day)) {
      auto it = keys.months.find({s.account_id, absl::CivilMonth(day)});
      if (it == keys.months.end()) return absl::InternalError("a signal's month was not locked");
      stored = &it->second;
      stored_key = &it->first;
      month = nullptr;
    }
    bool fresh_key;
    {
      std::lock_guard<std::mutex> lock(stored->stored->mu);
      fresh_key = stored->Add(s.event_id);
    }
    if (!fresh_key) {
      ack.outcome = RecordOutcome::kDuplicate;
      ++result.duplicates;
      continue;
    }
    ack.outcome = RecordOutcome::kAccepted;
    ++result.accepted;
    staged.accepted.push_back(item);
    if (month == nullptr) {
      touched.insert(s.account_id);
      month = &staged.counters[*stored_key];
    }
    if (IsExpansionSignal(s.kind)) expansion.push_back(&s);
    first_value_candidates.push_back({&s, r->event_name});
    const int day_of_month = static_cast<int>(day.day());
    ForEachCounterIncrement(s, [&](absl::string_view counter, double amount) {
      (*month)[{day_of_month, std::string(counter)}] += amount;
    });
  }
  return staged;
}

absl::Status MySqlHealthRepository::CommitStaged(db::Connection& conn, KeyView& keys,
                                                 const std::vector<const StagedIngest*>& staged,
                                                 absl::Time now) {
  // One pass for all the calls of a group: each step reads what it needs once
  // (month rows, accounts, first-value definitions).
  std::set<std::string> touched;
  std::vector<const PreparedBatch::Item*> accepted;
  CounterAdditions counters;
  std::vector<const Signal*> expansion;
  std::vector<AcceptedSignal> first_value_candidates;
  for (const StagedIngest* s : staged) {
    touched.insert(s->touched.begin(), s->touched.end());
    accepted.insert(accepted.end(), s->accepted.begin(), s->accepted.end());
    for (const auto& [key, month] : s->counters) {
      MonthCounters& sum = counters[key];
      for (const auto& [day_counter, amount] : month) sum[day_counter] += amount;
    }
    expansion.insert(expansion.end(), s->expansion.begin(), s->expansion.end());
    first_value_candidates.insert(first_value_candidates.end(), s->first_value_candidates.begin(),
                                  s->first_value_candidates.end());
  }
  AppendSignalLog(conn, keys, accepted, now);
  RETURN_IF_ERROR(AddCounters(conn, keys, counters));
  RETURN_IF_ERROR(
      RescoreInTransaction(conn, std::vector<std::string>(touched.begin(), touched.end()), now));
  // After the rescore, so each event carries the score its signal produced; grouped
  // by account, as one call's are, each account's in the order sent.
  std::stable_sort(expansion.begin(), expansion.end(),
                   [](const Signal* a, const Signal* b) { return a->account_id < b->account_id; });
  RETURN_IF_ERROR(PublishExpansionSignals(conn, expansion, now));
  return RecordFirstValueAndNps(conn, first_value_candidates, encoders_.first_value, now);
}

absl::StatusOr<IngestResult> MySqlHealthRepository::IngestAlone(
    const db::WriteKey& key, const db::ResultCodec<IngestResult>& codec, const IngestBatch& batch,
    absl::Time now, const PreparedBatch* prepared) {
  const PreparedBatch own = prepared == nullptr ? PrepareBatch(batch) : PreparedBatch();
  if (prepared == nullptr) prepared = &own;
  std::optional<KeyView> keys;
  absl::StatusOr<IngestResult> out = db::RunIdempotent<IngestResult>(
      *pool_, *clock_, key, codec,
      [&](db::Connection& conn) -> absl::StatusOr<IngestResult> {
        keys.emplace();
        ASSIGN_OR_RETURN(StagedIngest staged, StageIngest(conn, *keys, batch, *prepared, now));
        RETURN_IF_ERROR(CommitStaged(conn, *keys, {&staged}, now));
        return std::move(staged.result);
      },
      [&] { keys.reset(); });
  // Committed: what it stored is now stored.
  if (out.ok() && keys.has_value()) KeepStoredKeys(*keys);
  return out;
}

absl::StatusOr<IngestResult> MySqlHealthRepository::Ingest(
    const db::WriteKey& key, const db::ResultCodec<IngestResult>& codec, const IngestBatch& batch,
    absl::Time now) {
  if (max_group_signals_ <= 0) return IngestAlone(key, codec, batch, now);
  const PreparedBatch prepared = PrepareBatch(batch);
  PendingIngest pending;
  pending.key = &key;
  pending.codec = &codec;
  pending.batch = &batch;
  pending.prepared = &prepared;
  pending.now = now;
  std::unique_lock<std::mutex> lock(ingest_mu_);
  ingest_queue_.push_back(&pending);
  queued_signals_ += batch.records.size();
  // A leader lingering for company is waiting for this.
  if (running_groups_ > 0) ingest_cv_.notify_all();
  // Leaders and followers: while fewer than max_groups_ groups run, whoever finds
  // requests queued takes them (its own first in line or behind others) and runs
  // them as one transaction; the rest wait. Requests that arrive meanwhile form the
  // next group, which runs beside the one before it (their statements and commits
  // overlap; they take the rows they share in turn).
  for (;;) {
    if (pending.done) return std::move(pending.out);
    if (running_groups_ >= max_groups_ || ingest_queue_.empty()) {
      ingest_cv_.wait(lock);
      continue;
    }
    ++running_groups_;
    if (group_linger_ > absl::ZeroDuration()) {
      ingest_cv_.wait_for(lock, absl::ToChronoNanoseconds(group_linger_), [&] {
        return queued_signals_ >= static_cast<size_t>(max_group_signals_);
      });
    }
    std::vector<PendingIngest*> group;
    size_t signals = 0;
    while (!ingest_queue_.empty()) {
      const size_t n = ingest_queue_.front()->batch->records.size();
      if (!group.empty() && signals + n > static_cast<size_t>(max_group_signals_)) break;
      group.push_back(ingest_queue_.front());
      ingest_queue_.pop_front();
      signals += n;
    }
    queued_signals_ -= signals;
    if (!group.empty()) {
      ++group_stats_.groups;
      group_stats_.requests += static_cast<int64_t>(group.size());
    }
    lock.unlock();
    try {
      if (!group.empty()) RunIngestGroup(group);
    } catch (...) {
      // Whatever went wrong, the followers must not wait for ever.
      for (PendingIngest* p : group) p->out = absl::InternalError("ingest failed unexpectedly");
    }
    lock.lock();
    for (PendingIngest* p : group) p->done = true;
    --running_groups_;
    ingest_cv_.notify_all();
  }
}

void MySqlHealthRepository::RunIngestGroup(const std::vector<PendingIngest*>& group) {
  if (group.size() == 1) {
    PendingIngest& p = *group.front();
    p.out = IngestAlone(*p.key, *p.codec, *p.batch, p.now, p.prepared);
    return;
  }
  absl::Time now = group.front()->now;
  for (const PendingIngest* p : group) now = std::max(now, p->now);
  std::vector<std::optional<StagedIngest>> staged(group.size());
  std::vector<absl::StatusOr<IngestResult>> outs(group.size(), absl::InternalError("not run"));
  // One transaction for the group. Each request runs behind a savepoint: one
  // that fails (an atomic batch naming an unknown account, a request id reused
  // for another request) is rolled back alone and gets its own error; requests
  // later in the group see the earlier ones' signals, so a signal sent in two
  // of them is a duplicate in the later one, as if they had run one by one.
  std::optional<KeyView> keys;
  const absl::Status status = pool_->InTransaction([&](db::Connection& conn) -> absl::Status {
    keys.emplace();
    // Which of the calls' accounts exist, read once for the group; then the
    // months the calls will append to, locked up front in key order: locked call
    // by call, two groups running at once could each hold one the other waits
    // for. An atomic call locks its own, so one that fails leaves no row.
    std::vector<std::string> asked;
    for (const PendingIngest* p : group) {
      asked.insert(asked.end(), p->prepared->accounts.begin(), p->prepared->accounts.end());
    }
    std::sort(asked.begin(), asked.end());
    asked.erase(std::unique(asked.begin(), asked.end()), asked.end());
    const std::set<std::string> known = ExistingAccounts(conn, asked);
    std::set<SignalKeyCache::Key> months;
    for (const PendingIngest* p : group) {
      if (p->batch->atomic) continue;
      for (const SignalKeyCache::Key& m : p->prepared->months) {
        if (known.count(m.first)) months.insert(m);
      }
    }
    RETURN_IF_ERROR(LockKeyMonths(conn, *keys, months));
    // The answers stored for the calls' request ids, read (and locked) at once; the
    // answers of the calls staged here are stored together after the last call.
    std::vector<const db::WriteKey*> write_keys;
    for (const PendingIngest* p : group) write_keys.push_back(p->key);
    ASSIGN_OR_RETURN(auto stored, db::FindStoredResponses(conn, write_keys));
    std::vector<db::StoredAnswer> answers;
    // A request id a call earlier in the group staged: the index of its answer.
    std::map<std::pair<std::string, std::string>, size_t> answered;
    for (size_t i = 0; i < group.size(); ++i) {
      const PendingIngest& p = *group[i];
      staged[i].reset();
      outs[i] = absl::InternalError("not run");
      if (stored[i].has_value()) {
        outs[i] = stored[i]->ok() ? p.codec->decode(**stored[i]) : stored[i]->status();
        continue;
      }
      if (!p.key->request_id.empty()) {
        // Run one by one, the later call would find the first one's stored answer.
        auto first_call = answered.find({p.key->method, p.key->request_id});
        if (first_call != answered.end()) {
          const db::StoredAnswer& a = answers[first_call->second];
          outs[i] = a.key->fingerprint == p.key->fingerprint ? p.codec->decode(a.response)
                                                              : db::RequestIdReused();
          continue;
        }
      }
      keys->locked_by_request.clear();
      conn.Execute("SAVEPOINT ingest_request");
      absl::StatusOr<StagedIngest> s =
          StageIngest(conn, *keys, *p.batch, *p.prepared, p.now, &known);
      if (!s.ok()) {
        if (absl::IsAborted(s.status())) return s.status();
        conn.Execute("ROLLBACK TO SAVEPOINT ingest_request");
        // Rows it created are gone; a later request locks and reads them again.
        for (const SignalKeyCache::Key& m : keys->locked_by_request) keys->months.erase(m);
        outs[i] = s.status();
        continue;
      }
      if (!p.key->request_id.empty()) {
        answered[{p.key->method, p.key->request_id}] = answers.size();
        answers.push_back({p.key, p.codec->encode(s->result)});
      }
      outs[i] = s->result;
      staged[i] = *std::move(s);
    }
    db::StoreResponses(conn, answers, clock_->Now());
    std::vector<const StagedIngest*> committed;
    for (const std::optional<StagedIngest>& s : staged) {
      if (s.has_value()) committed.push_back(&*s);
    }
    return CommitStaged(conn, *keys, committed, now);
  });
  if (status.ok()) {
    KeepStoredKeys(*keys);
    for (size_t i = 0; i < group.size(); ++i) group[i]->out = std::move(outs[i]);
    return;
  }
  // The group failed as a whole (the database, a conflict that outlived the
  // retries): each request runs again on its own and gets its own answer.
  {
    std::lock_guard<std::mutex> lock(ingest_mu_);
    group_stats_.alone += static_cast<int64_t>(group.size());
  }
  for (PendingIngest* p : group) {
    p->out = IngestAlone(*p->key, *p->codec, *p->batch, p->now, p->prepared);
  }
}

absl::Status MySqlHealthRepository::PublishExpansionSignals(
    db::Connection& conn, const std::vector<const Signal*>& signals, absl::Time now) {
  if (signals.empty()) return absl::OkStatus();
  std::vector<db::LoggedEvent> events;
  // Signals arrive grouped by account (the batch is sorted by account id).
  std::string standing_of;
  ExpansionSignalEvent standing;
  for (const Signal* s : signals) {
    if (s->account_id != standing_of) {
      standing_of = s->account_id;
      standing = ExpansionSignalEvent();
      ASSIGN_OR_RETURN(std::optional<Account> account, FindAccount(conn, s->account_id, false));
      if (account.has_value()) standing.tier = account->tier;
      auto& stmt = conn.Prepare(
          "SELECT score, band FROM account_scores WHERE account_id = ? AND score_name = ?");
      stmt.setString(1, s->account_id);
      stmt.setString(2, kDefaultScoreName);
      ResultSetPtr rs(stmt.executeQuery());
      if (rs->next()) {
        standing.score = rs->getDouble(1);
        standing.band = ReadBand(*rs, 2);
      }
    }
    ExpansionSignalEvent payload = standing;
    payload.signal = *s;
    db::LoggedEvent e;
    e.kind = std::string(EventKindName(EventKind::kExpansionSignal));
    e.subject_id = s->account_id;
    e.occurred_at = now;
    e.payload = encoders_.expansion_signal(payload);
    events.push_back(std::move(e));
  }
  db::AppendEvents(conn, events);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Scorecard>> MySqlHealthRepository::CurrentScorecards(
    db::Connection& conn) {
  std::vector<std::pair<std::string, int>> heads;
  {
    ResultSetPtr rs(conn.Prepare("SELECT scorecard_id, current_version FROM scorecards"
                                 " ORDER BY scorecard_id")
                        .executeQuery());
    while (rs->next()) heads.emplace_back(Str(*rs, 1), rs->getInt(2));
  }
  std::vector<Scorecard> out;
  for (const auto& head : heads) {
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = scorecard_cache_.find(head);
      if (it != scorecard_cache_.end()) {
        out.push_back(it->second);
        continue;
      }
    }
    ASSIGN_OR_RETURN(std::optional<Scorecard> s, LoadScorecard(conn, head.first, head.second));
    if (!s.has_value()) continue;
    std::lock_guard<std::mutex> lock(cache_mu_);
    scorecard_cache_.emplace(head, *s);
    out.push_back(*std::move(s));
  }
  return out;
}

namespace {

// The accounts among ids[offset, offset + count) (sorted), with what rescoring
// needs of them (tier and industry choose the scorecard; lifecycle stops alerts on
// churned accounts), locked in id order: rescores of one account
// are serialised across requests and replicas, and concurrent batches lock in the
// same order.
using AccountsById = std::map<std::string, Account>;

absl::StatusOr<AccountsById> LockAccountsForRescore(db::Connection& conn,
                                                    const std::vector<std::string>& ids,
                                                    size_t offset, size_t count) {
  AccountsById out;
  // Named ids, even when they make a key range: a locking range scan locks the row
  // past its end as well (before testing it), and that row is the next slice's,
  // held by whichever worker rescores that slice.
  auto& stmt = conn.Prepare(absl::StrCat(
      "SELECT account_id, tier, industry, lifecycle FROM accounts WHERE account_id IN ",
      db::InListPlaceholders(count), " ORDER BY account_id FOR UPDATE"));
  db::BindInList(stmt, 1, ids, offset, count);
  ResultSetPtr rs(stmt.executeQuery());
  while (rs->next()) {
    Account a;
    a.account_id = Str(*rs, 1);
    a.tier = TierFromName(Str(*rs, 2)).value_or(Tier::kUnspecified);
    a.industry = IndustryFromName(Str(*rs, 3)).value_or(Industry::kUnspecified);
    a.lifecycle = LifecycleFromName(Str(*rs, 4)).value_or(Lifecycle::kUnspecified);
    out.emplace(a.account_id, std::move(a));
  }
  return out;
}

// Resolves and opens a rescore round's alerts with multi-row statements, resolutions
// first (an alert of a kind may close and reopen in one round), and sets the ids of
// the opened ones, as `ids` says (AlertIds).
absl::Status WriteAlerts(db::Connection& conn, const std::vector<Alert>& resolved,
                         std::vector<Alert>& opened, AlertIds ids_from) {
  std::map<absl::Time, std::vector<int64_t>> resolved_at;
  for (const Alert& a : resolved) resolved_at[a.resolved_at.value_or(a.opened_at)].push_back(a.id);
  for (const auto& entry : resolved_at) {
    // Named, not bound: clang 14 cannot capture structured bindings in a lambda.
    const absl::Time at = entry.first;
    const std::vector<int64_t>& ids = entry.second;
    // Binary chunk sizes: a round resolves a few dozen, in two or three statements.
    db::ForEachChunk(ids.size(), db::kBinaryRowChunks, [&](size_t offset, size_t count) {
      auto& stmt = conn.Prepare(
          absl::StrCat("UPDATE alerts SET resolved_at = ?, open_flag = NULL WHERE alert_id IN ",
                       db::RowPlaceholders(1, count)));
      stmt.setString(1, db::ToSqlDatetime(at));
      for (size_t i = 0; i < count; ++i) stmt.setInt64(static_cast<int>(i + 2), ids[offset + i]);
      stmt.executeUpdate();
    });
  }
  if (opened.empty()) return absl::OkStatus();
  const bool returning = ids_from == AlertIds::kReturning;
  // Each statement may be followed by its id read: binary chunk sizes keep both few.
  db::ForEachChunk(opened.size(), db::kBinaryRowChunks, [&](size_t offset, size_t count) {
    auto& stmt = conn.Prepare(absl::StrCat(
        "INSERT INTO alerts (account_id, kind, severity, summary, evidence, opened_at,"
        " open_flag) VALUES ",
        db::RowPlaceholders(count, 7), returning ? " RETURNING alert_id" : ""));
    for (size_t i = 0; i < count; ++i) {
      const Alert& a = opened[offset + i];
      const int p = static_cast<int>(i * 7);
      stmt.setString(p + 1, a.account_id);
      stmt.setString(p + 2, std::string(AlertKindName(a.kind)));
      stmt.setString(p + 3, std::string(SeverityName(a.severity)));
      stmt.setString(p + 4, a.summary.substr(0, 1000));
      stmt.setString(p + 5, EncodeEvidence(a.evidence));
      stmt.setString(p + 6, db::ToSqlDatetime(a.opened_at));
      stmt.setInt(p + 7, 1);
    }
    if (returning) {
      // The rows come back in the order of the VALUES list.
      ResultSetPtr rs(stmt.executeQuery());
      for (size_t i = 0; i < count && rs->next(); ++i) opened[offset + i].id = rs->getInt64(1);
      return;
    }
    stmt.executeUpdate();
    if (ids_from != AlertIds::kConsecutive) return;
    ResultSetPtr rs(
        conn.Prepare("SELECT LAST_INSERT_ID(), @@auto_increment_increment").executeQuery());
    if (!rs->next()) return;
    const int64_t first = rs->getInt64(1);
    const int64_t step = rs->getInt64(2);
    for (size_t i = 0; i < count; ++i) {
      opened[offset + i].id = first + static_cast<int64_t>(i) * step;
    }
  });
  if (ids_from != AlertIds::kReadBack) {
    for (const Alert& a : opened) {
      if (a.id <= 0) return absl::InternalError("an opened alert got no id");
    }
    return absl::OkStatus();
  }
  std::map<std::pair<std::string, std::string>, Alert*> by_key;
  std::vector<std::string> accounts;
  for (Alert& a : opened) {
    by_key[{a.account_id, std::string(AlertKindName(a.kind))}] = &a;
    if (accounts.empty() || accounts.back() != a.account_id) accounts.push_back(a.account_id);
  }
  std::sort(accounts.begin(), accounts.end());
  accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
  db::ForEachChunk(accounts.size(), [&](size_t offset, size_t count) {
    auto& stmt = conn.Prepare(
        absl::StrCat("SELECT alert_id, account_id, kind FROM alerts FORCE INDEX (alerts_one_open)"
                     " WHERE open_flag = 1 AND account_id IN ",
                     db::RowPlaceholders(1, count)));
    for (size_t i = 0; i < count; ++i) stmt.setString(static_cast<int>(i + 1), accounts[offset + i]);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      auto it = by_key.find({Str(*rs, 2), Str(*rs, 3)});
      if (it != by_key.end()) it->second->id = rs->getInt64(1);
    }
  });
  for (const Alert& a : opened) {
    if (a.id == 0) return absl::InternalError("an opened alert was not found by its key");
  }
  return absl::OkStatus();
}

// Above every account id (ValidateId allows printable ASCII only, 0x21-0x7e): the
// bound of a job's last slice.
constexpr char kLastAccountId[] = "\x7f";

// How many accounts one rescore round reads and writes with each statement.
constexpr size_t kRescoreChunk = 256;

}  // namespace

AlertIds MySqlHealthRepository::AlertIdsFrom(db::Connection& conn) {
  int known = alert_ids_.load(std::memory_order_relaxed);
  if (known >= 0) return static_cast<AlertIds>(known);
  // Both are fixed while the server runs, so read once.
  ResultSetPtr rs(
      conn.Prepare("SELECT VERSION(), @@innodb_autoinc_lock_mode").executeQuery());
  AlertIds ids = AlertIds::kReadBack;
  if (rs->next()) {
    const std::string version = Str(*rs, 1);
    int major = 0;
    int minor = 0;
    // INSERT ... RETURNING: MariaDB 10.5 and later.
    const bool mariadb = absl::StrContains(version, "MariaDB") &&
                         std::sscanf(version.c_str(), "%d.%d", &major, &minor) == 2 &&
                         (major > 10 || (major == 10 && minor >= 5));
    if (mariadb) {
      ids = AlertIds::kReturning;
    } else if (rs->getInt(2) <= 1) {
      ids = AlertIds::kConsecutive;
    }
  }
  alert_ids_.store(static_cast<int>(ids), std::memory_order_relaxed);
  return ids;
}

absl::Status MySqlHealthRepository::RescoreInTransaction(db::Connection& conn,
                                                         const std::vector<std::string>& ids,
                                                         absl::Time now, RescoreIds how) {
  if (ids.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<Scorecard> scorecards, CurrentScorecards(conn));
  ASSIGN_OR_RETURN(AlertSettings settings, LoadSettings(conn));
  const absl::CivilDay first_day = DayOf(now) - (CounterDaysNeeded(scorecards, settings) - 1);
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());

  std::vector<db::LoggedEvent> events;
  auto publish = [&](EventKind kind, const std::string& account_id, std::string payload) {
    db::LoggedEvent e;
    e.kind = std::string(EventKindName(kind));
    e.subject_id = account_id;
    e.occurred_at = now;
    e.payload = std::move(payload);
    events.push_back(std::move(e));
  };

  // A round of up to kRescoreChunk accounts: four multi-row reads (accounts locked,
  // counters, stored scores, open alerts), the scoring in memory, then multi-row
  // writes. Alerts change rarely and need their ids, so they stay row by row.
  const bool key_range = how == RescoreIds::kKeyRange;
  for (size_t offset = 0; offset < sorted.size(); offset += kRescoreChunk) {
    const size_t count = std::min(kRescoreChunk, sorted.size() - offset);
    ASSIGN_OR_RETURN(AccountsById accounts, LockAccountsForRescore(conn, sorted, offset, count));
    if (accounts.empty()) continue;
    std::vector<std::string> present;
    for (const auto& [id, a] : accounts) present.push_back(id);
    // The round's accounts in the WHERE clause of its unlocked reads: their ids
    // listed, or their key range (whose rows of other accounts the reads skip).
    const std::string in_list =
        key_range ? std::string("BETWEEN ? AND ?")
                  : absl::StrCat("IN ", db::InListPlaceholders(present.size()));
    const int id_params = key_range ? 2 : static_cast<int>(db::InListSlots(present.size()));
    auto bind_ids = [&](sql::PreparedStatement& stmt, int first) {
      if (key_range) {
        stmt.setString(first, present.front());
        stmt.setString(first + 1, present.back());
        return;
      }
      db::BindInList(stmt, first, present, 0, present.size());
    };
    auto in_round = [&](const std::string& id) { return accounts.count(id) > 0; };

    // Through the end of time: a signal dated up to a day ahead counts once its day comes.
    // The month is compared through TO_DAYS so it bounds no index range: with
    // `month >= ?` each account became a range of its own, and the optimizer
    // estimated every one with index dives (5.9 ms of a 256-account round's reads);
    // equality ranges on account_id alone are estimated from statistics above
    // eq_range_index_dive_limit. An account's older months are read and dropped here.
    std::map<std::string, CounterWindow> windows;
    {
      auto& stmt = conn.Prepare(absl::StrCat("SELECT account_id, ", kCounterMonth,
                                             " FROM signal_counters WHERE account_id ",
                                             in_list, " AND TO_DAYS(month) >= TO_DAYS(?)"));
      bind_ids(stmt, 1);
      stmt.setString(id_params + 1, MonthText(absl::CivilMonth(first_day)));
      ResultSetPtr rs(stmt.executeQuery());
      while (rs->next()) {
        std::string id = Str(*rs, 1);
        if (!in_round(id)) continue;
        RETURN_IF_ERROR(ReadPackedCounters(*rs, 2, first_day, absl::CivilDay(9999, 12, 31),
                                           windows[std::move(id)]));
      }
    }
    std::map<std::string, std::map<std::string, StoredScore>> current;
    {
      auto& stmt = conn.Prepare(absl::StrCat("SELECT ", kScoreColumns,
                                             ", published_score FROM account_scores"
                                             " WHERE account_id ", in_list));
      bind_ids(stmt, 1);
      ResultSetPtr rs(stmt.executeQuery());
      while (rs->next()) {
        // Compared as stored text with the new scores' (Rescore), not decoded.
        ASSIGN_OR_RETURN(StoredScore s, ReadScore(*rs, ScoreComponents::kEncoded));
        if (!in_round(s.account_id)) continue;
        s.published_score = rs->getDouble(9);
        const std::string account_id = s.account_id;
        const std::string name = s.score_name;
        current[account_id].emplace(name, std::move(s));
      }
    }
    std::map<std::string, std::vector<Alert>> open_alerts;
    // The open alerts' stored evidence by alert id, decoded for those resolved; a
    // worsened band's is decoded at once (the band it worsened from is in it).
    std::map<int64_t, std::string> open_evidence;
    {
      // By the account's key, sorted here: with ORDER BY alert_id the optimizer would
      // walk alerts_open, every open alert of every account, once per round.
      auto& stmt = conn.Prepare(absl::StrCat("SELECT ", kAlertColumns,
                                             " FROM alerts FORCE INDEX (alerts_one_open)"
                                             " WHERE account_id ", in_list,
                                             " AND open_flag = 1"));
      bind_ids(stmt, 1);
      ResultSetPtr rs(stmt.executeQuery());
      std::string evidence;
      while (rs->next()) {
        ASSIGN_OR_RETURN(Alert a, ReadAlert(*rs, &evidence));
        if (!in_round(a.account_id)) continue;
        if (a.kind == AlertKind::kBandWorsened) a.evidence = DecodeEvidence(evidence);
        open_evidence.emplace(a.id, std::move(evidence));
        open_alerts[a.account_id].push_back(std::move(a));
      }
      for (auto& [account_id, alerts] : open_alerts) {
        std::sort(alerts.begin(), alerts.end(),
                  [](const Alert& a, const Alert& b) { return a.id < b.id; });
      }
    }

    std::vector<StoredScore> changed_scores;  // written to account_scores and score_history
    std::vector<StoredScore> daily_scores;    // unchanged: written to score_daily
    // Alert writes are batched per round; their events keep each account's order
    // (score, band, resolved, opened) and are published once opened alerts have ids.
    std::vector<Alert> resolved_alerts;
    std::vector<Alert> opened_alerts;
    struct RoundEvent {
      EventKind kind;
      std::string account_id;
      std::string payload;
      int opened = -1;  // index into opened_alerts, encoded once its id is known
    };
    std::vector<RoundEvent> round_events;
    for (const std::string& id : present) {
      CounterWindow& counters = windows[id];
      counters.Seal();
      RescoreInput in;
      in.account = &accounts.at(id);
      in.counters = &counters;
      in.scorecards = &scorecards;
      in.settings = &settings;
      in.now = now;
      in.current = std::move(current[id]);
      in.open_alerts = std::move(open_alerts[id]);
      RescoreOutput out = Rescore(in);
      // A changed score's history row is also its day's point (History), so only
      // an unchanged score writes the day's row.
      for (size_t i = 0; i < out.scores.size(); ++i) {
        (out.changed[i] ? changed_scores : daily_scores).push_back(std::move(out.scores[i]));
      }
      for (const ScoreChange& c : out.score_changed) {
        round_events.push_back({EventKind::kScoreChanged, id, encoders_.score_change(c)});
      }
      for (const ScoreChange& c : out.band_changed) {
        round_events.push_back({EventKind::kBandChanged, id, encoders_.score_change(c)});
      }
      for (Alert& a : out.alerts.resolved) {
        auto stored = open_evidence.find(a.id);
        if (a.evidence.empty() && stored != open_evidence.end()) {
          a.evidence = DecodeEvidence(stored->second);
        }
        round_events.push_back({EventKind::kAlertResolved, id, encoders_.alert(a)});
        resolved_alerts.push_back(std::move(a));
      }
      for (Alert& a : out.alerts.opened) {
        round_events.push_back(
            {EventKind::kAlertOpened, id, "", static_cast<int>(opened_alerts.size())});
        opened_alerts.push_back(std::move(a));
      }
    }
    RETURN_IF_ERROR(
        WriteAlerts(conn, resolved_alerts, opened_alerts, AlertIdsFrom(conn)));
    for (RoundEvent& e : round_events) {
      if (e.opened >= 0) e.payload = encoders_.alert(opened_alerts[e.opened]);
      publish(e.kind, e.account_id, std::move(e.payload));
    }

    db::ForEachChunk(changed_scores.size(), [&](size_t first, size_t n) {
      auto& upsert = conn.Prepare(absl::StrCat(
          "INSERT INTO account_scores (account_id, score_name, scorecard_id, scorecard_version,"
          " score, band, components, computed_at, published_score) VALUES ",
          db::RowPlaceholders(n, 9),
          " ON DUPLICATE KEY UPDATE"
          " scorecard_id = VALUES(scorecard_id), scorecard_version = VALUES(scorecard_version),"
          " score = VALUES(score), band = VALUES(band), components = VALUES(components),"
          " computed_at = VALUES(computed_at), published_score = VALUES(published_score)"));
      auto& history = conn.Prepare(absl::StrCat(
          "INSERT INTO score_history (account_id, score_name, computed_at, scorecard_id,"
          " scorecard_version, score, band, components) VALUES ",
          db::RowPlaceholders(n, 8)));
      for (size_t i = 0; i < n; ++i) {
        const StoredScore& s = changed_scores[first + i];
        const std::string components = s.encoded_components.has_value()
                                           ? *s.encoded_components
                                           : EncodeComponents(s.components);
        const std::string computed_at = db::ToSqlDatetime(s.computed_at);
        const std::string band(BandName(s.band));
        const int p = static_cast<int>(i * 9);
        upsert.setString(p + 1, s.account_id);
        upsert.setString(p + 2, s.score_name);
        upsert.setString(p + 3, s.scorecard_id);
        upsert.setInt(p + 4, s.scorecard_version);
        upsert.setDouble(p + 5, s.score);
        upsert.setString(p + 6, band);
        upsert.setString(p + 7, components);
        upsert.setString(p + 8, computed_at);
        upsert.setDouble(p + 9, s.published_score);
        const int h = static_cast<int>(i * 8);
        history.setString(h + 1, s.account_id);
        history.setString(h + 2, s.score_name);
        history.setString(h + 3, computed_at);
        history.setString(h + 4, s.scorecard_id);
        history.setInt(h + 5, s.scorecard_version);
        history.setDouble(h + 6, s.score);
        history.setString(h + 7, band);
        history.setString(h + 8, components);
      }
      upsert.executeUpdate();
      history.executeUpdate();
    });
    db::ForEachChunk(daily_scores.size(), [&](size_t first, size_t n) {
      auto& daily = conn.Prepare(absl::StrCat(
          "INSERT INTO score_daily (account_id, score_name, day, score, band, scorecard_version)"
          " VALUES ",
          db::RowPlaceholders(n, 6),
          " ON DUPLICATE KEY UPDATE score = VALUES(score),"
          " band = VALUES(band), scorecard_version = VALUES(scorecard_version)"));
      for (size_t i = 0; i < n; ++i) {
        const StoredScore& s = daily_scores[first + i];
        const int p = static_cast<int>(i * 6);
        daily.setString(p + 1, s.account_id);
        daily.setString(p + 2, s.score_name);
        daily.setString(p + 3, DayText(DayOf(s.computed_at)));
        daily.setDouble(p + 4, s.score);
        daily.setString(p + 5, std::string(BandName(s.band)));
        daily.setInt(p + 6, s.scorecard_version);
      }
      daily.executeUpdate();
    });
  }
  db::AppendEvents(conn, events);
  return absl::OkStatus();
}

absl::StatusOr<int> MySqlHealthRepository::RunRescoreJobs(absl::Time now, int max_accounts) {
  // A server that started while the database was down seeds the default here.
  RETURN_IF_ERROR(EnsureDefaultScorecard(now));
  const int64_t today = DayOf(now) - absl::CivilDay(1970, 1, 1);
  if (daily_job_day_.load(std::memory_order_relaxed) != today) {
    RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
      auto& stmt = conn.Prepare(
          "INSERT IGNORE INTO rescore_jobs (kind, day, reason, created_at)"
          " VALUES ('DAILY', ?, 'daily rescore', ?)");
      stmt.setString(1, DayText(DayOf(now)));
      stmt.setString(2, db::ToSqlDatetime(now));
      stmt.executeUpdate();
      return absl::OkStatus();
    }));
    daily_job_day_.store(today, std::memory_order_relaxed);
  }
  // Work an open slice first (one whose worker died, or one just cut), else cut the
  // next one; a cut slice is worked on the next call, by whichever worker locks it.
  ASSIGN_OR_RETURN(std::optional<int> worked, WorkOpenSlice(now));
  if (worked.has_value()) return *worked;
  return CutSlice(now, max_accounts);
}

absl::StatusOr<std::optional<int>> MySqlHealthRepository::WorkOpenSlice(absl::Time now) {
  return pool_->Transact<std::optional<int>>(
      [&](db::Connection& conn) -> absl::StatusOr<std::optional<int>> {
        // Slices being worked are locked: other workers skip them and take the next.
        ResultSetPtr slice(
            conn.Prepare("SELECT job_id, slice_no, after_account_id, last_account_id"
                         " FROM rescore_job_slices WHERE done_at IS NULL"
                         " ORDER BY done_at, job_id, slice_no LIMIT 1 FOR UPDATE SKIP LOCKED")
                .executeQuery());
        if (!slice->next()) return std::optional<int>();
        const int64_t job_id = slice->getInt64(1);
        const int slice_no = slice->getInt(2);
        std::vector<std::string> ids;
        {
          auto& stmt = conn.Prepare(
              "SELECT account_id FROM accounts WHERE account_id > ? AND account_id <= ?"
              " ORDER BY account_id");
          stmt.setString(1, Str(*slice, 3));
          stmt.setString(2, Str(*slice, 4));
          ResultSetPtr rs(stmt.executeQuery());
          while (rs->next()) ids.push_back(Str(*rs, 1));
        }
        RETURN_IF_ERROR(RescoreInTransaction(conn, ids, now, RescoreIds::kKeyRange));
        auto& done = conn.Prepare(
            "UPDATE rescore_job_slices SET done_at = ?, accounts = ? WHERE job_id = ?"
            " AND slice_no = ?");
        done.setString(1, db::ToSqlDatetime(now));
        done.setInt(2, static_cast<int>(ids.size()));
        done.setInt64(3, job_id);
        done.setInt(4, slice_no);
        done.executeUpdate();
        // The job row's lock orders the slices finishing together: the last one to
        // take it sees every other slice done and finishes the job.
        auto& count = conn.Prepare(
            "UPDATE rescore_jobs SET accounts_done = accounts_done + ? WHERE job_id = ?");
        count.setInt64(1, static_cast<int64_t>(ids.size()));
        count.setInt64(2, job_id);
        count.executeUpdate();
        RETURN_IF_ERROR(FinishJobIfDone(conn, job_id, now));
        // A slice with no account left still counts as work.
        return std::optional<int>(std::max<int>(static_cast<int>(ids.size()), 1));
      });
}

absl::StatusOr<int> MySqlHealthRepository::CutSlice(absl::Time now, int max_accounts) {
  return pool_->Transact<int>([&](db::Connection& conn) -> absl::StatusOr<int> {
    // A short wait on a job another worker is cutting, rather than skipping it.
    ResultSetPtr job(conn.Prepare("SELECT job_id, cursor_account_id, slices FROM rescore_jobs"
                                  " WHERE finished_at IS NULL AND all_cut = 0"
                                  " ORDER BY job_id LIMIT 1 FOR UPDATE")
                         .executeQuery());
    if (!job->next()) return 0;
    const int64_t job_id = job->getInt64(1);
    const std::string cursor = Str(*job, 2);
    const int slices = job->getInt(3);
    std::string last;
    int found = 0;
    {
      auto& stmt = conn.Prepare(
          "SELECT account_id FROM accounts WHERE account_id > ? ORDER BY account_id LIMIT ?");
      stmt.setString(1, cursor);
      stmt.setInt(2, max_accounts);
      ResultSetPtr rs(stmt.executeQuery());
      while (rs->next()) {
        last = Str(*rs, 1);
        ++found;
      }
    }
    // The last slice reaches past every account id: accounts created while the job
    // runs are rescored too.
    const bool all_cut = found < max_accounts;
    if (found > 0) {
      auto& insert = conn.Prepare(
          "INSERT INTO rescore_job_slices (job_id, slice_no, after_account_id, last_account_id)"
          " VALUES (?, ?, ?, ?)");
      insert.setInt64(1, job_id);
      insert.setInt(2, slices + 1);
      insert.setString(3, cursor);
      insert.setString(4, all_cut ? std::string(kLastAccountId) : last);
      insert.executeUpdate();
    }
    auto& advance = conn.Prepare(
        "UPDATE rescore_jobs SET cursor_account_id = ?, slices = ?, all_cut = ? WHERE job_id = ?");
    advance.setString(1, found > 0 ? last : cursor);
    advance.setInt(2, found > 0 ? slices + 1 : slices);
    advance.setInt(3, all_cut ? 1 : 0);
    advance.setInt64(4, job_id);
    advance.executeUpdate();
    if (all_cut) RETURN_IF_ERROR(FinishJobIfDone(conn, job_id, now));
    return 1;
  });
}

absl::Status MySqlHealthRepository::FinishJobIfDone(db::Connection& conn, int64_t job_id,
                                                    absl::Time now) {
  auto& open = conn.Prepare(
      "SELECT j.all_cut, (SELECT COUNT(*) FROM rescore_job_slices s"
      "  WHERE s.job_id = j.job_id AND s.done_at IS NULL)"
      " FROM rescore_jobs j WHERE j.job_id = ?");
  open.setInt64(1, job_id);
  ResultSetPtr rs(open.executeQuery());
  if (!rs->next() || rs->getInt(1) == 0 || rs->getInt64(2) > 0) return absl::OkStatus();
  auto& finish = conn.Prepare(
      "UPDATE rescore_jobs SET finished_at = ? WHERE job_id = ? AND finished_at IS NULL");
  finish.setString(1, db::ToSqlDatetime(now));
  finish.setInt64(2, job_id);
  finish.executeUpdate();
  auto& purge = conn.Prepare("DELETE FROM rescore_job_slices WHERE job_id = ?");
  purge.setInt64(1, job_id);
  purge.executeUpdate();
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Event map and dead letters

absl::StatusOr<EventMapping> MySqlHealthRepository::SetEventMapping(
    const db::WriteKey& key, const db::ResultCodec<EventMapping>& codec,
    const EventMapping& mapping, absl::Time now) {
  return db::RunIdempotent<EventMapping>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<EventMapping> {
        auto& stmt = conn.Prepare(
            "INSERT INTO event_mappings (event_name, kind, value_property, feature_property,"
            " updated_at) VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE kind = VALUES(kind),"
            " value_property = VALUES(value_property),"
            " feature_property = VALUES(feature_property), updated_at = VALUES(updated_at)");
        stmt.setString(1, mapping.event_name);
        stmt.setString(2, std::string(SignalKindName(mapping.kind)));
        stmt.setString(3, mapping.value_property);
        stmt.setString(4, mapping.feature_property);
        stmt.setString(5, db::ToSqlDatetime(now));
        stmt.executeUpdate();
        EventMapping out = mapping;
        out.updated_at = now;
        return out;
      });
}

absl::StatusOr<std::vector<EventMapping>> MySqlHealthRepository::ListEventMappings() {
  std::vector<EventMapping> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ResultSetPtr rs(conn.Prepare("SELECT event_name, kind, value_property, feature_property,"
                                 " updated_at FROM event_mappings ORDER BY event_name")
                        .executeQuery());
    while (rs->next()) {
      EventMapping m;
      m.event_name = Str(*rs, 1);
      m.kind = SignalKindFromName(Str(*rs, 2)).value_or(SignalKind::kUnspecified);
      m.value_property = Str(*rs, 3);
      m.feature_property = Str(*rs, 4);
      ASSIGN_OR_RETURN(m.updated_at, db::FromSqlDatetime(Str(*rs, 5)));
      out.push_back(std::move(m));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<RejectedPage> MySqlHealthRepository::ListRejected(const RejectedQuery& q) {
  RejectedPage page;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(
        "SELECT id, source, event_id, account_id, reason, received_at, record_json"
        " FROM rejected_records WHERE (? = '' OR source = ?) AND (? = '' OR account_id = ?)"
        " AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?");
    stmt.setString(1, q.source);
    stmt.setString(2, q.source);
    stmt.setString(3, q.account_id);
    stmt.setString(4, q.account_id);
    stmt.setInt64(5, q.before_id);
    stmt.setInt64(6, q.before_id);
    stmt.setInt(7, q.limit + 1);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      if (static_cast<int>(page.records.size()) == q.limit) {
        page.next_before_id = page.records.back().id;
        break;
      }
      RejectedRecord r;
      r.id = rs->getInt64(1);
      r.source = Str(*rs, 2);
      r.event_id = Str(*rs, 3);
      r.account_id = Str(*rs, 4);
      r.reason = Str(*rs, 5);
      ASSIGN_OR_RETURN(r.received_at, db::FromSqlDatetime(Str(*rs, 6)));
      r.record_json = Str(*rs, 7);
      page.records.push_back(std::move(r));
    }
    return absl::OkStatus();
  }));
  return page;
}

// ---------------------------------------------------------------------------
// Scorecards

absl::StatusOr<Scorecard> MySqlHealthRepository::CreateScorecard(
    const db::WriteKey& key, const db::ResultCodec<Scorecard>& codec, const Scorecard& scorecard,
    absl::Time now) {
  return db::RunIdempotent<Scorecard>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<Scorecard> {
        auto& find = conn.Prepare("SELECT 1 FROM scorecards WHERE scorecard_id = ? FOR UPDATE");
        find.setString(1, scorecard.scorecard_id);
        ResultSetPtr rs(find.executeQuery());
        if (rs->next()) {
          return absl::AlreadyExistsError(
              absl::StrCat("scorecard '", scorecard.scorecard_id, "' already exists"));
        }
        Scorecard s = scorecard;
        s.version = 1;
        s.updated_at = now;
        auto& head = conn.Prepare(
            "INSERT INTO scorecards (scorecard_id, score_name, current_version, created_at,"
            " updated_at) VALUES (?, ?, 1, ?, ?)");
        head.setString(1, s.scorecard_id);
        head.setString(2, s.score_name);
        head.setString(3, db::ToSqlDatetime(now));
        head.setString(4, db::ToSqlDatetime(now));
        head.executeUpdate();
        InsertScorecardVersion(conn, s, now);
        QueueRescore(conn, absl::StrCat("scorecard ", s.scorecard_id, " created"), now);
        return s;
      });
}

absl::StatusOr<Scorecard> MySqlHealthRepository::UpdateScorecard(
    const db::WriteKey& key, const db::ResultCodec<Scorecard>& codec, const Scorecard& scorecard,
    absl::Time now) {
  return db::RunIdempotent<Scorecard>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<Scorecard> {
        auto& find = conn.Prepare(
            "SELECT current_version FROM scorecards WHERE scorecard_id = ? FOR UPDATE");
        find.setString(1, scorecard.scorecard_id);
        ResultSetPtr rs(find.executeQuery());
        if (!rs->next()) {
          return absl::NotFoundError(
              absl::StrCat("scorecard '", scorecard.scorecard_id, "' not found"));
        }
        const int current = rs->getInt(1);
        if (scorecard.version != current) {
          return absl::AbortedError(absl::StrCat("scorecard.version: ", scorecard.version,
                                                 " is stale; the current version is ", current));
        }
        Scorecard s = scorecard;
        s.version = current + 1;
        s.updated_at = now;
        auto& head = conn.Prepare(
            "UPDATE scorecards SET score_name = ?, current_version = ?, updated_at = ?"
            " WHERE scorecard_id = ?");
        head.setString(1, s.score_name);
        head.setInt(2, s.version);
        head.setString(3, db::ToSqlDatetime(now));
        head.setString(4, s.scorecard_id);
        head.executeUpdate();
        InsertScorecardVersion(conn, s, now);
        QueueRescore(conn, absl::StrCat("scorecard ", s.scorecard_id, " version ", s.version), now);
        return s;
      });
}

absl::StatusOr<Scorecard> MySqlHealthRepository::GetScorecard(const std::string& scorecard_id,
                                                              int version) {
  std::optional<Scorecard> found;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(found, LoadScorecard(conn, scorecard_id, version));
    return absl::OkStatus();
  }));
  if (!found.has_value()) {
    return absl::NotFoundError(version == 0
                                   ? absl::StrCat("scorecard '", scorecard_id, "' not found")
                                   : absl::StrCat("scorecard '", scorecard_id, "' version ",
                                                  version, " not found"));
  }
  return *std::move(found);
}

absl::StatusOr<std::vector<Scorecard>> MySqlHealthRepository::ListScorecards() {
  std::vector<Scorecard> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, CurrentScorecards(conn));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status MySqlHealthRepository::EnsureDefaultScorecard(absl::Time now) {
  return pool_->InTransaction([&](db::Connection& conn) -> absl::Status {
    ResultSetPtr rs(conn.Prepare("SELECT COUNT(*) FROM scorecards").executeQuery());
    if (rs->next() && rs->getInt64(1) > 0) return absl::OkStatus();
    Scorecard s = DefaultScorecard();
    s.version = 1;
    // IGNORE: replicas starting together may both get here.
    auto& head = conn.Prepare(
        "INSERT IGNORE INTO scorecards (scorecard_id, score_name, current_version, created_at,"
        " updated_at) VALUES (?, ?, 1, ?, ?)");
    head.setString(1, s.scorecard_id);
    head.setString(2, s.score_name);
    head.setString(3, db::ToSqlDatetime(now));
    head.setString(4, db::ToSqlDatetime(now));
    if (head.executeUpdate() == 0) return absl::OkStatus();
    InsertScorecardVersion(conn, s, now);
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------
// Scores

absl::StatusOr<StoredScore> MySqlHealthRepository::GetScore(const std::string& account_id,
                                                            const std::string& score_name) {
  std::optional<StoredScore> found;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(absl::StrCat("SELECT ", kScoreColumns,
                                           " FROM account_scores WHERE account_id = ?"
                                           " AND score_name = ?"));
    stmt.setString(1, account_id);
    stmt.setString(2, score_name);
    ResultSetPtr rs(stmt.executeQuery());
    if (rs->next()) {
      ASSIGN_OR_RETURN(found, ReadScore(*rs));
    }
    return absl::OkStatus();
  }));
  if (!found.has_value()) {
    return absl::NotFoundError(absl::StrCat("account '", account_id, "' has no ", score_name,
                                            " score yet"));
  }
  return *std::move(found);
}

absl::StatusOr<StoredScore> MySqlHealthRepository::GetScoreAsOf(const std::string& account_id,
                                                                const std::string& score_name,
                                                                absl::Time at) {
  std::optional<StoredScore> found;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(absl::StrCat(
        "SELECT ", kScoreColumns,
        " FROM score_history WHERE account_id = ? AND score_name = ? AND computed_at <= ?"
        " ORDER BY computed_at DESC, id DESC LIMIT 1"));
    stmt.setString(1, account_id);
    stmt.setString(2, score_name);
    stmt.setString(3, db::ToSqlDatetime(at));
    ResultSetPtr rs(stmt.executeQuery());
    if (rs->next()) {
      ASSIGN_OR_RETURN(found, ReadScore(*rs));
    }
    return absl::OkStatus();
  }));
  if (!found.has_value()) {
    return absl::NotFoundError(absl::StrCat("account '", account_id, "' had no ", score_name,
                                            " score at ", absl::FormatTime(at)));
  }
  return *std::move(found);
}

// A day's point is the day's last score_history row when the day has one (each
// change of a score writes one), else the day's score_daily row (written by a
// rescore that found the score unchanged). Where a day has both, the history row
// is the newer or holds the same score: a score_daily row repeats the score as it
// stood since the last change before it. Rows written when every rescore wrote
// score_daily too read the same way.
absl::StatusOr<std::vector<HealthPoint>> MySqlHealthRepository::History(
    const std::string& account_id, const std::string& score_name, absl::CivilDay from,
    absl::CivilDay to) {
  std::map<absl::CivilDay, HealthPoint> days;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    // One statement, so both tables are read as of one moment; the day rows first,
    // then the changes oldest first, so each day keeps its last change.
    auto& stmt = conn.Prepare(
        "(SELECT 0 AS src, day, score, band, scorecard_version, NULL AS at, 0 AS id"
        "  FROM score_daily WHERE account_id = ? AND score_name = ? AND day >= ? AND day <= ?)"
        " UNION ALL (SELECT 1, DATE(computed_at), score, band, scorecard_version, computed_at,"
        "  id FROM score_history WHERE account_id = ? AND score_name = ? AND computed_at >= ?"
        "  AND computed_at < ?)"
        " ORDER BY src, at, id");
    stmt.setString(1, account_id);
    stmt.setString(2, score_name);
    stmt.setString(3, DayText(from));
    stmt.setString(4, DayText(to));
    stmt.setString(5, account_id);
    stmt.setString(6, score_name);
    stmt.setString(7, db::ToSqlDatetime(StartOfDay(from)));
    stmt.setString(8, db::ToSqlDatetime(StartOfDay(to + 1)));
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      ASSIGN_OR_RETURN(HealthPoint p, ReadPoint(*rs, 2));
      days[p.day] = p;
    }
    return absl::OkStatus();
  }));
  std::vector<HealthPoint> out;
  out.reserve(days.size());
  for (const auto& [day, p] : days) out.push_back(p);
  return out;
}

absl::StatusOr<std::vector<std::optional<HealthPoint>>> MySqlHealthRepository::PointsOnOrBefore(
    const std::string& account_id, const std::string& score_name,
    const std::vector<absl::CivilDay>& days) {
  std::vector<std::optional<HealthPoint>> out(days.size());
  if (days.empty()) return out;
  // One statement for all the days: GetHealth asks for three on every call. For
  // each, the newest day row and the newest change up to the day's end (see History).
  std::string sql;
  for (size_t i = 0; i < days.size(); ++i) {
    absl::StrAppend(&sql, i == 0 ? "" : " UNION ALL ", "(SELECT ", i,
                    " AS k, 0 AS src, day, score, band, scorecard_version FROM score_daily"
                    " WHERE account_id = ? AND score_name = ? AND day <= ?"
                    " ORDER BY day DESC LIMIT 1) UNION ALL (SELECT ", i,
                    ", 1, DATE(computed_at), score, band, scorecard_version FROM score_history"
                    " WHERE account_id = ? AND score_name = ? AND computed_at < ?"
                    " ORDER BY computed_at DESC, id DESC LIMIT 1)");
  }
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(sql);
    for (size_t i = 0; i < days.size(); ++i) {
      const int p = static_cast<int>(i * 6);
      stmt.setString(p + 1, account_id);
      stmt.setString(p + 2, score_name);
      stmt.setString(p + 3, DayText(days[i]));
      stmt.setString(p + 4, account_id);
      stmt.setString(p + 5, score_name);
      stmt.setString(p + 6, db::ToSqlDatetime(StartOfDay(days[i] + 1)));
    }
    ResultSetPtr rs(stmt.executeQuery());
    std::vector<bool> from_history(days.size(), false);
    while (rs->next()) {
      const int k = rs->getInt(1);
      if (k < 0 || k >= static_cast<int>(days.size())) continue;
      const bool history = rs->getInt(2) == 1;
      ASSIGN_OR_RETURN(HealthPoint p, ReadPoint(*rs, 3));
      std::optional<HealthPoint>& best = out[k];
      // The later day; on the same day, the change.
      if (!best.has_value() || p.day > best->day ||
          (p.day == best->day && history && !from_history[k])) {
        best = p;
        from_history[k] = history;
      }
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<Alert>> MySqlHealthRepository::OpenAlerts(const std::string& account_id,
                                                                     absl::Time at) {
  std::vector<Alert> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(absl::StrCat(
        "SELECT ", kAlertColumns,
        " FROM alerts WHERE account_id = ? AND opened_at <= ?"
        " AND (resolved_at IS NULL OR resolved_at > ?) ORDER BY alert_id"));
    stmt.setString(1, account_id);
    stmt.setString(2, db::ToSqlDatetime(at));
    stmt.setString(3, db::ToSqlDatetime(at));
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      ASSIGN_OR_RETURN(Alert a, ReadAlert(*rs));
      out.push_back(std::move(a));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<AlertPage> MySqlHealthRepository::ListAlerts(const AlertQuery& q) {
  AlertPage page;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(absl::StrCat(
        "SELECT ", kAlertColumns,
        " FROM alerts WHERE (? = '' OR account_id = ?) AND (? = '' OR kind = ?)"
        " AND (? = 0 OR open_flag = 1) AND (? = 0 OR alert_id < ?)"
        " ORDER BY alert_id DESC LIMIT ?"));
    const std::string kind = q.kind ? std::string(AlertKindName(*q.kind)) : "";
    stmt.setString(1, q.account_id);
    stmt.setString(2, q.account_id);
    stmt.setString(3, kind);
    stmt.setString(4, kind);
    stmt.setInt(5, q.open_only ? 1 : 0);
    stmt.setInt64(6, q.before_id);
    stmt.setInt64(7, q.before_id);
    stmt.setInt(8, q.limit + 1);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      if (static_cast<int>(page.alerts.size()) == q.limit) {
        page.next_before_id = page.alerts.back().id;
        break;
      }
      ASSIGN_OR_RETURN(Alert a, ReadAlert(*rs));
      page.alerts.push_back(std::move(a));
    }
    return absl::OkStatus();
  }));
  return page;
}

absl::StatusOr<std::vector<std::pair<SignalKind, int64_t>>> MySqlHealthRepository::CountSignals(
    const std::string& account_id, absl::Time from, absl::Time to) {
  std::vector<std::pair<SignalKind, int64_t>> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(
        "SELECT signals FROM signal_log WHERE account_id = ? AND month >= ? AND month <= ?");
    stmt.setString(1, account_id);
    stmt.setString(2, MonthText(absl::CivilMonth(DayOf(from))));
    stmt.setString(3, MonthText(absl::CivilMonth(DayOf(to))));
    ResultSetPtr rs(stmt.executeQuery());
    std::map<SignalKind, int64_t> counts;
    while (rs->next()) {
      RETURN_IF_ERROR(ForEachLoggedSignal(Str(*rs, 1), [&](const Signal& s) {
        if (s.occurred_at >= from && s.occurred_at <= to) ++counts[s.kind];
      }));
    }
    out.assign(counts.begin(), counts.end());
    // By kind name, as the explanation lists them.
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return SignalKindName(a.first) < SignalKindName(b.first);
    });
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<AtRiskPage> MySqlHealthRepository::ListAtRisk(const AtRiskQuery& q) {
  // Position tokens: "<score or arr>|<account_id>" of the last row of the page.
  double after_value = 0;
  std::string after_id;
  const bool first_page = q.after.empty();
  if (!first_page) {
    std::pair<std::string, std::string> parts = absl::StrSplit(q.after, absl::MaxSplits('|', 1));
    if (!absl::SimpleAtod(parts.first, &after_value)) {
      return absl::InvalidArgumentError("page.page_token: not a token of this list");
    }
    after_id = parts.second;
  }
  std::vector<Band> bands = q.bands;
  if (bands.empty()) bands = {Band::kRed, Band::kYellow};
  while (bands.size() < 3) bands.push_back(bands.front());
  AtRiskPage page;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    const std::string order =
        q.by_arr ? " AND (? = 1 OR a.arr_minor < ? OR (a.arr_minor = ? AND a.account_id > ?))"
                   " ORDER BY a.arr_minor DESC, a.account_id LIMIT ?"
                 : " AND (? = 1 OR s.score > ? OR (s.score = ? AND a.account_id > ?))"
                   " ORDER BY s.score, a.account_id LIMIT ?";
    auto& stmt = conn.Prepare(absl::StrCat(
        "SELECT a.account_id, s.score, s.band, s.computed_at, a.arr_minor FROM account_scores s"
        " JOIN accounts a ON a.account_id = s.account_id"
        " WHERE s.score_name = ? AND s.band IN (?, ?, ?) AND a.lifecycle <> 'CHURNED'"
        " AND (? = '' OR a.tier = ?)",
        order));
    const std::string tier = q.tier ? std::string(TierName(*q.tier)) : "";
    int i = 1;
    stmt.setString(i++, q.score_name);
    for (int b = 0; b < 3; ++b) stmt.setString(i++, std::string(BandName(bands[b])));
    stmt.setString(i++, tier);
    stmt.setString(i++, tier);
    stmt.setInt(i++, first_page ? 1 : 0);
    if (q.by_arr) {
      stmt.setInt64(i++, static_cast<int64_t>(after_value));
      stmt.setInt64(i++, static_cast<int64_t>(after_value));
    } else {
      stmt.setDouble(i++, after_value);
      stmt.setDouble(i++, after_value);
    }
    stmt.setString(i++, after_id);
    stmt.setInt(i++, q.limit + 1);
    std::vector<std::pair<std::string, AtRiskEntry>> rows;
    {
      ResultSetPtr rs(stmt.executeQuery());
      while (rs->next()) {
        if (static_cast<int>(rows.size()) == q.limit) {
          const AtRiskEntry& last = rows.back().second;
          page.next_after = absl::StrCat(
              q.by_arr ? absl::StrCat(last.account.arr.minor_units)
                       : absl::StrFormat("%.17g", last.score),
              "|", last.account.account_id);
          break;
        }
        AtRiskEntry e;
        e.account.account_id = Str(*rs, 1);
        e.score = rs->getDouble(2);
        e.band = ReadBand(*rs, 3);
        ASSIGN_OR_RETURN(e.computed_at, db::FromSqlDatetime(Str(*rs, 4)));
        e.account.arr.minor_units = rs->getInt64(5);
        rows.emplace_back(e.account.account_id, std::move(e));
      }
    }
    for (auto& [id, e] : rows) {
      ASSIGN_OR_RETURN(std::optional<Account> account, FindAccount(conn, id, false));
      if (!account.has_value()) continue;
      e.account = *std::move(account);
      page.entries.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  return page;
}

absl::StatusOr<PortfolioSummary> MySqlHealthRepository::Portfolio(const std::string& score_name,
                                                                  absl::Time period_start) {
  PortfolioSummary out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    std::map<Tier, BandDistribution> tiers;
    double total_score = 0;
    std::map<Tier, double> tier_score;
    {
      auto& stmt = conn.Prepare(
          "SELECT a.tier, s.band, COUNT(*), SUM(s.score) FROM account_scores s"
          " JOIN accounts a ON a.account_id = s.account_id"
          " WHERE s.score_name = ? AND a.lifecycle <> 'CHURNED' GROUP BY a.tier, s.band");
      stmt.setString(1, score_name);
      ResultSetPtr rs(stmt.executeQuery());
      while (rs->next()) {
        const Tier tier = TierFromName(Str(*rs, 1)).value_or(Tier::kUnspecified);
        const Band band = ReadBand(*rs, 2);
        const int64_t n = rs->getInt64(3);
        const double sum = rs->getDouble(4);
        for (BandDistribution* d : {&out.overall, &tiers[tier]}) {
          d->accounts += n;
          if (band == Band::kGreen) d->green += n;
          if (band == Band::kYellow) d->yellow += n;
          if (band == Band::kRed) d->red += n;
        }
        total_score += sum;
        tier_score[tier] += sum;
      }
    }
    if (out.overall.accounts > 0) out.overall.average_score = total_score / out.overall.accounts;
    for (Tier t : {Tier::kEnterprise, Tier::kMidMarket, Tier::kSmb, Tier::kSolo}) {
      BandDistribution d = tiers[t];
      d.tier = t;
      if (d.accounts > 0) d.average_score = tier_score[t] / d.accounts;
      out.by_tier.push_back(d);
    }
    // The band each account had at the start of the period: its newest change before then.
    auto& stmt = conn.Prepare(
        "SELECT h.band, s.band, COUNT(*) FROM account_scores s"
        " JOIN accounts a ON a.account_id = s.account_id"
        " JOIN score_history h ON h.id = (SELECT h2.id FROM score_history h2"
        "   WHERE h2.account_id = s.account_id AND h2.score_name = s.score_name"
        "   AND h2.computed_at <= ? ORDER BY h2.computed_at DESC, h2.id DESC LIMIT 1)"
        " WHERE s.score_name = ? AND a.lifecycle <> 'CHURNED' AND h.band <> s.band"
        " GROUP BY h.band, s.band ORDER BY h.band, s.band");
    stmt.setString(1, db::ToSqlDatetime(period_start));
    stmt.setString(2, score_name);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      BandMovement m;
      m.from = ReadBand(*rs, 1);
      m.to = ReadBand(*rs, 2);
      m.accounts = rs->getInt64(3);
      out.movements.push_back(m);
    }
    return absl::OkStatus();
  }));
  return out;
}

// The portfolio index's reads. computed_at travels as microseconds since the epoch
// (no DATETIME text to parse for a million rows).
constexpr char kMicrosOf[] = "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', ";
// Rows per statement of a whole-table scan.
constexpr int kScanPage = 50000;

absl::Status MySqlHealthRepository::ScanPortfolioAccounts(
    const std::string& score_name, const std::vector<std::string>* account_ids,
    const std::function<bool(PortfolioAccount&&)>& fn) {
  constexpr char kSelect[] =
      "SELECT a.account_id, a.tier, a.lifecycle, s.score, s.band FROM accounts a"
      " LEFT JOIN account_scores s ON s.account_id = a.account_id AND s.score_name = ?";
  bool stopped = false;
  auto read = [&](sql::PreparedStatement& stmt,
                  const std::function<void(const PortfolioAccount&)>& seen) {
    ResultSetPtr rs(stmt.executeQuery());
    while (!stopped && rs->next()) {
      PortfolioAccount a;
      a.account_id = Str(*rs, 1);
      a.tier = TierFromName(Str(*rs, 2)).value_or(Tier::kUnspecified);
      a.churned = LifecycleFromName(Str(*rs, 3)) == Lifecycle::kChurned;
      a.scored = !rs->isNull(4);
      if (a.scored) {
        a.score = rs->getDouble(4);
        a.band = ReadBand(*rs, 5);
      }
      if (seen) seen(a);
      stopped = !fn(std::move(a));
    }
  };
  const absl::Status cancelled = absl::CancelledError("portfolio scan stopped");
  return pool_->Run([&](db::Connection& conn) -> absl::Status {
    if (account_ids == nullptr) {
      // In pages by account id: the client holds one page of the result at a time.
      auto& stmt = conn.Prepare(absl::StrCat(kSelect, " WHERE a.account_id > ?"
                                                      " ORDER BY a.account_id LIMIT ?"));
      std::string after;
      for (;;) {
        stmt.setString(1, score_name);
        stmt.setString(2, after);
        stmt.setInt(3, kScanPage);
        int rows = 0;
        read(stmt, [&](const PortfolioAccount& a) {
          ++rows;
          after = a.account_id;
        });
        if (stopped) return cancelled;
        if (rows < kScanPage) return absl::OkStatus();
      }
    }
    db::ForEachChunk(account_ids->size(), [&](size_t offset, size_t count) {
      auto& stmt = conn.Prepare(absl::StrCat(kSelect, " WHERE a.account_id IN ",
                                             db::RowPlaceholders(1, count)));
      stmt.setString(1, score_name);
      for (size_t i = 0; i < count; ++i) {
        stmt.setString(static_cast<int>(i + 2), (*account_ids)[offset + i]);
      }
      if (!stopped) read(stmt, nullptr);
    });
    return stopped ? cancelled : absl::OkStatus();
  });
}

absl::Status MySqlHealthRepository::ScanBandPoints(const std::string& score_name,
                                                   const std::vector<std::string>* account_ids,
                                                   int64_t from_us, bool with_earlier,
                                                   const std::function<bool(BandPoint&&)>& fn) {
  const std::string from = db::ToSqlDatetime(absl::FromUnixMicros(from_us));
  int64_t last_id = 0;
  bool stopped = false;
  auto read = [&](sql::PreparedStatement& stmt) {
    ResultSetPtr rs(stmt.executeQuery());
    int rows = 0;
    while (!stopped && rs->next()) {
      BandPoint p;
      p.account_id = Str(*rs, 1);
      p.at_us = rs->getInt64(2);
      p.history_id = rs->getInt64(3);
      p.band = ReadBand(*rs, 4);
      last_id = p.history_id;
      ++rows;
      stopped = !fn(std::move(p));
    }
    return rows;
  };
  const absl::Status cancelled = absl::CancelledError("portfolio scan stopped");
  const std::string since = absl::StrCat(
      "SELECT h.account_id, ", kMicrosOf, "h.computed_at), h.id, h.band FROM score_history h"
      " WHERE h.score_name = ? AND h.computed_at >= ?");
  // Each account's newest row before `from` (ties on computed_at: every such row; the
  // index orders them by id).
  const std::string earlier = absl::StrCat(
      "SELECT h.account_id, ", kMicrosOf, "h.computed_at), h.id, h.band FROM score_history h"
      " JOIN (SELECT account_id, MAX(computed_at) AS newest FROM score_history"
      "  WHERE score_name = ? AND computed_at < ?");
  return pool_->Run([&](db::Connection& conn) -> absl::Status {
    if (account_ids == nullptr) {
      // In pages by row id, for the same reason as the accounts.
      auto& stmt = conn.Prepare(absl::StrCat(since, " AND h.id > ? ORDER BY h.id LIMIT ?"));
      for (;;) {
        stmt.setString(1, score_name);
        stmt.setString(2, from);
        stmt.setInt64(3, last_id);
        stmt.setInt(4, kScanPage);
        if (read(stmt) < kScanPage || stopped) break;
      }
      if (with_earlier && !stopped) {
        auto& before = conn.Prepare(absl::StrCat(
            earlier, " GROUP BY account_id) x ON h.account_id = x.account_id"
                     " AND h.score_name = ? AND h.computed_at = x.newest"));
        before.setString(1, score_name);
        before.setString(2, from);
        before.setString(3, score_name);
        read(before);
      }
      return stopped ? cancelled : absl::OkStatus();
    }
    db::ForEachChunk(account_ids->size(), [&](size_t offset, size_t count) {
      if (stopped) return;
      auto bind_ids = [&](sql::PreparedStatement& stmt, int first) {
        for (size_t i = 0; i < count; ++i) {
          stmt.setString(first + static_cast<int>(i), (*account_ids)[offset + i]);
        }
      };
      auto& stmt = conn.Prepare(
          absl::StrCat(since, " AND h.account_id IN ", db::RowPlaceholders(1, count)));
      stmt.setString(1, score_name);
      stmt.setString(2, from);
      bind_ids(stmt, 3);
      read(stmt);
      if (with_earlier) {
        auto& before = conn.Prepare(absl::StrCat(
            earlier, " AND account_id IN ", db::RowPlaceholders(1, count),
            " GROUP BY account_id) x ON h.account_id = x.account_id"
            " AND h.score_name = ? AND h.computed_at = x.newest"));
        before.setString(1, score_name);
        before.setString(2, from);
        bind_ids(before, 3);
        before.setString(static_cast<int>(count) + 3, score_name);
        if (!stopped) read(before);
      }
    });
    return stopped ? cancelled : absl::OkStatus();
  });
}

absl::StatusOr<HealthRepository::HistoryTail> MySqlHealthRepository::ScoreHistoryAfter(
    const std::string& score_name, int64_t after_id, int limit) {
  HistoryTail out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(
        "SELECT id, account_id FROM score_history WHERE id > ? AND score_name = ?"
        " ORDER BY id LIMIT ?");
    stmt.setInt64(1, after_id);
    stmt.setString(2, score_name);
    stmt.setInt(3, limit);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) out.rows.emplace_back(rs->getInt64(1), Str(*rs, 2));
    ResultSetPtr max(conn.Prepare("SELECT COALESCE(MAX(id), 0) FROM score_history").executeQuery());
    if (max->next()) out.max_id = max->getInt64(1);
    return absl::OkStatus();
  }));
  return out;
}

// ---------------------------------------------------------------------------
// Overrides and settings

absl::StatusOr<Override> MySqlHealthRepository::AddOverride(const db::WriteKey& key,
                                                            const db::ResultCodec<Override>& codec,
                                                            const Override& o) {
  return db::RunIdempotent<Override>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<Override> {
        ASSIGN_OR_RETURN(std::optional<Account> account, FindAccount(conn, o.account_id, false));
        if (!account.has_value()) {
          return absl::NotFoundError(absl::StrCat("account '", o.account_id, "' not found"));
        }
        auto& stmt = conn.Prepare(absl::StrCat("INSERT INTO score_overrides (", kOverrideColumns,
                                               ") VALUES (?, ?, ?, ?, ?, ?, ?)"));
        stmt.setString(1, o.account_id);
        stmt.setString(2, o.score_name);
        stmt.setDouble(3, o.score);
        stmt.setString(4, o.reason);
        stmt.setString(5, o.set_by);
        stmt.setString(6, db::ToSqlDatetime(o.set_at));
        stmt.setString(7, db::ToSqlDatetime(o.expires_at));
        stmt.executeUpdate();
        return o;
      });
}

absl::StatusOr<std::optional<Override>> MySqlHealthRepository::ActiveOverride(
    const std::string& account_id, const std::string& score_name, absl::Time at) {
  std::optional<Override> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(absl::StrCat(
        "SELECT ", kOverrideColumns,
        " FROM score_overrides WHERE account_id = ? AND score_name = ? AND set_at <= ?"
        " AND expires_at > ? ORDER BY override_id DESC LIMIT 1"));
    stmt.setString(1, account_id);
    stmt.setString(2, score_name);
    stmt.setString(3, db::ToSqlDatetime(at));
    stmt.setString(4, db::ToSqlDatetime(at));
    ResultSetPtr rs(stmt.executeQuery());
    if (rs->next()) {
      ASSIGN_OR_RETURN(out, ReadOverride(*rs));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<Override>> MySqlHealthRepository::ListOverrides(
    const std::string& account_id) {
  std::vector<Override> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(absl::StrCat("SELECT ", kOverrideColumns,
                                           " FROM score_overrides WHERE account_id = ?"
                                           " ORDER BY override_id DESC LIMIT 1000"));
    stmt.setString(1, account_id);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      ASSIGN_OR_RETURN(Override o, ReadOverride(*rs));
      out.push_back(std::move(o));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<AlertSettings> MySqlHealthRepository::GetAlertSettings() {
  AlertSettings out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, LoadSettings(conn));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<AlertSettings> MySqlHealthRepository::SetAlertSettings(
    const db::WriteKey& key, const db::ResultCodec<AlertSettings>& codec,
    const AlertSettings& s, absl::Time now) {
  return db::RunIdempotent<AlertSettings>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<AlertSettings> {
        auto& stmt = conn.Prepare(
            "UPDATE alert_settings SET period_days = ?, usage_decline_pct = ?,"
            " engagement_drop_pct = ?, ticket_increase_pct = ?, communication_drop_pct = ?,"
            " score_threshold = ?, min_baseline = ?, updated_at = ? WHERE id = 1");
        stmt.setInt(1, s.period_days);
        stmt.setDouble(2, s.usage_decline_pct);
        stmt.setDouble(3, s.engagement_drop_pct);
        stmt.setDouble(4, s.ticket_increase_pct);
        stmt.setDouble(5, s.communication_drop_pct);
        stmt.setDouble(6, s.score_threshold);
        stmt.setDouble(7, s.min_baseline);
        stmt.setString(8, db::ToSqlDatetime(now));
        stmt.executeUpdate();
        AlertSettings out = s;
        out.updated_at = now;
        return out;
      });
}

// ---------------------------------------------------------------------------
// Histories and churn models

absl::Status MySqlHealthRepository::ForEachAccountHistory(
    absl::CivilDay from, absl::CivilDay to,
    const std::function<absl::Status(const AccountHistory&)>& visit) {
  constexpr int kBatch = 200;
  std::string cursor;
  for (;;) {
    std::vector<AccountHistory> batch;
    RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
      ASSIGN_OR_RETURN(std::vector<Account> accounts, AccountsAfter(conn, cursor, kBatch));
      if (accounts.empty()) return absl::OkStatus();
      // One range read of the batch's counters instead of one query per account.
      std::map<std::string, CounterWindow> windows;
      {
        auto& stmt = conn.Prepare(absl::StrCat(
            "SELECT account_id, ", kCounterMonth, " FROM signal_counters",
            " WHERE account_id >= ? AND account_id <= ? AND month >= ? AND month <= ?"));
        stmt.setString(1, accounts.front().account_id);
        stmt.setString(2, accounts.back().account_id);
        stmt.setString(3, MonthText(absl::CivilMonth(from)));
        stmt.setString(4, MonthText(absl::CivilMonth(to)));
        ResultSetPtr rs(stmt.executeQuery());
        while (rs->next()) {
          RETURN_IF_ERROR(ReadPackedCounters(*rs, 2, from, to, windows[Str(*rs, 1)]));
        }
      }
      for (Account& a : accounts) {
        AccountHistory h;
        h.counters = std::move(windows[a.account_id]);
        h.counters.Seal();
        ASSIGN_OR_RETURN(h.first_signal_day, FirstSignalDay(conn, a.account_id));
        h.account = std::move(a);
        batch.push_back(std::move(h));
      }
      return absl::OkStatus();
    }));
    for (const AccountHistory& h : batch) RETURN_IF_ERROR(visit(h));
    if (static_cast<int>(batch.size()) < kBatch) return absl::OkStatus();
    cursor = batch.back().account.account_id;
  }
}

absl::StatusOr<AccountHistory> MySqlHealthRepository::AccountHistoryOf(
    const std::string& account_id, absl::CivilDay from, absl::CivilDay to) {
  std::optional<AccountHistory> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<Account> account, FindAccount(conn, account_id, false));
    if (!account.has_value()) return absl::OkStatus();
    AccountHistory h;
    h.account = *std::move(account);
    ASSIGN_OR_RETURN(h.counters, ReadCounters(conn, account_id, from, to));
    ASSIGN_OR_RETURN(h.first_signal_day, FirstSignalDay(conn, account_id));
    out = std::move(h);
    return absl::OkStatus();
  }));
  if (!out.has_value()) {
    return absl::NotFoundError(absl::StrCat("account '", account_id, "' not found"));
  }
  return *std::move(out);
}

absl::StatusOr<std::optional<StoredChurnModel>> MySqlHealthRepository::StoredTrainAnswer(
    const db::WriteKey& key, const db::ResultCodec<StoredChurnModel>& codec) {
  if (key.request_id.empty()) return std::optional<StoredChurnModel>();
  return pool_->Transact<std::optional<StoredChurnModel>>(
      [&](db::Connection& conn) -> absl::StatusOr<std::optional<StoredChurnModel>> {
        ASSIGN_OR_RETURN(std::optional<std::string> stored, db::FindStoredResponse(conn, key));
        if (!stored.has_value()) return std::optional<StoredChurnModel>();
        ASSIGN_OR_RETURN(StoredChurnModel m, codec.decode(*stored));
        return std::optional<StoredChurnModel>(std::move(m));
      });
}

absl::StatusOr<StoredChurnModel> MySqlHealthRepository::StoreChurnModel(
    const db::WriteKey& key, const db::ResultCodec<StoredChurnModel>& codec,
    const StoredChurnModel& model) {
  return db::RunIdempotent<StoredChurnModel>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<StoredChurnModel> {
        const ChurnModel& m = model.model;
        auto& stmt = conn.Prepare(
            "INSERT INTO churn_models (trained_at, cutoff, horizon_days, lookback_days,"
            " holdout_fraction, seed, train_size, holdout_size, positives, auc_holdout, model)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        stmt.setString(1, db::ToSqlDatetime(model.trained_at));
        stmt.setString(2, DayText(model.cutoff));
        stmt.setInt(3, model.horizon_days);
        stmt.setInt(4, model.lookback_days);
        stmt.setDouble(5, model.holdout_fraction);
        stmt.setUInt64(6, model.seed);
        stmt.setInt(7, m.train_size);
        stmt.setInt(8, m.holdout_size);
        stmt.setInt(9, m.positives);
        // NULL, not NaN: the column is for reading by people and reports.
        if (std::isnan(m.auc_holdout)) {
          stmt.setNull(10, sql::DataType::DOUBLE);
        } else {
          stmt.setDouble(10, m.auc_holdout);
        }
        stmt.setString(11, EncodeChurnModel(m));
        stmt.executeUpdate();
        StoredChurnModel out = model;
        ResultSetPtr rs(conn.Prepare("SELECT LAST_INSERT_ID()").executeQuery());
        if (rs->next()) out.model_id = rs->getInt64(1);
        return out;
      });
}

absl::StatusOr<std::optional<StoredChurnModel>> MySqlHealthRepository::FindChurnModel(
    int64_t model_id, absl::Time at) {
  std::optional<StoredChurnModel> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(absl::StrCat(
        "SELECT ", kChurnModelColumns,
        " FROM churn_models WHERE (? = 0 AND trained_at <= ?) OR model_id = ?"
        " ORDER BY model_id DESC LIMIT 1"));
    stmt.setInt64(1, model_id);
    stmt.setString(2, db::ToSqlDatetime(at));
    stmt.setInt64(3, model_id);
    ResultSetPtr rs(stmt.executeQuery());
    if (rs->next()) {
      ASSIGN_OR_RETURN(out, ReadChurnModel(*rs));
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace cs::health

namespace cs::health {

absl::StatusOr<std::set<std::string>> MySqlHealthRepository::RegulatedAccountsIn(
    const std::vector<std::string>& account_ids) {
  return db::RegulatedAccountsIn(*pool_, account_ids);
}

absl::Status MySqlHealthRepository::ForEachRegulatedAccount(
    const std::function<void(const std::string&)>& fn) {
  return db::ForEachRegulatedAccount(*pool_, fn);
}

absl::StatusOr<HealthRepository::Changes> MySqlHealthRepository::ChangedAccounts(
    ChangeCursor& cursor, int limit) {
  // How far back the override tail looks again for rows that committed late.
  constexpr int64_t kOverrideWindow = 256;
  Changes out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    if (cursor.event_sequence < 0) {
      ResultSetPtr rs(conn.Prepare("SELECT COALESCE(MAX(last_sequence), 0) FROM event_log_head")
                          .executeQuery());
      cursor.event_sequence = rs->next() ? rs->getInt64(1) : 0;
    } else {
      // Sequences are claimed under the head row lock held to commit, so they
      // become visible in order and nothing appears behind the cursor.
      auto& stmt = conn.Prepare(
          "SELECT sequence, subject_id, kind FROM event_log WHERE sequence > ? ORDER BY sequence"
          " LIMIT ?");
      stmt.setInt64(1, cursor.event_sequence);
      stmt.setInt(2, limit + 1);
      ResultSetPtr rs(stmt.executeQuery());
      int rows = 0;
      while (rs->next()) {
        if (++rows > limit) {
          out.everything = true;
          break;
        }
        cursor.event_sequence = rs->getInt64(1);
        out.accounts.push_back(Str(*rs, 2));
        if (Str(*rs, 3) == EventKindName(EventKind::kAccountUpserted)) {
          out.records.push_back(out.accounts.back());
        }
      }
      if (out.everything) {
        ResultSetPtr head(conn.Prepare("SELECT COALESCE(MAX(last_sequence), 0) FROM event_log_head")
                              .executeQuery());
        if (head->next()) cursor.event_sequence = std::max(cursor.event_sequence, head->getInt64(1));
      }
    }
    if (cursor.override_id < 0) {
      ResultSetPtr rs(conn.Prepare("SELECT COALESCE(MAX(override_id), 0) FROM score_overrides")
                          .executeQuery());
      cursor.override_id = rs->next() ? rs->getInt64(1) : 0;
      return absl::OkStatus();
    }
    auto& stmt = conn.Prepare(
        "SELECT override_id, account_id FROM score_overrides WHERE override_id > ?"
        " ORDER BY override_id LIMIT ?");
    stmt.setInt64(1, std::max<int64_t>(0, cursor.override_id - kOverrideWindow));
    stmt.setInt(2, limit + static_cast<int>(kOverrideWindow));
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      const int64_t id = rs->getInt64(1);
      if (!cursor.recent_overrides.insert(id).second) continue;
      cursor.override_id = std::max(cursor.override_id, id);
      out.accounts.push_back(Str(*rs, 2));
    }
    while (!cursor.recent_overrides.empty() &&
           *cursor.recent_overrides.begin() <= cursor.override_id - kOverrideWindow) {
      cursor.recent_overrides.erase(cursor.recent_overrides.begin());
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace cs::health
