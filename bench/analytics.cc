// The analytics scenario. The book is written straight into the health and expansion
// schemas with set-based INSERT ... SELECT over MariaDB's sequence engine (loading a
// million accounts and ten million ledger rows through the API would take hours),
// then the three portfolio-wide reads are timed through the services:
//   health     GetPortfolioSummary  accounts x account_scores by tier and band, and
//                                   each account's band 30 days ago from score_history;
//   expansion  GetRetentionMetrics  revenue_movements x ledger_accounts x
//                                   account_profiles, summed per account;
//   expansion  GetPipelineSummary   the open opportunities.
// Every seeded id starts with "bench-an-"; account i has the same tier in both schemas.

#include "bench/analytics.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <initializer_list>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/substitute.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "bench/bench_util.h"
#include "common/db/pool.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"

ABSL_FLAG(int, analytics_accounts, 1000000, "Accounts seeded for the analytics scenario");
ABSL_FLAG(int64_t, analytics_ledger_rows, 10000000,
          "Revenue-ledger rows seeded for the analytics scenario, spread evenly over the accounts");
ABSL_FLAG(int, analytics_calls, 7, "Timed calls per analytics RPC, after one warm-up call");

namespace cs::bench {
namespace {

namespace hv1 = cs::health::v1;
namespace ev1 = cs::expansion::v1;

// Ledger rows are inserted this many accounts per statement, so no single
// transaction holds millions of rows of undo.
constexpr int kAccountsPerStatement = 100000;

// The ledger covers the 24 months up to and including the current one.
constexpr char kLedgerStart[] = "(LAST_DAY(UTC_DATE()) + INTERVAL 1 DAY - INTERVAL 24 MONTH)";

// Per-account attributes as SQL over the sequence number $0, so both schemas agree
// without a join across them.
std::string AccountIdSql(const std::string& seq) {
  return absl::Substitute("CONCAT('bench-an-', LPAD($0, 7, '0'))", seq);
}
// 1-4: enterprise 10 %, mid-market 25 %, SMB 40 %, solo 25 %.
std::string TierIndexSql(const std::string& seq) {
  return absl::Substitute("(1 + ($0 % 20 >= 2) + ($0 % 20 >= 7) + ($0 % 20 >= 15))", seq);
}
std::string TierSql(const std::string& seq) {
  return absl::StrCat("ELT(", TierIndexSql(seq), ", 'ENTERPRISE', 'MID_MARKET', 'SMB', 'SOLO')");
}
// Starting MRR in minor units (USD cents), by tier, with some spread.
std::string MrrSql(const std::string& seq) {
  return absl::Substitute("(ELT($1, 400000, 120000, 30000, 8000) + $0 % 37 * 1000)", seq,
                          TierIndexSql(seq));
}
// 4 % of accounts churn: half for good (lifecycle CHURNED in health), half come back.
std::string ChurnsSql(const std::string& seq) { return absl::StrCat(seq, " % 25 = 0"); }
std::string ChurnedForGoodSql(const std::string& seq) { return absl::StrCat(seq, " % 50 = 25"); }
std::string ReactivatedSql(const std::string& seq) { return absl::StrCat(seq, " % 50 = 0"); }

absl::Status Execute(db::Pool& pool, const std::string& sql) {
  return pool.Run([&](db::Connection& conn) -> absl::Status {
    conn.Execute(sql);
    return absl::OkStatus();
  });
}

// Removes an earlier run's seeded rows (ids 'bench-an-...') from each table, in order.
absl::Status DeleteSeeded(db::Pool& pool, std::initializer_list<const char*> tables) {
  for (const char* table : tables) {
    if (absl::Status s = Execute(pool, absl::StrCat("DELETE FROM ", table,
                                                    " WHERE account_id LIKE 'bench-an-%'"));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// Accounts (lifecycle, tier, ARR), their current health score with bands spread
// about 80/15/5, and two score_history rows each: the current score, and one 90
// days old that for about 10 % of accounts is in another band, so the summary's
// band movements have work to do.
absl::Status SeedHealth(db::Pool& pool, int accounts) {
  const std::string seq = absl::StrCat("seq_1_to_", accounts);
  if (absl::Status s = DeleteSeeded(pool, {"score_history", "account_scores", "accounts"});
      !s.ok()) {
    return s;
  }
  const std::string insert_accounts = absl::StrCat(
      "INSERT INTO accounts (account_id, name, tier, employee_count, industry, owner_id,"
      " lifecycle, contract_start, renewal_date, arr_minor, arr_currency, created_at, updated_at,"
      " version)"
      " SELECT ", AccountIdSql("seq"), ", CONCAT('Analytics account ', seq), ", TierSql("seq"),
      ", ELT(", TierIndexSql("seq"), ", 1000 + seq % 9000, 100 + seq % 900, 10 + seq % 90,"
      " 1 + seq % 9),"
      " ELT(1 + seq % 4, 'SAAS', 'ECOMMERCE', 'PROFESSIONAL_SERVICES', 'OTHER'),"
      " CONCAT('csm-', seq % 500),"
      " IF(", ChurnedForGoodSql("seq"), ", 'CHURNED',"
      "    ELT(1 + seq % 3, 'ONBOARDING', 'ADOPTING', 'RENEWING')),"
      " UTC_DATE() - INTERVAL (seq % 700) DAY, UTC_DATE() + INTERVAL (seq % 365) DAY,"
      " 12 * ", MrrSql("seq"), ", 'USD', UTC_TIMESTAMP(6) - INTERVAL (seq % 700) DAY,"
      " UTC_TIMESTAMP(6), 1 FROM ", seq);
  // h is uniform over 0-99 and independent of the tier: < 80 GREEN, < 95 YELLOW, RED.
  const std::string insert_scores = absl::StrCat(
      "INSERT INTO account_scores (account_id, score_name, scorecard_id, scorecard_version,"
      " score, band, components, computed_at, published_score)"
      " SELECT id, 'health', 'default', 1, score, band, '',"
      " UTC_TIMESTAMP(6) - INTERVAL (h * 7 % 72) HOUR, score FROM ("
      "  SELECT id, h, CASE WHEN h < 80 THEN 'GREEN' WHEN h < 95 THEN 'YELLOW' ELSE 'RED' END band,"
      "   CASE WHEN h < 80 THEN 76 + h % 24 WHEN h < 95 THEN 60 + h % 15 ELSE 25 + h % 35 END score"
      "  FROM (SELECT ", AccountIdSql("seq"), " id, CRC32(CONCAT('band-', seq)) % 100 h FROM ",
      seq, ") x) y");
  // Before the period: recovered GREENs and REDs were YELLOW, declined YELLOWs were GREEN.
  const std::string insert_earlier = absl::StrCat(
      "INSERT INTO score_history (account_id, score_name, computed_at, scorecard_id,"
      " scorecard_version, score, band, components)"
      " SELECT account_id, score_name, UTC_TIMESTAMP(6) - INTERVAL 90 DAY, scorecard_id,"
      " scorecard_version, CASE earlier WHEN 'GREEN' THEN 82 WHEN 'YELLOW' THEN 67 ELSE 48 END,"
      " earlier, '' FROM ("
      "  SELECT s.*, IF(CRC32(CONCAT('moved-', account_id)) % 10 = 0,"
      "   ELT(FIELD(band, 'GREEN', 'YELLOW', 'RED'), 'YELLOW', 'GREEN', 'YELLOW'), band) earlier"
      "  FROM account_scores s WHERE account_id LIKE 'bench-an-%') p");
  const std::string insert_current =
      "INSERT INTO score_history (account_id, score_name, computed_at, scorecard_id,"
      " scorecard_version, score, band, components)"
      " SELECT account_id, score_name, computed_at, scorecard_id, scorecard_version, score, band,"
      " components FROM account_scores WHERE account_id LIKE 'bench-an-%'";
  const std::string analyze = "ANALYZE TABLE accounts, account_scores, score_history";
  for (const std::string& sql :
       {insert_accounts, insert_scores, insert_earlier, insert_current, analyze}) {
    if (absl::Status s = Execute(pool, sql); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Ledger rows of accounts [first, last], `per_account` each, all in USD. Movement 0
// is NEW; the rest are expansions (+5 %) and small contractions, spread from a
// start month in the first half year to the current month. Churned accounts
// end with a CHURN of their whole MRR in month 21 (summed from the rows just
// written), and half of them come back with a REACTIVATION in month 23.
absl::Status SeedLedgerChunk(db::Pool& pool, int first, int last, int per_account) {
  const std::string seq = absl::StrCat("seq_", first, "_to_", last);
  const std::string regular = absl::StrCat(
      "INSERT INTO revenue_movements (account_id, month, kind, mrr_change_minor, currency,"
      " recorded_at)"
      " SELECT ", AccountIdSql("seq"), ", ", kLedgerStart,
      " + INTERVAL (first_month + j * (end_month - 1 - first_month) DIV ", per_account - 1,
      ") MONTH,"
      " CASE WHEN j = 0 THEN 'NEW' WHEN r < 6 THEN 'EXPANSION' ELSE 'CONTRACTION' END,"
      " CASE WHEN j = 0 THEN mrr WHEN r < 6 THEN mrr DIV 20 ELSE -(mrr DIV ", 2 * per_account,
      ") END, 'USD', UTC_TIMESTAMP(6) FROM ("
      "  SELECT a.seq, m.seq j, a.seq % 6 first_month,"
      "   IF(", ChurnsSql("a.seq"), ", 21, 24) end_month, ", MrrSql("a.seq"), " mrr,"
      "   CRC32(CONCAT(a.seq, '-', m.seq)) % 10 r"
      "  FROM ", seq, " a JOIN seq_0_to_", per_account - 1, " m"
      "  WHERE m.seq < ", per_account, " - IF(", ReactivatedSql("a.seq"), ", 2, IF(",
      ChurnedForGoodSql("a.seq"), ", 1, 0))) x");
  const std::string churn = absl::StrCat(
      "INSERT INTO revenue_movements (account_id, month, kind, mrr_change_minor, currency,"
      " recorded_at)"
      " SELECT m.account_id, ", kLedgerStart, " + INTERVAL 21 MONTH, 'CHURN',"
      " -SUM(m.mrr_change_minor), 'USD', UTC_TIMESTAMP(6)"
      " FROM ", seq, " a JOIN revenue_movements m ON m.account_id = ", AccountIdSql("a.seq"),
      " WHERE ", ChurnsSql("a.seq"), " GROUP BY m.account_id");
  const std::string reactivation = absl::StrCat(
      "INSERT INTO revenue_movements (account_id, month, kind, mrr_change_minor, currency,"
      " recorded_at)"
      " SELECT ", AccountIdSql("seq"), ", ", kLedgerStart, " + INTERVAL 23 MONTH, 'REACTIVATION', ",
      MrrSql("seq"), ", 'USD', UTC_TIMESTAMP(6) FROM ", seq, " WHERE ", ReactivatedSql("seq"));
  for (const std::string& sql : {regular, churn, reactivation}) {
    if (absl::Status s = Execute(pool, sql); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Profiles (tier, seats, usage), a USD ledger per account, `ledger_rows` movements
// and open or closed opportunities for about 10 % of accounts across the stages.
absl::Status SeedExpansion(db::Pool& pool, int accounts, int64_t ledger_rows) {
  const std::string seq = absl::StrCat("seq_1_to_", accounts);
  if (absl::Status s = DeleteSeeded(
          pool, {"opportunities", "revenue_movements", "ledger_accounts", "account_profiles"});
      !s.ok()) {
    return s;
  }
  const std::string profiles = absl::StrCat(
      "INSERT INTO account_profiles (account_id, tier, seats_licensed, seats_used, usage_units,"
      " usage_limit, plan, feature_requests, integration_requests, updated_at)"
      " SELECT id, tier, seats, seats * (40 + seq % 61) DIV 100, seq % 100 * 1000, 100000, plan,"
      " '', '', UTC_TIMESTAMP(6) FROM (SELECT seq, ", AccountIdSql("seq"), " id, ",
      TierSql("seq"), " tier, ELT(", TierIndexSql("seq"), ", 500, 100, 25, 5) seats, ELT(",
      TierIndexSql("seq"), ", 'enterprise', 'scale', 'growth', 'starter') plan FROM ", seq, ") x");
  const std::string ledgers =
      absl::StrCat("INSERT INTO ledger_accounts (account_id, currency) SELECT ",
                   AccountIdSql("seq"), ", 'USD' FROM ", seq);
  // Stages by b (0-19): identified 30 %, qualified 20 %, proposal 15 %,
  // negotiation 10 %, won 15 %, lost 10 %; the probability is the stage's default.
  // b comes from MD5, not CRC32: CRC32 is linear, so it would follow the CRC32 that
  // picks the accounts.
  const std::string opportunities = absl::StrCat(
      "INSERT INTO opportunities (account_id, kind, stage, owner_id, amount_minor, currency,"
      " probability_percent, expected_close_date, source, source_ref, title, description, tier,"
      " loss_reason, created_at, updated_at, closed_at, version)"
      " SELECT ", AccountIdSql("o.seq"), ","
      " ELT(1 + o.seq % 9, 'SEAT_EXPANSION', 'FEATURE_UPSELL', 'USAGE_EXPANSION',"
      "  'VERTICAL_EXPANSION', 'INTEGRATION_EXPANSION', 'PLAN_UPGRADE', 'ADD_ON', 'CROSS_SELL',"
      "  'CUSTOM_SOLUTION'),"
      " o.stage, CONCAT('csm-', o.seq % 500), 3 * ", MrrSql("o.seq"), ", 'USD',"
      " p.probability_percent,"
      " COALESCE(DATE(o.closed_at), UTC_DATE() + INTERVAL (o.seq % 270) DAY),"
      " ELT(1 + o.seq % 4, 'MANUAL', 'PLAYBOOK', 'SIGNAL_RULE', 'CRM_IMPORT'), '',"
      " CONCAT('Expansion for analytics account ', o.seq), '', ", TierSql("o.seq"), ","
      " IF(o.stage = 'CLOSED_LOST', 'No budget this year', ''), o.created_at,"
      " COALESCE(o.closed_at, o.created_at), o.closed_at, 1 FROM ("
      "  SELECT seq, stage, UTC_TIMESTAMP(6) - INTERVAL (30 + seq % 300) DAY created_at,"
      "   IF(stage LIKE 'CLOSED%', UTC_TIMESTAMP(6) - INTERVAL (seq % 30) DAY, NULL) closed_at"
      "  FROM (SELECT seq, ELT(1 + (b >= 6) + (b >= 10) + (b >= 13) + (b >= 15) + (b >= 18),"
      "    'IDENTIFIED', 'QUALIFIED', 'PROPOSAL', 'NEGOTIATION', 'CLOSED_WON', 'CLOSED_LOST') stage"
      "   FROM (SELECT seq, CONV(LEFT(MD5(CONCAT('stage-', seq)), 6), 16, 10) % 20 b FROM ", seq,
      "    WHERE CRC32(CONCAT('opportunity-', seq)) % 10 = 0) s) t) o"
      " JOIN stage_probabilities p ON p.stage = o.stage");
  for (const std::string& sql : {profiles, ledgers}) {
    if (absl::Status s = Execute(pool, sql); !s.ok()) return s;
  }
  // At least three rows per account: a churned account needs NEW, CHURN and REACTIVATION.
  const int per_account = static_cast<int>(std::max<int64_t>(3, ledger_rows / accounts));
  for (int first = 1; first <= accounts; first += kAccountsPerStatement) {
    const int last = std::min(accounts, first + kAccountsPerStatement - 1);
    if (absl::Status s = SeedLedgerChunk(pool, first, last, per_account); !s.ok()) return s;
  }
  for (const std::string& sql :
       {opportunities, std::string("ANALYZE TABLE revenue_movements, ledger_accounts,"
                                   " account_profiles, opportunities")}) {
    if (absl::Status s = Execute(pool, sql); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Seeding is one long statement at a time on one connection, read for as long as
// a statement of millions of rows may take.
DbConfig SeedConfig(const DbConfig& base, const std::string& schema) {
  DbConfig config = base;
  config.schema = schema;
  config.pool_size = 1;
  config.io_timeout = absl::Minutes(30);
  return config;
}

// One warm-up call (timed on its own), then `calls` timed calls; `call` returns the call's status and
// sets a note describing the answer (so the log shows the read did real work).
bool TimeCalls(const std::string& figure, int calls,
               const std::function<grpc::Status(std::string* note)>& call) {
  std::string note;
  const Clock::time_point first = Clock::now();
  if (grpc::Status s = call(&note); !s.ok()) return Fail(figure + " (warm-up)", s);
  // The first call also builds whatever the service keeps in memory for the answer.
  Report(absl::StrCat("analytics.", figure, ".first_call_ms"),
         Seconds(Clock::now() - first) * 1000, "ms", "the warm-up call");
  Latencies latency;
  for (int i = 0; i < calls; ++i) {
    const Clock::time_point start = Clock::now();
    if (grpc::Status s = call(&note); !s.ok()) return Fail(figure, s);
    latency.Add(Seconds(Clock::now() - start) * 1e6);
  }
  Report(absl::StrCat("analytics.", figure, ".p50_ms"), latency.Percentile(50) / 1000, "ms",
         absl::StrFormat("%d calls; %s", calls, note));
  Report(absl::StrCat("analytics.", figure, ".p90_ms"), latency.Percentile(90) / 1000, "ms");
  Report(absl::StrCat("analytics.", figure, ".max_ms"), latency.Percentile(100) / 1000, "ms");
  return true;
}

void SetMonth(absl::CivilMonth m, cs::common::v1::Date* out) {
  out->set_year(static_cast<int32_t>(m.year()));
  out->set_month(m.month());
  out->set_day(1);
}

}  // namespace

bool AnalyticsScenario(const AnalyticsTargets& targets) {
  const int accounts = absl::GetFlag(FLAGS_analytics_accounts);
  const int64_t ledger_rows = absl::GetFlag(FLAGS_analytics_ledger_rows);
  const int calls = absl::GetFlag(FLAGS_analytics_calls);
  if (accounts < 1 || accounts > 9999999 || ledger_rows < 1 || calls < 1) {
    std::fprintf(stderr, "analytics: need 1-9999999 accounts, ledger rows and calls\n");
    return false;
  }
  absl::PrintF("analytics: %d accounts, %d ledger rows, %d calls per RPC after a warm-up\n",
               accounts, ledger_rows, calls);
  const Clock::time_point seed_start = Clock::now();
  {
    db::Pool health(SeedConfig(targets.db, targets.health_schema));
    if (absl::Status s = SeedHealth(health, accounts); !s.ok()) {
      std::fprintf(stderr, "analytics seed (health): %s\n", std::string(s.message()).c_str());
      return false;
    }
  }
  Report("analytics.seed_health_seconds", Seconds(Clock::now() - seed_start), "s",
         "(set-up) accounts, scores, score history");
  const Clock::time_point expansion_start = Clock::now();
  {
    db::Pool expansion(SeedConfig(targets.db, targets.expansion_schema));
    if (absl::Status s = SeedExpansion(expansion, accounts, ledger_rows); !s.ok()) {
      std::fprintf(stderr, "analytics seed (expansion): %s\n", std::string(s.message()).c_str());
      return false;
    }
  }
  Report("analytics.seed_expansion_seconds", Seconds(Clock::now() - expansion_start), "s",
         "(set-up) profiles, ledger, opportunities");
  Report("analytics.seed_seconds", Seconds(Clock::now() - seed_start), "s", "(set-up)");

  // Portfolio-wide reads may take long at this size; the deadline only guards a hang.
  const absl::Duration deadline = absl::Minutes(10);
  auto health = hv1::AccountHealthService::NewStub(Channel(targets.health_addr, 4000));
  auto expansion = ev1::ExpansionService::NewStub(Channel(targets.expansion_addr, 4001));
  // Each RPC is measured even when another failed.
  bool ok = TimeCalls("portfolio_summary", calls, [&](std::string* note) {
    hv1::GetPortfolioSummaryRequest request;
    hv1::GetPortfolioSummaryResponse response;
    grpc::Status s = health->GetPortfolioSummary(Context(deadline).get(), request, &response);
    int64_t moved = 0;
    for (const hv1::BandMovement& m : response.movements()) moved += m.accounts();
    *note = absl::StrFormat("%d accounts (%d red), %d moved band in %d days",
                            response.overall().accounts(), response.overall().red(), moved,
                            response.period_days());
    return s;
  });
  const absl::CivilMonth this_month = absl::ToCivilMonth(absl::Now(), absl::UTCTimeZone());
  ok = TimeCalls("retention_metrics", calls, [&](std::string* note) {
    ev1::GetRetentionMetricsRequest request;
    SetMonth(this_month - 11, request.mutable_period()->mutable_first_month());
    SetMonth(this_month, request.mutable_period()->mutable_last_month());
    request.set_currency_code("USD");
    ev1::GetRetentionMetricsResponse response;
    grpc::Status s = expansion->GetRetentionMetrics(Context(deadline).get(), request, &response);
    *note = absl::StrFormat("12 months, cohort of %d accounts, %d churned, NRR %.3f",
                            response.overall().starting_accounts(),
                            response.overall().churned_accounts(),
                            response.overall().net_revenue_retention());
    return s;
  }) && ok;
  ok = TimeCalls("pipeline_summary", calls, [&](std::string* note) {
    ev1::GetPipelineSummaryRequest request;
    request.set_currency_code("USD");
    ev1::GetPipelineSummaryResponse response;
    grpc::Status s = expansion->GetPipelineSummary(Context(deadline).get(), request, &response);
    *note = absl::StrFormat("%d open opportunities in %d quarters", response.open().count(),
                            response.forecast_by_quarter_size());
    return s;
  }) && ok;
  return ok;
}

}  // namespace cs::bench
