#ifndef CS_SERVICES_HEALTH_BACKTEST_H_
#define CS_SERVICES_HEALTH_BACKTEST_H_

// Backtesting a scorecard: how well past health scores separated the accounts
// that later churned from those that stayed. Pure values and functions.

#include <vector>

namespace cs::health {

struct BacktestCase {
  double score = 0;  // 0-100
  int band = 0;      // 1 GREEN, 2 YELLOW, 3 RED, as in Band
  bool churned = false;
};

struct BandOutcome {
  int band = 0;
  int accounts = 0;
  int churned = 0;
  double churn_rate = 0;  // NaN for a band without accounts: no evidence, not "no churn"
};

struct BacktestReport {
  int accounts = 0;
  int churned = 0;
  // ROC AUC of 100 - score as the churn score, since a low score should predict
  // churn; NaN when every account churned or none did.
  double auc = 0;
  std::vector<BandOutcome> bands;  // GREEN, YELLOW, RED, always all three
  // Churn rate of RED over that of GREEN: how many times likelier a RED account
  // churned. NaN when GREEN has no accounts or no churn (the ratio is undefined or
  // infinite) or RED has no accounts.
  double red_over_green_lift = 0;
};

// A case whose band is not 1-3 counts toward the totals and the AUC (it still has
// a score and an outcome) but toward no band.
BacktestReport SummarizeBacktest(const std::vector<BacktestCase>& cases);

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_BACKTEST_H_
