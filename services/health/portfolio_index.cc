#include "services/health/portfolio_index.h"

#include <algorithm>
#include <array>
#include <tuple>

namespace cs::health {

void PortfolioIndex::Clear() {
  slots_.clear();
  data_.clear();
  free_.clear();
  points_ = 0;
}

PortfolioIndex::Slot& PortfolioIndex::SlotOf(const std::string& account_id) {
  auto [it, inserted] = slots_.try_emplace(account_id, 0);
  if (inserted) {
    if (!free_.empty()) {
      it->second = free_.back();
      free_.pop_back();
    } else {
      it->second = static_cast<uint32_t>(data_.size());
      data_.emplace_back();
    }
  }
  return data_[it->second];
}

void PortfolioIndex::Put(const PortfolioAccount& account) {
  Slot& s = SlotOf(account.account_id);
  s.present = true;
  s.tier = account.tier;
  s.churned = account.churned;
  s.scored = account.scored;
  s.score = account.score;
  s.band = account.band;
}

void PortfolioIndex::Remove(const std::string& account_id) {
  auto it = slots_.find(account_id);
  if (it == slots_.end()) return;
  points_ -= data_[it->second].points.size();
  data_[it->second] = Slot{};
  free_.push_back(it->second);
  slots_.erase(it);
}

void PortfolioIndex::AddPoint(const BandPoint& point) {
  Slot& s = SlotOf(point.account_id);
  if (!s.last_history_at.has_value() || *s.last_history_at < point.at_us) {
    s.last_history_at = point.at_us;
  }
  const Point p{point.at_us, point.history_id, point.band};
  auto before = [](const Point& a, const Point& b) {
    return std::tie(a.at_us, a.id) < std::tie(b.at_us, b.id);
  };
  // Rows nearly always arrive in order, so the search starts from the back.
  auto pos = s.points.end();
  while (pos != s.points.begin() && before(p, *(pos - 1))) --pos;
  if (pos != s.points.begin() && (pos - 1)->id == p.id) return;  // held already
  if (pos != s.points.end() && pos->id == p.id) return;
  if (pos != s.points.begin() && (pos - 1)->band == p.band) return;  // no band change
  s.points.insert(pos, p);
  ++points_;
}

std::optional<int64_t> PortfolioIndex::LastHistoryAt(const std::string& account_id) const {
  auto it = slots_.find(account_id);
  if (it == slots_.end()) return std::nullopt;
  return data_[it->second].last_history_at;
}

PortfolioSummary PortfolioIndex::Summarize(int64_t period_start_us) const {
  constexpr std::array<Tier, 4> kTiers = {Tier::kEnterprise, Tier::kMidMarket, Tier::kSmb,
                                          Tier::kSolo};
  constexpr std::array<Band, 4> kBands = {Band::kUnspecified, Band::kGreen, Band::kYellow,
                                          Band::kRed};
  auto band_index = [](Band b) {
    switch (b) {
      case Band::kGreen:
        return 1;
      case Band::kYellow:
        return 2;
      case Band::kRed:
        return 3;
      default:
        return 0;
    }
  };
  // Per tier (0 = unspecified, 1-4 = kTiers) the accounts per band and their scores.
  std::array<std::array<int64_t, 4>, 5> counts{};
  std::array<double, 5> score_sums{};
  std::array<std::array<int64_t, 4>, 4> moved{};  // [from][to]
  for (const Slot& s : data_) {
    if (!s.present || !s.scored || s.churned) continue;
    int t = 0;
    for (size_t i = 0; i < kTiers.size(); ++i) {
      if (kTiers[i] == s.tier) t = static_cast<int>(i) + 1;
    }
    const int b = band_index(s.band);
    ++counts[t][b];
    score_sums[t] += s.score;
    if (s.points.empty() || s.points.front().at_us > period_start_us) continue;
    auto after = std::upper_bound(
        s.points.begin(), s.points.end(), period_start_us,
        [](int64_t at, const Point& p) { return at < p.at_us; });
    const Band then = (after - 1)->band;
    if (then != s.band) ++moved[band_index(then)][b];
  }

  PortfolioSummary out;
  auto fill = [&](BandDistribution& d, int t) {
    d.accounts += counts[t][0] + counts[t][1] + counts[t][2] + counts[t][3];
    d.green += counts[t][1];
    d.yellow += counts[t][2];
    d.red += counts[t][3];
  };
  double total_score = 0;
  for (int t = 0; t < 5; ++t) {
    fill(out.overall, t);
    total_score += score_sums[t];
  }
  if (out.overall.accounts > 0) out.overall.average_score = total_score / out.overall.accounts;
  for (size_t i = 0; i < kTiers.size(); ++i) {
    BandDistribution d;
    d.tier = kTiers[i];
    fill(d, static_cast<int>(i) + 1);
    if (d.accounts > 0) d.average_score = score_sums[i + 1] / d.accounts;
    out.by_tier.push_back(d);
  }
  for (Band from : kBands) {
    for (Band to : kBands) {
      const int64_t n = moved[band_index(from)][band_index(to)];
      if (n > 0) out.movements.push_back({from, to, n});
    }
  }
  // The SQL orders by the bands' stored names.
  std::sort(out.movements.begin(), out.movements.end(),
            [](const BandMovement& a, const BandMovement& b) {
              return std::make_pair(BandName(a.from), BandName(a.to)) <
                     std::make_pair(BandName(b.from), BandName(b.to));
            });
  return out;
}

}  // namespace cs::health
