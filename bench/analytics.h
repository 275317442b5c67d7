// The analytics scenario: portfolio and revenue reads over a large seeded book.
#ifndef CS_BENCH_ANALYTICS_H_
#define CS_BENCH_ANALYTICS_H_

#include <string>

#include "common/config.h"

namespace cs::bench {

struct AnalyticsTargets {
  std::string health_addr;
  std::string expansion_addr;
  // The database server both services use; the schemas are set here.
  DbConfig db;
  std::string health_schema;
  std::string expansion_schema;
};

// Seeds --analytics_accounts accounts and --analytics_ledger_rows revenue movements
// straight into the two schemas, then times GetPortfolioSummary, GetRetentionMetrics
// and GetPipelineSummary. False when seeding or any call failed.
bool AnalyticsScenario(const AnalyticsTargets& targets);

}  // namespace cs::bench

#endif  // CS_BENCH_ANALYTICS_H_
