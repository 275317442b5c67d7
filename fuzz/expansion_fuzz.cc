// libFuzzer target of the expansion service: every unary RPC of ExpansionService
// through the real handler, services and MySQL repositories on a throwaway schema.
// See fuzz/harness.h for the input format and the invariants.
//
// Health is an in-process fake of the service's HealthClient interface, answering at
// once: acct-1 GREEN, acct-2 YELLOW, acct-3 RED, any other account no score, so the
// stage gate sees every band.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/db/audit_log.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "fuzz/harness.h"
#include "services/expansion/grpc_handler.h"
#include "services/expansion/health_client.h"
#include "services/expansion/metrics_service.h"
#include "services/expansion/mysql_opportunity_repository.h"
#include "services/expansion/mysql_revenue_repository.h"
#include "services/expansion/opportunity_service.h"
#include "services/expansion/revenue_service.h"

namespace {

namespace ex = cs::expansion;
namespace v1 = cs::expansion::v1;

const std::string kService = v1::ExpansionService::service_full_name();

class FakeHealth final : public ex::HealthClient {
 public:
  absl::StatusOr<ex::HealthBand> GetBand(const std::string& account_id) override {
    if (account_id == "acct-1") return ex::HealthBand::kGreen;
    if (account_id == "acct-2") return ex::HealthBand::kYellow;
    if (account_id == "acct-3") return ex::HealthBand::kRed;
    return ex::HealthBand::kNoScore;
  }
};

// Opportunities and movements get AUTO_INCREMENT ids, so the seeds' creates (run in
// order by Warm on a fresh schema) make ids 1, 2, ... that the other seeds name.
const std::vector<cs::fuzz::Seed>& Seeds() {
  static const auto* seeds = new std::vector<cs::fuzz::Seed>{
      {"CreateOpportunity",
       R"(request_id: "o1" opportunity { account_id: "acct-1" kind: OPPORTUNITY_KIND_SEAT_EXPANSION
          owner_id: "csm-1" amount { minor_units: 1200000 currency_code: "USD" }
          expected_close_date { year: 2027 month: 2 day: 28 } source: OPPORTUNITY_SOURCE_MANUAL
          title: "50 more seats" description: "team growth" tier: TIER_ENTERPRISE })"},
      {"CreateOpportunity",
       R"(request_id: "o2" opportunity { account_id: "acct-3" kind: OPPORTUNITY_KIND_ADD_ON owner_id: "csm-2"
          amount { minor_units: 300000 currency_code: "EUR" } expected_close_date { year: 2026 month: 12 day: 31 }
          tier: TIER_SMB title: "SSO add-on" source: OPPORTUNITY_SOURCE_CRM_IMPORT source_ref: "crm-42" })"},
      {"GetOpportunity", R"(opportunity_id: "1")"},
      {"ListOpportunities",
       R"(account_id: "acct-1" stage: STAGE_IDENTIFIED close_quarter { year: 2027 quarter: 1 } page { page_size: 10 })"},
      {"UpdateOpportunity",
       R"(request_id: "up1" opportunity { opportunity_id: "1" amount { minor_units: 1500000 currency_code: "USD" }
          title: "60 more seats" } update_mask { paths: "amount" paths: "title" })"},
      {"AdvanceStage",
       R"(request_id: "a1" opportunity_id: "1" to_stage: STAGE_QUALIFIED actor_id: "csm-1")"},
      {"AdvanceStage",
       R"(request_id: "a2" opportunity_id: "2" to_stage: STAGE_CLOSED_LOST loss_reason: "no budget" actor_id: "csm-2")"},
      {"AdvanceStage",
       R"(request_id: "a3" opportunity_id: "2" to_stage: STAGE_QUALIFIED health_override_reason: "exec sponsor asked" actor_id: "vp-1")"},
      {"GetStageProbabilities", ""},
      {"SetStageProbabilities",
       R"(request_id: "p1" probabilities { stage: STAGE_IDENTIFIED probability_percent: 5 }
          probabilities { stage: STAGE_QUALIFIED probability_percent: 20 }
          probabilities { stage: STAGE_PROPOSAL probability_percent: 50 }
          probabilities { stage: STAGE_NEGOTIATION probability_percent: 80 })"},
      {"UpsertAccountProfile",
       R"(request_id: "ap1" profile { account_id: "acct-1" tier: TIER_ENTERPRISE seats_licensed: 100 seats_used: 95
          usage_units: 900 usage_limit: 1000 plan: "growth" feature_requests: "sso" integration_requests: "salesforce" })"},
      {"GetAccountProfile", R"(account_id: "acct-1")"},
      {"SuggestOpportunities", R"(account_id: "acct-1")"},
      {"RecordRevenueMovement",
       R"(request_id: "m1" movement { account_id: "acct-1" month { year: 2026 month: 10 day: 1 }
          kind: MOVEMENT_KIND_EXPANSION mrr_change { minor_units: 50000 currency_code: "USD" } source: MOVEMENT_SOURCE_MANUAL })"},
      {"ListRevenueMovements", R"(account_id: "acct-1" page { page_size: 10 })"},
      {"ImportSubscriptions",
       R"(request_id: "i1"
          subscriptions { account_id: "acct-2" month { year: 2026 month: 8 day: 1 } mrr { minor_units: 100000 currency_code: "USD" } tier: TIER_MID_MARKET }
          subscriptions { account_id: "acct-2" month { year: 2026 month: 9 day: 1 } mrr { minor_units: 120000 currency_code: "USD" } tier: TIER_MID_MARKET }
          subscriptions { account_id: "acct-2" month { year: 2026 month: 10 day: 1 } mrr { minor_units: 0 currency_code: "USD" } tier: TIER_MID_MARKET })"},
      {"GetPipelineSummary", R"(currency_code: "USD" owner_id: "csm-1" tier: TIER_ENTERPRISE)"},
      {"SnapshotForecast", R"(request_id: "f1" currency_code: "USD")"},
      {"ListForecastSnapshots", R"(page { page_size: 5 })"},
      {"GetForecastAccuracy", R"(snapshot_id: "1")"},
      {"GetExpansionMetrics",
       R"(period { first_month { year: 2026 month: 1 day: 1 } last_month { year: 2026 month: 10 day: 1 } }
          currency_code: "USD" tier: TIER_ENTERPRISE)"},
      {"GetRetentionMetrics",
       R"(period { first_month { year: 2026 month: 7 day: 1 } last_month { year: 2026 month: 10 day: 1 } }
          currency_code: "USD" gross_margin_percent: 75)"},
      {"ListAuditEvents",
       R"(filter { resource_id: "1" since { seconds: 1790000000 } until { seconds: 1800000000 } } page { page_size: 10 })"},
  };
  return *seeds;
}

struct Target {
  explicit Target(cs::db::Pool* pool)
      : revenue_repository(pool, &clock),
        opportunity_repository(pool, &clock),
        revenue(&revenue_repository, &clock),
        opportunities(&opportunity_repository, &health, &clock, ex::SuggestionSettings{}),
        metrics(&opportunity_repository, &revenue_repository, &clock, ex::MetricsSettings{}),
        audit(pool),
        handler(&revenue, &opportunities, &metrics) {
    handler.AttachAuditLog(&audit);
  }

  cs::FakeClock clock{absl::FromCivil(absl::CivilSecond(2026, 11, 2, 9, 0, 0), absl::UTCTimeZone())};
  FakeHealth health;
  ex::MySqlRevenueRepository revenue_repository;
  ex::MySqlOpportunityRepository opportunity_repository;
  ex::RevenueService revenue;
  ex::OpportunityService opportunities;
  ex::MetricsService metrics;
  cs::db::AuditLog audit;
  ex::ExpansionHandler handler;
};

cs::fuzz::FuzzDatabase* database = nullptr;
Target* target = nullptr;
cs::fuzz::Harness* harness = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  cs::fuzz::MaybeWriteSeedsAndExit(kService, Seeds());
  database = new cs::fuzz::FuzzDatabase(
      cs::fuzz::OpenDatabase("fz_expansion", {{"common", &common_migrations()},
                                              {"expansion", &expansion_migrations()}}));
  target = new Target(database->pool.get());
  cs::fuzz::Harness::Options options;
  options.watch = {"SELECT COALESCE(MAX(opportunity_id), 0) FROM opportunities",
                   "SELECT COALESCE(MAX(movement_id), 0) FROM revenue_movements",
                   "SELECT COALESCE(MAX(snapshot_id), 0) FROM forecast_snapshots",
                   "SELECT COUNT(*) FROM stage_changes",
                   "SELECT COUNT(*) FROM subscription_months",
                   "SELECT COALESCE(MAX(updated_at), '') FROM account_profiles",
                   "SELECT COALESCE(SUM(probability_percent * (LENGTH(stage) + 1)), 0)"
                   " FROM stage_probabilities"};
  options.before_call = [] { target->clock.Advance(absl::Milliseconds(1)); };
  harness = new cs::fuzz::Harness(&target->handler, kService, database->pool.get(),
                                  std::move(options));
  harness->Warm(Seeds());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return harness->Run(data, size);
}
