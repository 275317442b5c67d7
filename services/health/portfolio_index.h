#ifndef CS_SERVICES_HEALTH_PORTFOLIO_INDEX_H_
#define CS_SERVICES_HEALTH_PORTFOLIO_INDEX_H_

// This replica's in-memory copy of what GetPortfolioSummary aggregates, for one score
// name: every account's tier, lifecycle and current score and band, and the points
// of its score history where the band changed. A summary is then one pass over flat
// memory instead of a join of every account with its scores and history.
//
// The index holds no rule of its own: the answer is defined by the SQL it replaces
// (MySqlHealthRepository::Portfolio) and the tests compare the two. HealthService
// keeps it current from the event log (accounts written, bands changed) and the
// score_history rows themselves (every score written), see PortfolioTracker.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "services/health/health.h"

namespace cs::health {

// One account as the portfolio sees it for one score name.
struct PortfolioAccount {
  std::string account_id;
  Tier tier = Tier::kUnspecified;
  bool churned = false;
  bool scored = false;  // has a current score of this name
  double score = 0;
  Band band = Band::kUnspecified;
};

// One score_history row: when, which row, and the band it recorded.
struct BandPoint {
  std::string account_id;
  int64_t at_us = 0;  // computed_at, microseconds since the Unix epoch
  int64_t history_id = 0;
  Band band = Band::kUnspecified;
};

class PortfolioIndex {
 public:
  void Clear();
  // Replaces what the index knows of the account's row and current score.
  void Put(const PortfolioAccount& account);
  // The account no longer exists.
  void Remove(const std::string& account_id);
  // A history row. Rows already held (by id) change nothing; a row whose band is
  // the band in force just before it is not kept, since it changes no lookup.
  void AddPoint(const BandPoint& point);

  // The newest computed_at of any history row seen for the account.
  std::optional<int64_t> LastHistoryAt(const std::string& account_id) const;
  bool Contains(const std::string& account_id) const { return slots_.contains(account_id); }
  size_t accounts() const { return slots_.size(); }
  size_t points() const { return points_; }

  // Accounts that are not churned and have a score: their bands per tier and
  // overall, and, for those whose history holds a row at or before
  // `period_start_us`, how many moved from that row's band to their current one
  // (ordered by the bands' names, as the SQL orders them).
  PortfolioSummary Summarize(int64_t period_start_us) const;

 private:
  struct Point {
    int64_t at_us;
    int64_t id;
    Band band;
  };
  struct Slot {
    Tier tier = Tier::kUnspecified;
    bool present = false;  // the account row exists
    bool churned = false;
    bool scored = false;
    Band band = Band::kUnspecified;
    double score = 0;
    std::optional<int64_t> last_history_at;
    std::vector<Point> points;  // ordered by (at_us, id)
  };
  Slot& SlotOf(const std::string& account_id);

  absl::flat_hash_map<std::string, uint32_t> slots_;
  std::vector<Slot> data_;
  std::vector<uint32_t> free_;  // slots of removed accounts
  size_t points_ = 0;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_PORTFOLIO_INDEX_H_
