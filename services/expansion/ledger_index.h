#ifndef CS_SERVICES_EXPANSION_LEDGER_INDEX_H_
#define CS_SERVICES_EXPANSION_LEDGER_INDEX_H_

// The revenue ledger summed per account in memory, so that retention and
// expansion measures over a million accounts need no GROUP BY over ten million rows.
//
// Per account: its ledger currency (ledger_accounts), its tier (account_profiles)
// and its movements compacted to one cell per (day, kind) -- in practice per month --
// with the summed amount and the row count. The index trusts only the database:
// before every answer (and every interval given to Start, in the background) it
// reads, in one consistent snapshot, the
// revenue_movements rows above the highest id it has seen, the ids below it it has
// not seen yet, and likewise ledger_changes (movement corrections by a re-import,
// profile writes). AUTO_INCREMENT ids can commit out of order, so an id below the
// high-water mark that is not visible yet is kept as a gap and read again until it
// appears, or until a locking read (NOWAIT) shows that no transaction holds it and
// it does not exist (rolled back, or never used). An id is applied at most once.
// A gap is noticed by this replica's clock and probed once it is
// LedgerIndexOptions::gap_probe_age old; no gap is given up on time alone.
//
// Memory: about 16 bytes per (account, day, kind) cell plus about 180 bytes per
// account (measured: 500,000 accounts and 5,000,000 movements, about 170 MB).
//
// Writes that bypass the service are seen when they insert movements (with or
// without their ledger_accounts row); updates or deletes of movements and profile
// changes made outside the service are not (the ledger is append-only, and every
// path in this service that changes a movement or a profile logs it).

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/db/pool.h"
#include "services/expansion/metrics.h"
#include "services/expansion/opportunity.h"

namespace sql {
class ResultSet;
}  // namespace sql

namespace cs::expansion {

struct LedgerIndexOptions {
  // Rows read per statement while catching up (the first load reads everything).
  int page_rows = 100000;
  // A gap is probed with a locking read only once it is this old, so a statement
  // that has allocated ids but not yet inserted their rows is not mistaken for a
  // rollback.
  absl::Duration gap_probe_age = absl::Seconds(1);
  // Accounts without a ledger_accounts row looked for again on every refresh; more
  // are looked for once a minute.
  int point_lookups = 2000;
  // Up to this many new accounts (or changed profiles) in one refresh are looked up
  // by id; more (the first load, a bulk load) read ledger_accounts and
  // account_profiles whole.
  int scan_accounts = 100000;
};

// Ids of one table's AUTO_INCREMENT column seen so far: all up to `high` except the
// gaps (ranges not seen yet).
class IdGaps {
 public:
  struct Gap {
    int64_t last;        // inclusive
    absl::Time noticed;  // when the gap was first seen
  };
  int64_t high() const { return high_; }
  const std::map<int64_t, Gap>& gaps() const { return gaps_; }
  // True when `id` was seen: at or below the high-water mark and in no gap.
  bool Seen(int64_t id) const;
  // A row above the high-water mark was read (rows come in id order): ids between
  // the old mark and it become a gap.
  void Advance(int64_t id, absl::Time now);
  // An id inside a gap was read, or shown not to exist.
  void Fill(int64_t id);
  void FillRange(int64_t first, int64_t last);
  size_t gap_ids() const;

 private:
  int64_t high_ = 0;
  std::map<int64_t, Gap> gaps_;  // first id -> gap
};

class LedgerIndex {
 public:
  LedgerIndex(db::Pool* pool, LedgerIndexOptions options = {});
  ~LedgerIndex();
  LedgerIndex(const LedgerIndex&) = delete;
  LedgerIndex& operator=(const LedgerIndex&) = delete;

  // Brings the index up to what the database has committed now.
  absl::Status Refresh();

  // What MySqlRevenueRepository::LoadPeriods answers (same accounts, same sums,
  // same errors), read from memory after a Refresh; in no particular order.
  // `cohort_only` leaves out accounts with no MRR before `first` (the ones
  // ComputeRetention skips). FAILED_PRECONDITION when a compacted sum left int64
  // (only rows written around the service's amount caps can do that): the caller
  // then asks the database.
  absl::StatusOr<std::vector<AccountPeriod>> Periods(const std::string& currency, Tier tier,
                                                     absl::CivilMonth first,
                                                     absl::CivilMonth last,
                                                     bool cohort_only = false);
  // The same, one account at a time, without its account_id (no copy of a million
  // ids when only sums are wanted); stops at the first error `fn` returns.
  absl::Status ForEachPeriod(const std::string& currency, Tier tier, absl::CivilMonth first,
                             absl::CivilMonth last, bool cohort_only,
                             absl::FunctionRef<absl::Status(const AccountPeriod&)> fn);

  // Refreshes every `interval` on a thread of its own (the first one loads the
  // index), so that answers only read the last few rows.
  void Start(absl::Duration interval);
  void Stop();

  struct Stats {
    int64_t accounts = 0;
    int64_t cells = 0;
    int64_t movements = 0;  // applied movement rows (minus removed ones)
    int64_t movement_high = 0;
    int64_t movement_gap_ids = 0;
    int64_t change_high = 0;
    int64_t change_gap_ids = 0;
    bool loaded = false;
  };
  Stats stats() const;

 private:
  struct Cell {
    int64_t sum;
    int32_t key;  // days since 1970-01-01 x 8 + movement kind code
    int32_t count;
  };
  struct Account {
    std::vector<Cell> cells;  // by key
    uint16_t currency = 0;    // index + 1 into currencies_; 0: no ledger_accounts row
    uint8_t tier = 0;         // Tier as TierFromName reads the stored name
    uint8_t tier_match = 0;   // the Tier whose name the stored one equals for SQL's '='
  };
  struct MovementRow {
    int64_t id;
    std::string account_id;
    int32_t day;
    uint8_t kind;
    int64_t amount;
  };
  struct ChangeRow {
    int64_t id;
    std::string account_id;
    int64_t movement_id;  // 0: a profile change
    int32_t day;
    uint8_t old_kind;
    int64_t old_amount;
    bool removed;
    uint8_t new_kind;
    int64_t new_amount;
  };

  absl::Status RefreshLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tail_mu_);
  absl::Status Visit(const std::string& currency, Tier tier, absl::CivilMonth first,
                     absl::CivilMonth last, bool cohort_only, bool with_ids,
                     absl::FunctionRef<absl::Status(const AccountPeriod&)> fn);
  absl::Status Step(db::Connection& conn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tail_mu_);
  absl::Status ProbeGaps(db::Connection& conn, IdGaps& gaps, bool movements)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tail_mu_);
  template <typename Row>
  absl::Status TailTable(db::Connection& conn, IdGaps& ids, const char* gap_sql,
                         const char* tail_sql,
                         const std::function<void(sql::ResultSet&, std::vector<Row>&)>& read,
                         const std::function<void(std::vector<Row>&)>& apply)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tail_mu_);
  void ScanByAccount(db::Connection& conn, const char* page_sql,
                     const std::function<void(uint32_t index, const std::string& value)>& fn)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tail_mu_);
  absl::Status ReadMovements(db::Connection& conn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tail_mu_);
  absl::Status ReadChanges(db::Connection& conn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tail_mu_);
  absl::Status ReadAccountFacts(db::Connection& conn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tail_mu_);
  void ApplyMovements(std::vector<MovementRow>& rows) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tail_mu_);
  uint32_t AccountFor(const std::string& account_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddToCell(Account& a, int32_t key, int64_t amount, int32_t count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint16_t CurrencyCode(const std::string& currency) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetTier(Account& a, const std::string& stored) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(absl::Duration interval);

  db::Pool* pool_;
  const LedgerIndexOptions options_;

  // Serialises refreshes; held while a refresh reads the database.
  mutable absl::Mutex tail_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  IdGaps movement_ids_ ABSL_GUARDED_BY(tail_mu_);
  IdGaps change_ids_ ABSL_GUARDED_BY(tail_mu_);
  // Accounts first seen in the refresh under way, and accounts whose profile changed:
  // their currency and tier are read before the refresh ends.
  absl::flat_hash_set<uint32_t> fresh_accounts_ ABSL_GUARDED_BY(tail_mu_);
  absl::flat_hash_set<uint32_t> profile_changed_ ABSL_GUARDED_BY(tail_mu_);
  absl::Time last_orphan_scan_ ABSL_GUARDED_BY(tail_mu_) = absl::InfinitePast();
  int64_t applied_in_refresh_ ABSL_GUARDED_BY(tail_mu_) = 0;
  bool background_ ABSL_GUARDED_BY(tail_mu_) = false;  // the refresh under way is Run's

  // The index proper: readers share it, a refresh applies what it read under the
  // writer lock.
  mutable absl::Mutex mu_;
  std::deque<std::string> ids_ ABSL_GUARDED_BY(mu_);  // stable addresses for by_id_'s keys
  absl::flat_hash_map<absl::string_view, uint32_t> by_id_ ABSL_GUARDED_BY(mu_);
  std::vector<Account> accounts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> currencies_ ABSL_GUARDED_BY(mu_);
  // Accounts with movements but no ledger_accounts row (only writes that bypass the
  // service leave them): looked for again on every refresh.
  absl::flat_hash_set<uint32_t> orphans_ ABSL_GUARDED_BY(mu_);
  int64_t movements_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t cells_ ABSL_GUARDED_BY(mu_) = 0;
  bool overflow_ ABSL_GUARDED_BY(mu_) = false;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex run_mu_;
  bool stopping_ ABSL_GUARDED_BY(run_mu_) = false;
  std::atomic<bool> stopping_flag_{false};  // read between pages of a long refresh
  std::unique_ptr<std::thread> thread_;
};

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_LEDGER_INDEX_H_
