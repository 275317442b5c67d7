#include "services/health/portfolio_tracker.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "common/log.h"
#include "common/status.h"

namespace cs::health {
namespace {

// History is kept from a year and a day before the build: a period is at most 365
// days, so the band at its start is always within reach.
constexpr absl::Duration kWindow = absl::Hours(24 * 366);
// A refreshed account's history is read again from this long before the newest
// row seen of it, for rows whose transaction committed after a later one.
constexpr absl::Duration kRefreshSlack = absl::Minutes(1);
constexpr int kTailPage = 20000;

}  // namespace

void PortfolioTracker::MarkDirty(const std::vector<std::string>& account_ids) {
  if (account_ids.empty()) return;
  std::lock_guard<std::mutex> lock(dirty_mu_);
  for (auto& [name, state] : states_) {
    if (state->rebuild) continue;
    state->dirty.insert(account_ids.begin(), account_ids.end());
    if (state->dirty.size() > kRebuildAbove) {
      state->dirty.clear();
      state->rebuild = true;
    }
  }
}

void PortfolioTracker::MarkAllDirty() {
  std::lock_guard<std::mutex> lock(dirty_mu_);
  for (auto& [name, state] : states_) {
    state->dirty.clear();
    state->rebuild = true;
  }
}

absl::StatusOr<PortfolioTracker::State*> PortfolioTracker::StateFor(
    const std::string& score_name) {
  std::lock_guard<std::mutex> lock(dirty_mu_);
  auto it = states_.find(score_name);
  if (it == states_.end()) {
    if (states_.size() >= kMaxScoreNames) {
      return absl::UnimplementedError("too many score names to index");
    }
    it = states_.emplace(score_name, std::make_unique<State>()).first;
  }
  return it->second.get();
}

absl::Status PortfolioTracker::Warm(const std::string& score_name) {
  ASSIGN_OR_RETURN(State * state, StateFor(score_name));
  std::lock_guard<std::mutex> lock(state->mu);
  if (state->built) return absl::OkStatus();
  return Build(*state, score_name, /*stoppable=*/true);
}

void PortfolioTracker::StartWarm(const std::string& score_name) {
  if (warm_thread_.joinable()) return;
  warm_thread_ = std::thread([this, score_name] {
    const absl::Time start = absl::Now();
    const absl::Status built = Warm(score_name);
    if (built.ok()) {
      const Stats s = stats(score_name);
      log::Info("portfolio index built",
                {{"score_name", score_name},
                 {"accounts", std::to_string(s.accounts)},
                 {"band_points", std::to_string(s.points)},
                 {"ms", std::to_string(absl::ToInt64Milliseconds(absl::Now() - start))}});
    } else if (!absl::IsCancelled(built)) {
      log::Warn("portfolio index not built at start; the first summary builds it",
                {{"score_name", score_name}, {"error", std::string(built.message())}});
    }
  });
}

void PortfolioTracker::Stop() {
  stopping_.store(true);
  if (warm_thread_.joinable()) warm_thread_.join();
}

absl::Status PortfolioTracker::Build(State& state, const std::string& score_name,
                                     bool stoppable) {
  {
    std::lock_guard<std::mutex> lock(dirty_mu_);
    state.dirty.clear();
    state.rebuild = false;
  }
  state.built = false;
  // The high-water mark first: rows committed while the index loads are read again
  // by the tail, and nothing before it is missed.
  ASSIGN_OR_RETURN(HealthRepository::HistoryTail head,
                   repository_->ScoreHistoryAfter(score_name,
                                                  std::numeric_limits<int64_t>::max(), 1));
  state.index.Clear();
  state.window_start_us = absl::ToUnixMicros(clock_->Now() - kWindow);
  const auto go_on = [&] { return !stoppable || !stopping_.load(std::memory_order_relaxed); };
  if (!go_on()) return absl::CancelledError("the portfolio index build was stopped");
  absl::Status scanned = repository_->ScanPortfolioAccounts(score_name, nullptr,
                                                            [&](PortfolioAccount&& a) {
                                                              state.index.Put(a);
                                                              return go_on();
                                                            });
  if (scanned.ok()) {
    scanned = repository_->ScanBandPoints(score_name, nullptr, state.window_start_us,
                                          /*with_earlier=*/true, [&](BandPoint&& p) {
                                            state.index.AddPoint(p);
                                            return go_on();
                                          });
  }
  if (!scanned.ok()) {
    state.index.Clear();  // half a build is not kept; the next summary builds again
    return scanned;
  }
  state.history_high = std::max<int64_t>(0, head.max_id - kLookBack);
  state.seen_recent.clear();
  state.built = true;
  ++state.builds;
  return absl::OkStatus();
}

absl::StatusOr<bool> PortfolioTracker::TailHistory(State& state, const std::string& score_name) {
  std::vector<std::string> changed;
  size_t rows_seen = 0;
  for (;;) {
    const int64_t low = std::max<int64_t>(0, state.history_high - kLookBack);
    ASSIGN_OR_RETURN(HealthRepository::HistoryTail tail,
                     repository_->ScoreHistoryAfter(score_name, low, kTailPage));
    size_t fresh = 0;
    for (auto& [id, account_id] : tail.rows) {
      if (id <= low || !state.seen_recent.insert(id).second) continue;
      ++fresh;
      state.history_high = std::max(state.history_high, id);
      changed.push_back(std::move(account_id));
    }
    rows_seen += fresh;
    if (rows_seen > kRebuildAbove) return false;
    const int64_t keep_from = std::max<int64_t>(0, state.history_high - kLookBack);
    state.seen_recent.erase(state.seen_recent.begin(), state.seen_recent.upper_bound(keep_from));
    // A full page may have more behind it; a page of rows already seen means the
    // look-back window itself is full, and the mark has moved past it.
    if (tail.rows.size() < static_cast<size_t>(kTailPage) || fresh == 0) break;
  }
  MarkDirty(changed);
  return true;
}

absl::Status PortfolioTracker::Refresh(State& state, const std::string& score_name,
                                       const std::vector<std::string>& account_ids) {
  std::set<std::string> found;
  RETURN_IF_ERROR(repository_->ScanPortfolioAccounts(score_name, &account_ids,
                                                     [&](PortfolioAccount&& a) {
                                                       found.insert(a.account_id);
                                                       state.index.Put(a);
                                                       return true;
                                                     }));
  // Accounts the index has history for are read from shortly before their newest
  // row, in groups of similar times; accounts new to it from the window's start,
  // with the row in force before it.
  std::vector<std::pair<int64_t, std::string>> known;
  std::vector<std::string> fresh;
  for (const std::string& id : account_ids) {
    if (found.count(id) == 0) {
      state.index.Remove(id);
    } else if (std::optional<int64_t> at = state.index.LastHistoryAt(id)) {
      known.emplace_back(std::max(state.window_start_us,
                                  *at - absl::ToInt64Microseconds(kRefreshSlack)),
                         id);
    } else {
      fresh.push_back(id);
    }
  }
  auto add = [&](BandPoint&& p) {
    state.index.AddPoint(p);
    return true;
  };
  if (!fresh.empty()) {
    RETURN_IF_ERROR(repository_->ScanBandPoints(score_name, &fresh, state.window_start_us,
                                                /*with_earlier=*/true, add));
  }
  std::sort(known.begin(), known.end());
  constexpr size_t kGroup = 256;
  for (size_t first = 0; first < known.size(); first += kGroup) {
    const size_t n = std::min(kGroup, known.size() - first);
    std::vector<std::string> ids;
    ids.reserve(n);
    for (size_t i = first; i < first + n; ++i) ids.push_back(known[i].second);
    RETURN_IF_ERROR(repository_->ScanBandPoints(score_name, &ids, known[first].first,
                                                /*with_earlier=*/false, add));
  }
  state.refreshed_accounts += static_cast<int64_t>(account_ids.size());
  return absl::OkStatus();
}

absl::StatusOr<PortfolioSummary> PortfolioTracker::Summary(const std::string& score_name,
                                                           absl::Time period_start) {
  ASSIGN_OR_RETURN(State * state, StateFor(score_name));
  std::lock_guard<std::mutex> lock(state->mu);
  const int64_t period_start_us = absl::ToUnixMicros(period_start);
  bool rebuild = false;
  {
    std::lock_guard<std::mutex> dirty_lock(dirty_mu_);
    rebuild = state->rebuild;
  }
  if (!state->built || rebuild || period_start_us < state->window_start_us) {
    RETURN_IF_ERROR(Build(*state, score_name));
  }
  ASSIGN_OR_RETURN(bool tailed, TailHistory(*state, score_name));
  if (!tailed) {
    RETURN_IF_ERROR(Build(*state, score_name));
    ASSIGN_OR_RETURN(tailed, TailHistory(*state, score_name));
  }
  std::vector<std::string> dirty;
  {
    std::lock_guard<std::mutex> dirty_lock(dirty_mu_);
    rebuild = state->rebuild;
    dirty.assign(state->dirty.begin(), state->dirty.end());
    state->dirty.clear();
  }
  if (rebuild) {
    RETURN_IF_ERROR(Build(*state, score_name));
  } else if (!dirty.empty()) {
    absl::Status refreshed = Refresh(*state, score_name, dirty);
    if (!refreshed.ok()) {
      // Read again next time.
      MarkDirty(dirty);
      return refreshed;
    }
  }
  return state->index.Summarize(period_start_us);
}

PortfolioTracker::Stats PortfolioTracker::stats(const std::string& score_name) {
  State* state = nullptr;
  {
    std::lock_guard<std::mutex> lock(dirty_mu_);
    auto it = states_.find(score_name);
    if (it == states_.end()) return {};
    state = it->second.get();
  }
  std::lock_guard<std::mutex> lock(state->mu);
  return {state->builds, state->refreshed_accounts, state->index.accounts(),
          state->index.points()};
}

}  // namespace cs::health
