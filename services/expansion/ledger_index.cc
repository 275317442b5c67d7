#include "services/expansion/ledger_index.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <functional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/db/sql_values.h"
#include "common/log.h"
#include "common/status.h"

namespace cs::expansion {
namespace {

// Movement kinds as LoadPeriods's SQL tells them apart; anything else only moves
// the MRR before and through the period.
enum KindCode : uint8_t {
  kOther = 0,
  kNewCode = 1,
  kExpansionCode = 2,
  kReactivationCode = 3,
  kContractionCode = 4,
  kChurnCode = 5,
};

// What MariaDB's '=' compares under utf8mb4_bin (PAD SPACE): trailing spaces do not
// count.
absl::string_view Padless(absl::string_view s) {
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

uint8_t KindCodeOf(absl::string_view stored) {
  const absl::string_view k = Padless(stored);
  if (k == "NEW") return kNewCode;
  if (k == "EXPANSION") return kExpansionCode;
  if (k == "REACTIVATION") return kReactivationCode;
  if (k == "CONTRACTION") return kContractionCode;
  if (k == "CHURN") return kChurnCode;
  return kOther;
}

int32_t DaysSinceEpoch(absl::CivilDay day) {
  return static_cast<int32_t>(day - absl::CivilDay(1970, 1, 1));
}

// DATEDIFF(month, '1970-01-01'); a NULL (no valid date) sorts before every date.
constexpr int32_t kNoDay = -1000000;

int32_t ReadDay(sql::ResultSet& rs, int index) {
  return rs.isNull(index) ? kNoDay : static_cast<int32_t>(rs.getInt(index));
}

int32_t CellKey(int32_t day, uint8_t kind) { return day * 8 + kind; }

// A refresh that applied this many rows (a load) compacts the index afterwards.
constexpr int64_t kCompactAfterRows = 100000;

bool IsInFlight(const sql::SQLException& e) {
  // NOWAIT on a locked row: ER_LOCK_WAIT_TIMEOUT in MariaDB (ER_LOCK_NOWAIT in MySQL).
  return e.getErrorCode() == 1205 || e.getErrorCode() == 3572;
}

// Runs `fn` in a read-only transaction with one consistent snapshot: every statement
// sees the same committed rows (the pool's sessions read committed per statement).
absl::Status InSnapshot(db::Pool& pool, const std::function<absl::Status(db::Connection&)>& fn) {
  return pool.Run([&](db::Connection& conn) -> absl::Status {
    conn.Execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
    absl::Status s;
    try {
      s = fn(conn);
    } catch (const sql::SQLException&) {
      try {
        conn.Execute("ROLLBACK");
      } catch (const sql::SQLException&) {
        conn.MarkBroken();
      }
      throw;
    }
    conn.Execute(s.ok() ? "COMMIT" : "ROLLBACK");
    return s;
  });
}

}  // namespace

bool IdGaps::Seen(int64_t id) const {
  if (id > high_ || id <= 0) return false;
  auto it = gaps_.upper_bound(id);
  if (it == gaps_.begin()) return true;
  --it;
  return id > it->second.last;
}

void IdGaps::Advance(int64_t id, absl::Time now) {
  if (id <= high_) return;
  if (id > high_ + 1) gaps_[high_ + 1] = Gap{id - 1, now};
  high_ = id;
}

void IdGaps::Fill(int64_t id) { FillRange(id, id); }

void IdGaps::FillRange(int64_t first, int64_t last) {
  auto it = gaps_.upper_bound(first);
  if (it != gaps_.begin()) --it;
  while (it != gaps_.end() && it->first <= last) {
    const int64_t lo = it->first;
    const Gap gap = it->second;
    if (gap.last < first) {
      ++it;
      continue;
    }
    it = gaps_.erase(it);
    if (lo < first) gaps_[lo] = Gap{first - 1, gap.noticed};
    if (gap.last > last) {
      gaps_[last + 1] = Gap{gap.last, gap.noticed};
      break;
    }
  }
}

size_t IdGaps::gap_ids() const {
  size_t n = 0;
  for (const auto& [first, gap] : gaps_) n += static_cast<size_t>(gap.last - first + 1);
  return n;
}

LedgerIndex::LedgerIndex(db::Pool* pool, LedgerIndexOptions options)
    : pool_(pool), options_(options) {}

LedgerIndex::~LedgerIndex() { Stop(); }

uint16_t LedgerIndex::CurrencyCode(const std::string& currency) {
  const absl::string_view code = Padless(currency);
  for (size_t i = 0; i < currencies_.size(); ++i) {
    if (currencies_[i] == code) return static_cast<uint16_t>(i + 1);
  }
  currencies_.emplace_back(code);
  return static_cast<uint16_t>(currencies_.size());
}

void LedgerIndex::SetTier(Account& a, const std::string& stored) {
  a.tier = static_cast<uint8_t>(TierFromName(stored).value_or(Tier::kUnspecified));
  a.tier_match = 0;
  const absl::string_view padless = Padless(stored);
  for (Tier t : {Tier::kEnterprise, Tier::kMidMarket, Tier::kSmb, Tier::kSolo}) {
    if (padless == TierName(t)) a.tier_match = static_cast<uint8_t>(t);
  }
}

uint32_t LedgerIndex::AccountFor(const std::string& account_id) {
  const absl::string_view key = Padless(account_id);
  auto it = by_id_.find(key);
  if (it != by_id_.end()) return it->second;
  ids_.emplace_back(key);
  const uint32_t index = static_cast<uint32_t>(accounts_.size());
  accounts_.emplace_back();
  SetTier(accounts_.back(), "UNSPECIFIED");  // LEFT JOIN without a profile
  by_id_.emplace(absl::string_view(ids_.back()), index);
  return index;
}

void LedgerIndex::AddToCell(Account& a, int32_t key, int64_t amount, int32_t count) {
  auto it = std::lower_bound(a.cells.begin(), a.cells.end(), key,
                             [](const Cell& c, int32_t k) { return c.key < k; });
  if (it == a.cells.end() || it->key != key) {
    it = a.cells.insert(it, Cell{0, key, 0});
    ++cells_;
  }
  if (__builtin_add_overflow(it->sum, amount, &it->sum)) overflow_ = true;
  it->count += count;
  if (it->count == 0 && it->sum == 0) {
    a.cells.erase(it);
    --cells_;
  }
}

void LedgerIndex::ApplyMovements(std::vector<MovementRow>& rows) {
  applied_in_refresh_ += static_cast<int64_t>(rows.size());
  absl::MutexLock lock(&mu_);
  for (MovementRow& r : rows) {
    const size_t before = accounts_.size();
    const uint32_t index = AccountFor(r.account_id);
    if (accounts_.size() != before) fresh_accounts_.insert(index);
    AddToCell(accounts_[index], CellKey(r.day, r.kind), r.amount, 1);
    ++movements_;
  }
}

// A table tailed by its AUTO_INCREMENT id (selected first): the rows of its gaps
// read again, then the rows past the high-water mark in pages. A load of millions of
// rows stops between pages on shutdown.
template <typename Row>
absl::Status LedgerIndex::TailTable(
    db::Connection& conn, IdGaps& ids, const char* gap_sql, const char* tail_sql,
    const std::function<void(sql::ResultSet&, std::vector<Row>&)>& read,
    const std::function<void(std::vector<Row>&)>& apply) {
  const absl::Time now = absl::Now();
  std::vector<std::pair<int64_t, int64_t>> gaps;
  for (const auto& [first, gap] : ids.gaps()) gaps.emplace_back(first, gap.last);
  for (const auto& [first, last] : gaps) {
    auto& stmt = conn.Prepare(gap_sql);
    stmt.setInt64(1, first);
    stmt.setInt64(2, last);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    std::vector<Row> rows;
    read(*rs, rows);
    if (rows.empty()) continue;
    apply(rows);
    for (const Row& r : rows) ids.Fill(r.id);
  }
  while (true) {
    auto& stmt = conn.Prepare(tail_sql);
    stmt.setInt64(1, ids.high());
    stmt.setInt(2, options_.page_rows);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    std::vector<Row> rows;
    read(*rs, rows);
    if (!rows.empty()) {
      apply(rows);
      for (const Row& r : rows) ids.Advance(r.id, now);
    }
    if (static_cast<int>(rows.size()) < options_.page_rows) break;
    if (background_ && stopping_flag_.load()) {
      return absl::CancelledError("ledger index stopping");
    }
  }
  return absl::OkStatus();
}

absl::Status LedgerIndex::ReadChanges(db::Connection& conn) {
  // Every change visible in this snapshot is taken in before any movement is read
  // (see Step), so a movement read in an earlier refresh never shows a change that
  // is applied to it again.
  auto read = [&](sql::ResultSet& rs, std::vector<ChangeRow>& out) {
    while (rs.next()) {
      ChangeRow c;
      c.id = rs.getInt64(1);
      c.account_id = rs.getString(2);
      c.movement_id = rs.isNull(3) ? 0 : rs.getInt64(3);
      c.day = ReadDay(rs, 4);
      c.old_kind = rs.isNull(5) ? uint8_t{kOther} : KindCodeOf(std::string(rs.getString(5)));
      c.old_amount = rs.isNull(6) ? 0 : rs.getInt64(6);
      c.removed = rs.isNull(7);
      c.new_kind = c.removed ? uint8_t{kOther} : KindCodeOf(std::string(rs.getString(7)));
      c.new_amount = rs.isNull(8) ? 0 : rs.getInt64(8);
      out.push_back(std::move(c));
    }
  };
  auto apply = [&](std::vector<ChangeRow>& rows) {
    if (rows.empty()) return;
    absl::MutexLock lock(&mu_);
    for (const ChangeRow& c : rows) {
      auto it = by_id_.find(Padless(c.account_id));
      if (it == by_id_.end()) continue;  // read whole when its first movement comes
      if (c.movement_id == 0) {
        profile_changed_.insert(it->second);
        continue;
      }
      // A movement not read yet (or gone) is read with its current values, which
      // already include this change.
      if (!movement_ids_.Seen(c.movement_id)) continue;
      Account& a = accounts_[it->second];
      AddToCell(a, CellKey(c.day, c.old_kind), -c.old_amount, -1);
      if (c.removed) {
        --movements_;
      } else {
        AddToCell(a, CellKey(c.day, c.new_kind), c.new_amount, 1);
      }
    }
  };
  return TailTable<ChangeRow>(
      conn, change_ids_,
      "SELECT change_id, account_id, movement_id, DATEDIFF(month, '1970-01-01'), old_kind,"
      " old_mrr_change_minor, new_kind, new_mrr_change_minor FROM ledger_changes"
      " WHERE change_id BETWEEN ? AND ? ORDER BY change_id",
      "SELECT change_id, account_id, movement_id, DATEDIFF(month, '1970-01-01'), old_kind,"
      " old_mrr_change_minor, new_kind, new_mrr_change_minor FROM ledger_changes"
      " WHERE change_id > ? ORDER BY change_id LIMIT ?",
      read, apply);
}

absl::Status LedgerIndex::ReadMovements(db::Connection& conn) {
  auto read = [](sql::ResultSet& rs, std::vector<MovementRow>& out) {
    while (rs.next()) {
      MovementRow m;
      m.id = rs.getInt64(1);
      m.account_id = rs.getString(2);
      m.day = ReadDay(rs, 3);
      m.kind = KindCodeOf(std::string(rs.getString(4)));
      m.amount = rs.getInt64(5);
      out.push_back(std::move(m));
    }
  };
  return TailTable<MovementRow>(
      conn, movement_ids_,
      "SELECT movement_id, account_id, DATEDIFF(month, '1970-01-01'), kind, mrr_change_minor"
      " FROM revenue_movements WHERE movement_id BETWEEN ? AND ? ORDER BY movement_id",
      "SELECT movement_id, account_id, DATEDIFF(month, '1970-01-01'), kind, mrr_change_minor"
      " FROM revenue_movements WHERE movement_id > ? ORDER BY movement_id LIMIT ?",
      read, [this](std::vector<MovementRow>& rows) { ApplyMovements(rows); });
}

// Reads (account_id, value) rows of a table keyed by account id, in pages, and hands
// the values of accounts the index holds to `fn` (under mu_).
void LedgerIndex::ScanByAccount(
    db::Connection& conn, const char* page_sql,
    const std::function<void(uint32_t index, const std::string& value)>& fn) {
  std::string after;
  while (true) {
    auto& stmt = conn.Prepare(page_sql);
    stmt.setString(1, after);
    stmt.setInt(2, options_.page_rows);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    int n = 0;
    absl::MutexLock lock(&mu_);
    while (rs->next()) {
      ++n;
      after = rs->getString(1);
      auto it = by_id_.find(Padless(after));
      if (it != by_id_.end()) fn(it->second, std::string(rs->getString(2)));
    }
    if (n < options_.page_rows) return;
  }
}

absl::Status LedgerIndex::ReadAccountFacts(db::Connection& conn) {
  absl::flat_hash_set<uint32_t> wanted_set = fresh_accounts_;
  wanted_set.insert(profile_changed_.begin(), profile_changed_.end());
  size_t orphans = 0;
  {
    absl::ReaderMutexLock lock(&mu_);
    orphans = orphans_.size();
    // A few orphans are looked for on every refresh; many only once a minute.
    if (orphans <= static_cast<size_t>(options_.point_lookups)) {
      wanted_set.insert(orphans_.begin(), orphans_.end());
    }
  }
  const bool scan_orphans = orphans > static_cast<size_t>(options_.point_lookups) &&
                            absl::Now() - last_orphan_scan_ > absl::Minutes(1);
  if (wanted_set.size() > static_cast<size_t>(options_.scan_accounts) || scan_orphans) {
    // Whole tables, in pages: cheaper than looking up most of their rows.
    ScanByAccount(conn,
                  "SELECT account_id, currency FROM ledger_accounts WHERE account_id > ?"
                  " ORDER BY account_id LIMIT ?",
                  [&](uint32_t index, const std::string& currency) {
                    accounts_[index].currency = CurrencyCode(currency);
                    orphans_.erase(index);
                  });
    ScanByAccount(conn,
                  "SELECT account_id, tier FROM account_profiles WHERE account_id > ?"
                  " ORDER BY account_id LIMIT ?",
                  [&](uint32_t index, const std::string& tier) { SetTier(accounts_[index], tier); });
    last_orphan_scan_ = absl::Now();
    absl::MutexLock lock(&mu_);
    for (uint32_t index : fresh_accounts_) {
      if (accounts_[index].currency == 0) orphans_.insert(index);
    }
  } else if (!wanted_set.empty()) {
    // Looked up in chunks: an account missing from ledger_accounts is an orphan, one
    // missing from account_profiles has no tier.
    std::vector<std::string> ids;
    {
      absl::ReaderMutexLock lock(&mu_);
      for (uint32_t index : wanted_set) ids.push_back(ids_[index]);
    }
    std::vector<std::pair<std::string, std::string>> currencies, tiers;
    db::ForEachChunk(ids.size(), [&](size_t offset, size_t count) {
      auto& ledger = conn.Prepare(
          absl::StrCat("SELECT account_id, currency FROM ledger_accounts WHERE account_id IN ",
                       db::RowPlaceholders(1, count)));
      for (size_t i = 0; i < count; ++i) ledger.setString(static_cast<int>(i + 1), ids[offset + i]);
      std::unique_ptr<sql::ResultSet> rs(ledger.executeQuery());
      while (rs->next()) currencies.emplace_back(rs->getString(1), rs->getString(2));
      auto& profiles = conn.Prepare(
          absl::StrCat("SELECT account_id, tier FROM account_profiles WHERE account_id IN ",
                       db::RowPlaceholders(1, count)));
      for (size_t i = 0; i < count; ++i) {
        profiles.setString(static_cast<int>(i + 1), ids[offset + i]);
      }
      std::unique_ptr<sql::ResultSet> ps(profiles.executeQuery());
      while (ps->next()) tiers.emplace_back(ps->getString(1), ps->getString(2));
    });
    absl::MutexLock lock(&mu_);
    for (uint32_t index : wanted_set) {
      accounts_[index].currency = 0;
      SetTier(accounts_[index], "UNSPECIFIED");
    }
    for (const auto& [id, currency] : currencies) {
      auto it = by_id_.find(Padless(id));
      if (it != by_id_.end()) accounts_[it->second].currency = CurrencyCode(currency);
    }
    for (const auto& [id, tier] : tiers) {
      auto it = by_id_.find(Padless(id));
      if (it != by_id_.end()) SetTier(accounts_[it->second], tier);
    }
    for (uint32_t index : wanted_set) {
      if (accounts_[index].currency == 0) {
        orphans_.insert(index);
      } else {
        orphans_.erase(index);
      }
    }
  }
  fresh_accounts_.clear();
  profile_changed_.clear();
  return absl::OkStatus();
}

absl::Status LedgerIndex::Step(db::Connection& conn) {
  // Changes before movements: a change visible now is then taken in before any
  // movement it touches is read, so a movement is never read with a change that
  // is then applied to it once more. A refresh that fails half-way keeps what it
  // applied; the next one goes on from there.
  RETURN_IF_ERROR(ReadChanges(conn));
  RETURN_IF_ERROR(ReadMovements(conn));
  return ReadAccountFacts(conn);
}

absl::Status LedgerIndex::ProbeGaps(db::Connection& conn, IdGaps& gaps, bool movements) {
  const absl::Time now = absl::Now();
  std::vector<std::pair<int64_t, int64_t>> due;
  for (const auto& [first, gap] : gaps.gaps()) {
    if (now - gap.noticed >= options_.gap_probe_age) due.emplace_back(first, gap.last);
  }
  for (const auto& [first, last] : due) {
    // A locking read waits for nobody (NOWAIT): it fails while a transaction holds a
    // row of the range (an insert not committed yet), and otherwise lists the rows
    // that exist. Ids it does not list were rolled back or never used: no commit can
    // bring them any more. Rows it lists stay gaps until a snapshot reads them.
    std::vector<int64_t> exist;
    try {
      auto& stmt = conn.Prepare(
          movements ? "SELECT movement_id FROM revenue_movements WHERE movement_id BETWEEN ? AND ?"
                      " LOCK IN SHARE MODE NOWAIT"
                    : "SELECT change_id FROM ledger_changes WHERE change_id BETWEEN ? AND ?"
                      " LOCK IN SHARE MODE NOWAIT");
      stmt.setInt64(1, first);
      stmt.setInt64(2, last);
      std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
      while (rs->next()) exist.push_back(rs->getInt64(1));
    } catch (const sql::SQLException& e) {
      if (IsInFlight(e)) continue;
      throw;
    }
    int64_t from = first;
    for (int64_t id : exist) {
      if (id > from) gaps.FillRange(from, id - 1);
      from = id + 1;
    }
    if (from <= last) gaps.FillRange(from, last);
  }
  return absl::OkStatus();
}

absl::Status LedgerIndex::RefreshLocked() {
  applied_in_refresh_ = 0;
  RETURN_IF_ERROR(InSnapshot(*pool_, [&](db::Connection& conn) { return Step(conn); }));
  {
    absl::MutexLock data(&mu_);
    loaded_ = true;
    if (applied_in_refresh_ >= kCompactAfterRows) {
      // Cells grew one insert at a time (capacity doubling): give the slack back
      // after a load, and the freed page buffers to the system.
      for (Account& a : accounts_) {
        if (a.cells.capacity() > a.cells.size()) a.cells.shrink_to_fit();
      }
#ifdef __GLIBC__
      malloc_trim(0);
#endif
    }
  }
  if (movement_ids_.gaps().empty() && change_ids_.gaps().empty()) return absl::OkStatus();
  return pool_->Run([&](db::Connection& conn) -> absl::Status {
    RETURN_IF_ERROR(ProbeGaps(conn, movement_ids_, /*movements=*/true));
    return ProbeGaps(conn, change_ids_, /*movements=*/false);
  });
}

absl::Status LedgerIndex::Refresh() {
  absl::MutexLock lock(&tail_mu_);
  return RefreshLocked();
}

absl::StatusOr<std::vector<AccountPeriod>> LedgerIndex::Periods(const std::string& currency,
                                                                Tier tier, absl::CivilMonth first,
                                                                absl::CivilMonth last,
                                                                bool cohort_only) {
  std::vector<AccountPeriod> out;
  RETURN_IF_ERROR(Visit(currency, tier, first, last, cohort_only, /*with_ids=*/true,
                        [&out](const AccountPeriod& p) {
                          out.push_back(p);
                          return absl::OkStatus();
                        }));
  return out;
}

absl::Status LedgerIndex::ForEachPeriod(const std::string& currency, Tier tier,
                                        absl::CivilMonth first, absl::CivilMonth last,
                                        bool cohort_only,
                                        absl::FunctionRef<absl::Status(const AccountPeriod&)> fn) {
  return Visit(currency, tier, first, last, cohort_only, /*with_ids=*/false, fn);
}

absl::Status LedgerIndex::Visit(const std::string& currency, Tier tier, absl::CivilMonth first,
                                absl::CivilMonth last, bool cohort_only, bool with_ids,
                                absl::FunctionRef<absl::Status(const AccountPeriod&)> fn) {
  // The refresh and the start of the read hold tail_mu_ together, so the read sees
  // every refresh whole (a later one waits for the writer lock).
  tail_mu_.Lock();
  const absl::Status refreshed = RefreshLocked();
  if (!refreshed.ok()) {
    tail_mu_.Unlock();
    return refreshed;
  }
  absl::ReaderMutexLock lock(&mu_);
  tail_mu_.Unlock();
  if (overflow_) {
    return absl::FailedPreconditionError("a compacted ledger sum left 64 bits");
  }
  uint16_t want_currency = 0;
  const absl::string_view code = Padless(currency);
  for (size_t i = 0; i < currencies_.size(); ++i) {
    if (currencies_[i] == code) want_currency = static_cast<uint16_t>(i + 1);
  }
  if (want_currency == 0) return absl::OkStatus();
  const int32_t first_day = DaysSinceEpoch(absl::CivilDay(first));
  const int32_t last_day = DaysSinceEpoch(absl::CivilDay(last));
  // Keys below first_key are before the period; keys below end_key are through it.
  const int32_t first_key = CellKey(first_day, 0);
  const int32_t end_key = CellKey(last_day + 1, 0);
  const uint8_t want_tier = static_cast<uint8_t>(tier);
  auto fit = [](__int128 v, int64_t* out) -> absl::Status {
    if (v > INT64_MAX || v < INT64_MIN) {
      return absl::OutOfRangeError("a ledger sum does not fit in 64 bits");
    }
    *out = static_cast<int64_t>(v);
    return absl::OkStatus();
  };
  AccountPeriod p;
  for (size_t i = 0; i < accounts_.size(); ++i) {
    const Account& a = accounts_[i];
    if (a.currency != want_currency) continue;
    if (want_tier != 0 && a.tier_match != want_tier) continue;
    if (a.cells.empty() || a.cells.front().key >= end_key) continue;  // no row through `last`
    __int128 start = 0, end = 0, by_kind[6] = {0, 0, 0, 0, 0, 0};
    int64_t expansions = 0;
    for (const Cell& c : a.cells) {
      if (c.key >= end_key) break;
      end += c.sum;
      if (c.key < first_key) {
        start += c.sum;
        continue;
      }
      const int kind = c.key & 7;
      by_kind[kind] += c.sum;
      if (kind == kExpansionCode) expansions += c.count;
    }
    if (cohort_only && start <= 0) continue;
    if (with_ids) p.account_id = ids_[i];
    p.tier = static_cast<Tier>(a.tier);
    RETURN_IF_ERROR(fit(start, &p.start_mrr));
    RETURN_IF_ERROR(fit(end, &p.end_mrr));
    RETURN_IF_ERROR(fit(by_kind[kNewCode], &p.new_mrr));
    RETURN_IF_ERROR(fit(by_kind[kExpansionCode], &p.expansion_mrr));
    RETURN_IF_ERROR(fit(by_kind[kReactivationCode], &p.reactivation_mrr));
    RETURN_IF_ERROR(fit(-by_kind[kContractionCode], &p.contraction_mrr));
    RETURN_IF_ERROR(fit(-by_kind[kChurnCode], &p.churn_mrr));
    p.expansion_movements = static_cast<int>(expansions);
    RETURN_IF_ERROR(fn(p));
  }
  return absl::OkStatus();
}

void LedgerIndex::Start(absl::Duration interval) {
  absl::MutexLock lock(&run_mu_);
  if (thread_ != nullptr) return;
  stopping_ = false;
  stopping_flag_.store(false);
  thread_ = std::make_unique<std::thread>([this, interval] { Run(interval); });
}

void LedgerIndex::Stop() {
  stopping_flag_.store(true);
  {
    absl::MutexLock lock(&run_mu_);
    stopping_ = true;
  }
  if (thread_ != nullptr && thread_->joinable()) thread_->join();
  thread_.reset();
}

void LedgerIndex::Run(absl::Duration interval) {
  bool failing = false;
  const absl::Time started = absl::Now();
  bool first = true;
  while (true) {
    absl::Status s;
    {
      absl::MutexLock lock(&tail_mu_);
      background_ = true;
      s = RefreshLocked();
      background_ = false;
    }
    if (stopping_flag_.load()) return;
    if (!s.ok()) {
      // Once per run of failures (the database may be down for a while).
      if (!failing) log::Warn("ledger index refresh failed", {{"status", std::string(s.message())}});
      failing = true;
    } else {
      failing = false;
      if (first) {
        const Stats st = stats();
        log::Info("ledger index loaded",
                  {{"accounts", st.accounts},
                   {"movements", st.movements},
                   {"cells", st.cells},
                   {"seconds", absl::ToDoubleSeconds(absl::Now() - started)}});
        first = false;
      }
    }
    absl::MutexLock lock(&run_mu_);
    if (run_mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) return;
  }
}

LedgerIndex::Stats LedgerIndex::stats() const {
  Stats s;
  {
    absl::MutexLock lock(&tail_mu_);
    s.movement_high = movement_ids_.high();
    s.movement_gap_ids = static_cast<int64_t>(movement_ids_.gap_ids());
    s.change_high = change_ids_.high();
    s.change_gap_ids = static_cast<int64_t>(change_ids_.gap_ids());
  }
  absl::ReaderMutexLock lock(&mu_);
  s.accounts = static_cast<int64_t>(accounts_.size());
  s.cells = cells_;
  s.movements = movements_;
  s.loaded = loaded_;
  return s;
}

}  // namespace cs::expansion
