#include "services/health/backtest.h"

#include <limits>

#include "services/health/churn_model.h"
#include "services/health/scorecard.h"

namespace cs::health {

BacktestReport SummarizeBacktest(const std::vector<BacktestCase>& cases) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  BacktestReport report;
  for (Band band : {Band::kGreen, Band::kYellow, Band::kRed}) {
    report.bands.push_back({.band = static_cast<int>(band)});
  }
  std::vector<double> churn_scores;
  std::vector<bool> churned;
  for (const BacktestCase& c : cases) {
    ++report.accounts;
    report.churned += c.churned ? 1 : 0;
    churn_scores.push_back(100 - c.score);
    churned.push_back(c.churned);
    for (BandOutcome& b : report.bands) {
      if (b.band != c.band) continue;
      ++b.accounts;
      b.churned += c.churned ? 1 : 0;
    }
  }
  for (BandOutcome& b : report.bands) {
    b.churn_rate = b.accounts > 0 ? static_cast<double>(b.churned) / b.accounts : kNaN;
  }
  report.auc = Auc(churn_scores, churned);
  const double green = report.bands.front().churn_rate;
  const double red = report.bands.back().churn_rate;
  // NaN propagates from an empty GREEN or RED band.
  report.red_over_green_lift = green > 0 ? red / green : kNaN;
  return report;
}

}  // namespace cs::health
