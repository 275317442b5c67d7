// libFuzzer target of the health service: every unary RPC of AccountHealthService
// through the real handler, services and MySQL repositories on a throwaway schema.
// See fuzz/harness.h for the input format and the invariants.
//
// Besides the harness's checks: a refused RecordSignals or TrackEvents leaves no
// signal of the accounts it names and nothing in the dead-letter list (the atomic
// batch contract of health.proto; a non-atomic batch answers OK with per-record acks).

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/db/audit_log.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "fuzz/harness.h"
#include "services/health/account_service.h"
#include "services/health/event_service.h"
#include "services/health/first_value.h"
#include "services/health/first_value_store.h"
#include "services/health/grpc_handler.h"
#include "services/health/health_mapping.h"
#include "services/health/health_service.h"
#include "services/health/mysql_account_repository.h"
#include "services/health/mysql_event_repository.h"
#include "services/health/mysql_health_repository.h"
#include "services/health/proto_mapping.h"
#include "services/health/logged_signals_sql.h"

namespace {

namespace v1 = cs::health::v1;

const std::string kService = v1::AccountHealthService::service_full_name();

// Valid requests, one or more per RPC, around a handful of accounts so mutations
// hit existing rows as often as missing ones. The clock below starts on 2026-11-02.
const std::vector<cs::fuzz::Seed>& Seeds() {
  static const auto* seeds = new std::vector<cs::fuzz::Seed>{
      {"UpsertAccount",
       R"(request_id: "u1" account { account_id: "acct-1" name: "Acme Health" employee_count: 1200
          industry: INDUSTRY_HEALTHCARE owner_id: "csm-1" contract_start { year: 2025 month: 1 day: 15 }
          renewal_date { year: 2027 month: 1 day: 15 } arr { minor_units: 12000000 currency_code: "USD" } })"},
      {"UpsertAccount",
       R"(account { account_id: "acct-2" name: "Beta" tier: TIER_SMB employee_count: 40
          industry: INDUSTRY_SAAS lifecycle: LIFECYCLE_ADOPTING arr { minor_units: 500000 currency_code: "EUR" } })"},
      {"GetAccount", R"(account_id: "acct-1")"},
      {"MarkChurned",
       R"(request_id: "c1" account_id: "acct-2" churned_on { year: 2026 month: 10 day: 30 } reason: "budget")"},
      {"ListAccounts", R"(tier: TIER_ENTERPRISE page { page_size: 10 })"},
      {"ListAccounts", R"(band: BAND_RED lifecycle: LIFECYCLE_ONBOARDING owner_id: "csm-1")"},
      {"ListEvents", R"(after_sequence: 0 page_size: 5)"},
      {"RecordSignals",
       R"(request_id: "s1" signals { event_id: "e1" account_id: "acct-1" kind: SIGNAL_KIND_LOGIN
            occurred_at { seconds: 1793500000 } }
          signals { event_id: "e2" account_id: "acct-1" kind: SIGNAL_KIND_FEATURE_USED feature: "reports"
            occurred_at { seconds: 1793510000 } }
          signals { event_id: "e3" account_id: "acct-1" kind: SIGNAL_KIND_TICKET_RESOLVED value: 4 csat: 5
            occurred_at { seconds: 1793520000 } })"},
      {"RecordSignals",
       R"(atomic: true signals { event_id: "e4" account_id: "acct-1" kind: SIGNAL_KIND_NPS_RESPONSE value: 9
            occurred_at { seconds: 1793530000 } }
          signals { event_id: "e5" account_id: "acct-2" kind: SIGNAL_KIND_UPSELL_INTEREST
            occurred_at { seconds: 1793530000 } })"},
      {"SetEventMapping",
       R"(request_id: "m1" mapping { event_name: "Report Shared" kind: SIGNAL_KIND_FEATURE_USED
          feature_property: "feature" })"},
      {"SetEventMapping",
       R"(mapping { event_name: "Session" kind: SIGNAL_KIND_SESSION_MINUTES value_property: "minutes" })"},
      {"TrackEvents",
       R"(request_id: "t1" events { message_id: "m1" event: "Report Shared" user_id: "u1" group_id: "acct-1"
            timestamp { seconds: 1793500000 }
            properties { fields { key: "feature" value { string_value: "reports" } }
                         fields { key: "minutes" value { number_value: 12 } } } })"},
      {"TrackEvents",
       R"(atomic: true events { message_id: "m2" event: "Logged In" group_id: "acct-1"
            timestamp { seconds: 1793500000 } })"},
      {"ListEventMappings", ""},
      {"ListRejectedRecords", R"(source: "RecordSignals" account_id: "acct-1" page { page_size: 20 })"},
      {"CreateScorecard",
       R"(request_id: "sc1" scorecard { scorecard_id: "ent" score_name: "enterprise" description: "for large accounts"
          components { component: COMPONENT_PRODUCT_USAGE weight: 60
            measure { measure: "logins_per_week" lookback_days: 30 direction: DIRECTION_HIGHER_IS_BETTER zero_at: 0 hundred_at: 20 } }
          components { component: COMPONENT_SUPPORT weight: 40
            measure { measure: "tickets_per_month" lookback_days: 90 direction: DIRECTION_LOWER_IS_BETTER zero_at: 10 hundred_at: 0 } }
          bands { green_above: 70 red_below: 40 } tiers: TIER_ENTERPRISE industries: INDUSTRY_HEALTHCARE })"},
      {"UpdateScorecard",
       R"(request_id: "sc2" scorecard { scorecard_id: "default" score_name: "health" version: 1
          components { component: COMPONENT_PRODUCT_USAGE weight: 50
            measure { measure: "logins_per_week" lookback_days: 30 direction: DIRECTION_HIGHER_IS_BETTER zero_at: 0 hundred_at: 20 } }
          components { component: COMPONENT_PAYMENT_HISTORY weight: 50
            measure { measure: "on_time_payment_ratio" lookback_days: 365 direction: DIRECTION_HIGHER_IS_BETTER zero_at: 0.5 hundred_at: 1 } }
          bands { green_above: 70 red_below: 40 } })"},
      {"GetScorecard", R"(scorecard_id: "default")"},
      {"GetScorecard", R"(scorecard_id: "default" version: 1)"},
      {"ListScorecards", ""},
      {"GetHealth", R"(account_id: "acct-1")"},
      {"GetHealth", R"(account_id: "acct-1" score_name: "health" as_of { seconds: 1793000000 })"},
      {"GetHealthHistory",
       R"(account_id: "acct-1" score_name: "health" from { year: 2026 month: 9 day: 1 } to { year: 2026 month: 11 day: 1 })"},
      {"ExplainChange",
       R"(account_id: "acct-1" from { seconds: 1790000000 } to { seconds: 1793500000 })"},
      {"ListAtRisk", R"(score_name: "health" bands: BAND_RED bands: BAND_YELLOW order: AT_RISK_ORDER_ARR page { page_size: 5 })"},
      {"GetPortfolioSummary", R"(score_name: "health" period_days: 30)"},
      {"SetOverride",
       R"(request_id: "o1" override { account_id: "acct-1" score_name: "health" score: 35 reason: "exec sponsor left"
          set_by: "csm-1" expires_at { seconds: 1796000000 } })"},
      {"ListOverrides", R"(account_id: "acct-1")"},
      {"ListAlerts", R"(account_id: "acct-1" kind: ALERT_KIND_USAGE_DECLINE open_only: true page { page_size: 10 })"},
      {"GetAlertSettings", ""},
      {"SetAlertSettings",
       R"(request_id: "as1" settings { period_days: 30 usage_decline_pct: 30 engagement_drop_pct: 40
          ticket_increase_pct: 50 communication_drop_pct: 50 score_threshold: 40 min_baseline: 5 })"},
      {"BacktestScorecard",
       R"(scorecard_id: "default" as_of { year: 2026 month: 6 day: 1 } horizon_days: 90)"},
      {"TrainChurnModel",
       R"(request_id: "tm1" cutoff { year: 2026 month: 6 day: 1 } horizon_days: 90 lookback_days: 90
          holdout_fraction: 0.25 seed: 7)"},
      {"GetChurnModel", R"(model_id: 1)"},
      {"ListAuditEvents",
       R"(filter { account_id: "acct-1" method: "/cs.health.v1.AccountHealthService/UpsertAccount"
          since { seconds: 1790000000 } } page { page_size: 20 })"},
      {"GetFirstValueDefinitions", ""},
      {"SetFirstValueDefinition",
       R"(request_id: "fv1" definition { tier: TIER_ENTERPRISE version: 1 signal_kind: SIGNAL_KIND_FEATURE_USED feature: "reports" })"},
      {"SetFirstValueDefinition",
       R"(definition { tier: TIER_SMB version: 1 signal_kind: SIGNAL_KIND_LOGIN })"},
  };
  return *seeds;
}

struct Target {
  explicit Target(cs::db::Pool* pool)
      : accounts_repository(pool, &clock, cs::health::EncodeAccountEvent),
        accounts(&accounts_repository, &clock),
        event_repository(pool),
        events(&event_repository),
        health_repository(pool, &clock, cs::health::HealthEncoders()),
        health(&health_repository, &clock),
        first_value_repository(pool, &clock),
        first_value(&first_value_repository, &clock),
        audit(pool),
        handler(&accounts, &events, &health) {
    // Attached as main.cc attaches them, so their RPCs are fuzzed too.
    handler.AttachFirstValue(&first_value);
    handler.AttachAuditLog(&audit);
  }

  // Fixed start, 1 ms per call: runs are repeatable and every write gets a later
  // time than the one before.
  cs::FakeClock clock{absl::FromCivil(absl::CivilSecond(2026, 11, 2, 9, 0, 0), absl::UTCTimeZone())};
  cs::health::MySqlAccountRepository accounts_repository;
  cs::health::AccountService accounts;
  cs::health::MySqlEventRepository event_repository;
  cs::health::EventService events;
  cs::health::MySqlHealthRepository health_repository;
  cs::health::HealthService health;
  cs::health::MySqlFirstValueRepository first_value_repository;
  cs::health::FirstValueService first_value;
  cs::db::AuditLog audit;
  cs::health::AccountHealthHandler handler;
};

// Signals stored for the accounts a RecordSignals / TrackEvents request names (at
// most 32 of them, so a 1000-record batch costs a bounded number of lookups).
std::string BatchRows(cs::db::Connection& conn, const cs::fuzz::Call& call) {
  std::set<std::string> accounts;
  if (call.method->name() == "RecordSignals") {
    const auto& r = static_cast<const v1::RecordSignalsRequest&>(*call.request);
    for (const v1::Signal& s : r.signals()) {
      if (accounts.size() < 32) accounts.insert(s.account_id());
    }
  } else if (call.method->name() == "TrackEvents") {
    const auto& r = static_cast<const v1::TrackEventsRequest&>(*call.request);
    for (const v1::TrackEvent& e : r.events()) {
      if (accounts.size() < 32) accounts.insert(e.group_id());
    }
  } else {
    return "";
  }
  std::string out;
  sql::PreparedStatement& count = conn.Prepare(cs::health::CountLoggedSignalsSql("account_id = ?"));
  for (const std::string& account : accounts) {
    count.setString(1, account);
    std::unique_ptr<sql::ResultSet> rs(count.executeQuery());
    rs->next();
    absl::StrAppend(&out, account.size(), ":", rs->getInt64(1), ",");
  }
  return out;
}

cs::fuzz::FuzzDatabase* database = nullptr;
Target* target = nullptr;
cs::fuzz::Harness* harness = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  cs::fuzz::MaybeWriteSeedsAndExit(kService, Seeds());
  database = new cs::fuzz::FuzzDatabase(
      cs::fuzz::OpenDatabase("fz_health", {{"common", &common_migrations()},
                                           {"health", &health_migrations()}}));
  target = new Target(database->pool.get());
  if (absl::Status s = target->health_repository.EnsureDefaultScorecard(target->clock.Now());
      !s.ok()) {
    std::fprintf(stderr, "fuzz: default scorecard: %s\n", s.ToString().c_str());
    std::exit(2);
  }
  cs::fuzz::Harness::Options options;
  options.watch = {"SELECT COALESCE(MAX(id), 0) FROM rejected_records",
                   "SELECT COUNT(*) FROM scorecard_versions",
                   "SELECT COUNT(*) FROM event_mappings"};
  options.call_snapshot = BatchRows;
  options.before_call = [] { target->clock.Advance(absl::Milliseconds(1)); };
  harness = new cs::fuzz::Harness(&target->handler, kService, database->pool.get(),
                                  std::move(options));
  harness->Warm(Seeds());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return harness->Run(data, size);
}
