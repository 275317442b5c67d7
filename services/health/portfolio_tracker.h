#ifndef CS_SERVICES_HEALTH_PORTFOLIO_TRACKER_H_
#define CS_SERVICES_HEALTH_PORTFOLIO_TRACKER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "services/health/health_repository.h"
#include "services/health/portfolio_index.h"

namespace cs::health {

// Keeps one PortfolioIndex per score name asked for, built from the database on
// the first summary and then brought up to date before every summary:
//  - accounts named by the event log tail (account written or churned, score or
//    band changed: MarkDirty, fed by HealthService's tail) are read again;
//  - score_history rows past the last one seen mark their accounts likewise, which
//    covers score moves too small to publish an event and rows of any replica. The
//    tail looks back kLookBack ids for rows that committed after higher ids;
//  - when the event tail skipped ahead (MarkAllDirty), or too much changed to
//    refresh account by account, the index is built again.
// Rows written straight into the database are picked up by the same two paths when
// they touch score_history; other direct writes show at the next rebuild.
class PortfolioTracker {
 public:
  // At most this many score names are indexed; others are answered by SQL.
  static constexpr size_t kMaxScoreNames = 8;
  static constexpr int64_t kLookBack = 4096;
  // Past this many changed accounts or history rows in one step, rebuild instead.
  static constexpr size_t kRebuildAbove = 100000;

  PortfolioTracker(HealthRepository* repository, const Clock* clock)
      : repository_(repository), clock_(clock) {}
  ~PortfolioTracker() { Stop(); }
  PortfolioTracker(const PortfolioTracker&) = delete;
  PortfolioTracker& operator=(const PortfolioTracker&) = delete;

  // Builds the index of `score_name` now, at start-up, so that the first summary
  // finds it built (at 1M accounts the build reads for about 20 s). A summary asked
  // for meanwhile waits for it. Stop() ends it early: CANCELLED, nothing kept, and
  // the next summary builds instead.
  absl::Status Warm(const std::string& score_name);
  // Warm on a thread of its own, logging how it went. A second call does nothing.
  void StartWarm(const std::string& score_name);
  // Ends a Warm build in progress (and joins StartWarm's thread) and refuses later
  // ones; summaries still build. Idempotent.
  void Stop();

  void MarkDirty(const std::vector<std::string>& account_ids);
  void MarkAllDirty();

  // UNIMPLEMENTED when the score name is not indexed (too many names): the caller
  // answers from the database.
  absl::StatusOr<PortfolioSummary> Summary(const std::string& score_name,
                                           absl::Time period_start);

  struct Stats {
    int64_t builds = 0, refreshed_accounts = 0;
    size_t accounts = 0, points = 0;
  };
  Stats stats(const std::string& score_name);

 private:
  struct State {
    std::mutex mu;  // one build or refresh at a time; held while summarising
    PortfolioIndex index;
    bool built = false;
    int64_t window_start_us = 0;
    int64_t history_high = 0;       // highest score_history id seen
    std::set<int64_t> seen_recent;  // ids seen within kLookBack of history_high
    int64_t builds = 0, refreshed_accounts = 0;
    // Guarded by dirty_mu_.
    std::set<std::string> dirty;
    bool rebuild = false;
  };
  // The score name's state, created on first use; UNIMPLEMENTED past kMaxScoreNames.
  absl::StatusOr<State*> StateFor(const std::string& score_name);
  // `stoppable`: Stop() ends it (Warm); a summary's build runs to the end.
  absl::Status Build(State& state, const std::string& score_name, bool stoppable = false);
  // Reads score_history past the high-water mark into the dirty set; false when it
  // found more than kRebuildAbove rows.
  absl::StatusOr<bool> TailHistory(State& state, const std::string& score_name);
  absl::Status Refresh(State& state, const std::string& score_name,
                       const std::vector<std::string>& account_ids);

  HealthRepository* const repository_;
  const Clock* const clock_;
  std::atomic<bool> stopping_{false};
  std::thread warm_thread_;
  std::mutex dirty_mu_;
  std::map<std::string, std::unique_ptr<State>> states_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_PORTFOLIO_TRACKER_H_
