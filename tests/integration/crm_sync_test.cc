// crm-sync against the real health service (and expansion for opportunities): each
// adapter on the sample files in tools/crm-sync/testdata, re-import idempotence, bad
// rows reported by line while the good ones land, and resume after an interruption.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/test_db.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

namespace hv1 = ::cs::health::v1;
namespace ev1 = ::cs::expansion::v1;
using ::testing::HasSubstr;
using ::testing::Not;

using SyncRun = CommandRun;

struct Counts {
  long read = -1, imported = -1, skipped = -1, failed = -1;
};

// The numbers of the summary line "read R, imported I, skipped S, failed F ...".
Counts SummaryOf(const std::string& output) {
  Counts c;
  const size_t at = output.rfind("read ");
  if (at != std::string::npos) {
    std::sscanf(output.c_str() + at, "read %ld, imported %ld, skipped %ld, failed %ld", &c.read,
                &c.imported, &c.skipped, &c.failed);
  }
  return c;
}

std::string Data(const std::string& name) { return absl::StrCat(CS_CRM_SYNC_TESTDATA, "/", name); }

// A private copy of a sample file, so checkpoints land in the test's own directory.
std::string Copy(const std::string& name) {
  const std::string to = absl::StrCat(::testing::TempDir(), "/crm-sync-", getpid(), "-", name);
  std::ifstream in(Data(name), std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  out << in.rdbuf();
  std::remove(absl::StrCat(to, ".crm-sync-state").c_str());
  return to;
}

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

class CrmSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "crmsync");
    health_ = std::make_unique<RunningService>("health", CS_HEALTH_SERVER, db_->uri(), "crmsync");
    ASSERT_TRUE(health_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << health_->Log();
    stub_ = hv1::AccountHealthService::NewStub(health_->channel());
  }
  void TearDown() override {
    for (RunningService* s : {expansion_.get(), health_.get()}) {
      if (s == nullptr) continue;
      s->process().Signal(SIGTERM);
      s->process().WaitExit(absl::Seconds(15));
    }
  }

  std::string Addresses() const {
    std::string out = absl::StrCat(" --health-addr 127.0.0.1:", health_->port());
    if (expansion_ != nullptr) absl::StrAppend(&out, " --expansion-addr 127.0.0.1:", expansion_->port());
    return absl::StrCat(out, " --timeout 10s");
  }

  SyncRun CrmSync(const std::string& args) {
    const std::string command = absl::StrCat(CS_CRM_SYNC, " ", args, Addresses());
    return RunCommand(command);
  }

  absl::StatusOr<hv1::Account> GetAccount(const std::string& id) {
    hv1::GetAccountRequest request;
    request.set_account_id(id);
    hv1::GetAccountResponse response;
    grpc::Status status = stub_->GetAccount(Context().get(), request, &response);
    if (!status.ok()) return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
    return response.account();
  }

  // Imports `file` in batches of 10 in a child process and sends it `sig` `after` the
  // first checkpoint appears, i.e. part-way through; the child's exit code.
  std::optional<int> ImportAndSignalMidway(const std::string& file, const std::string& log, int sig,
                                           absl::Duration after) {
    ChildProcess run({CS_CRM_SYNC, "import", "zendesk-tickets", file, "--batch-size", "10",
                      "--health-addr", absl::StrCat("127.0.0.1:", health_->port())},
                     log);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!Exists(file + ".crm-sync-state") && absl::Now() < deadline && run.running()) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    absl::SleepFor(after);
    run.Signal(sig);
    return run.WaitExit(absl::Seconds(30));
  }

  // The sample Salesforce accounts, which the signal adapters refer to.
  void ImportAccounts() {
    SyncRun run = CrmSync(absl::StrCat("import salesforce-accounts ", Copy("salesforce_accounts.csv")));
    ASSERT_EQ(run.exit_code, 4) << run.output;
    ASSERT_EQ(SummaryOf(run.output).imported, 3) << run.output;
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<TestDatabase> expansion_db_;
  std::unique_ptr<RunningService> health_;
  std::unique_ptr<RunningService> expansion_;
  std::unique_ptr<hv1::AccountHealthService::Stub> stub_;
};

TEST_F(CrmSyncTest, SalesforceAccountsBadRowsByLineGoodRowsLandReimportChangesNothing) {
  const std::string file = Copy("salesforce_accounts.csv");
  SyncRun first = CrmSync(absl::StrCat("import salesforce-accounts ", file));
  // Some rows failed: exit 4, each named by its line (the quoted CRLF in row 2 makes
  // the later rows start one line further down).
  EXPECT_EQ(first.exit_code, 4) << first.output;
  EXPECT_THAT(first.output, HasSubstr("line 6: NumberOfEmployees: 'lots' is not a whole number"));
  EXPECT_THAT(first.output, HasSubstr("line 7: Name: invalid UTF-8 at byte 4"));
  EXPECT_THAT(first.output, HasSubstr("line 8: 5 fields, the header has 7"));
  EXPECT_THAT(first.output, HasSubstr("line 9: Name: required but empty"));
  Counts c = SummaryOf(first.output);
  EXPECT_EQ(c.read, 7);
  EXPECT_EQ(c.imported, 3);
  EXPECT_EQ(c.failed, 4);

  absl::StatusOr<hv1::Account> acme = GetAccount("001A000001");
  ASSERT_TRUE(acme.ok()) << acme.status();
  EXPECT_EQ(acme->name(), "Acme, Inc.");
  EXPECT_EQ(acme->tier(), hv1::TIER_ENTERPRISE);  // derived from 1500 employees
  EXPECT_EQ(acme->industry(), hv1::INDUSTRY_HEALTHCARE);
  EXPECT_EQ(acme->arr().minor_units(), 120000000);
  EXPECT_EQ(acme->owner_id(), "csm-1");
  absl::StatusOr<hv1::Account> globex = GetAccount("001A000002");
  ASSERT_TRUE(globex.ok());
  EXPECT_EQ(globex->tier(), hv1::TIER_MID_MARKET);
  EXPECT_EQ(globex->industry(), hv1::INDUSTRY_FINANCIAL_SERVICES);
  EXPECT_EQ(GetAccount("001A000004").status().code(), absl::StatusCode::kNotFound);

  SyncRun again = CrmSync(absl::StrCat("import salesforce-accounts ", file));
  EXPECT_EQ(again.exit_code, 4) << again.output;
  Counts c2 = SummaryOf(again.output);
  EXPECT_EQ(c2.imported, 0) << again.output;
  EXPECT_EQ(c2.skipped, 3);
  absl::StatusOr<hv1::Account> acme_again = GetAccount("001A000001");
  ASSERT_TRUE(acme_again.ok());
  EXPECT_EQ(acme_again->etag(), acme->etag());
  EXPECT_EQ(acme_again->updated_at().seconds(), acme->updated_at().seconds());
}

TEST_F(CrmSyncTest, HubspotCompaniesThroughASiteMapping) {
  SyncRun run = CrmSync(absl::StrCat("import hubspot-companies ", Copy("hubspot_companies.csv"),
                                 " --mapping ", Data("hubspot_mapping.yaml")));
  EXPECT_EQ(run.exit_code, 4) << run.output;
  EXPECT_THAT(run.output, HasSubstr("line 4: Headcount: 'abc' is not a whole number"));
  absl::StatusOr<hv1::Account> stark = GetAccount("hs-1");
  ASSERT_TRUE(stark.ok()) << stark.status();
  EXPECT_EQ(stark->employee_count(), 2400);
  EXPECT_EQ(stark->tier(), hv1::TIER_ENTERPRISE);
  EXPECT_EQ(stark->industry(), hv1::INDUSTRY_OTHER);
  absl::StatusOr<hv1::Account> wayne = GetAccount("hs-2");
  ASSERT_TRUE(wayne.ok());
  EXPECT_EQ(wayne->industry(), hv1::INDUSTRY_FINANCIAL_SERVICES);

  // A mapping naming a column the file lacks stops before any row, exit 2.
  const std::string bad = absl::StrCat(::testing::TempDir(), "/crm-sync-bad-", getpid(), ".yaml");
  std::ofstream(bad) << "columns:\n  account_id: Nope\n";
  SyncRun refused = CrmSync(absl::StrCat("import hubspot-companies ", Copy("hubspot_companies.csv"),
                                     " --mapping ", bad));
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("column 'Nope' is not in the header"));
}

TEST_F(CrmSyncTest, ZendeskTicketsCsvAndJsonBecomeSignalsOnce) {
  ImportAccounts();
  const std::string csv = Copy("zendesk_tickets.csv");
  SyncRun first = CrmSync(absl::StrCat("import zendesk-tickets ", csv));
  EXPECT_EQ(first.exit_code, 4) << first.output;
  EXPECT_THAT(first.output, HasSubstr("line 5: Created at: '03/32/2026' is not a date"));
  Counts c = SummaryOf(first.output);
  EXPECT_EQ(c.imported, 4) << first.output;
  EXPECT_EQ(c.failed, 1);
  // The signals landed: Acme now has a score.
  hv1::GetHealthRequest get;
  get.set_account_id("001A000001");
  hv1::GetHealthResponse health;
  ASSERT_TRUE(stub_->GetHealth(Context().get(), get, &health).ok());

  SyncRun again = CrmSync(absl::StrCat("import zendesk-tickets ", csv));
  Counts c2 = SummaryOf(again.output);
  EXPECT_EQ(c2.imported, 0) << again.output;
  EXPECT_EQ(c2.skipped, 4);

  SyncRun json = CrmSync(absl::StrCat("import zendesk-tickets ", Copy("zendesk_tickets.json")));
  EXPECT_EQ(json.exit_code, 4) << json.output;
  EXPECT_THAT(json.output, HasSubstr("line 3: not valid JSON"));
  EXPECT_THAT(json.output, HasSubstr("line 4: not a JSON object"));
  EXPECT_EQ(SummaryOf(json.output).imported, 2) << json.output;
}

TEST_F(CrmSyncTest, BillingInvoicesBecomePaymentSignals) {
  ImportAccounts();
  const std::string file = Copy("billing_invoices.csv");
  SyncRun run = CrmSync(absl::StrCat("import billing ", file));
  EXPECT_EQ(run.exit_code, 4) << run.output;
  EXPECT_THAT(run.output, HasSubstr("line 7: status: 'disputed' is not paid"));
  Counts c = SummaryOf(run.output);
  EXPECT_EQ(c.read, 6);
  EXPECT_EQ(c.imported, 4);
  EXPECT_EQ(c.skipped, 1);  // the void invoice
  EXPECT_EQ(c.failed, 1);
  SyncRun again = CrmSync(absl::StrCat("import billing ", file));
  EXPECT_EQ(SummaryOf(again.output).imported, 0) << again.output;
  EXPECT_EQ(SummaryOf(again.output).skipped, 5);
}

TEST_F(CrmSyncTest, SegmentEventsThroughTheEventMap) {
  ImportAccounts();
  const std::string file = Copy("segment_events.jsonl");
  SyncRun run = CrmSync(absl::StrCat("import segment ", file, " --mapping ", Data("segment_mapping.yaml")));
  EXPECT_EQ(run.exit_code, 4) << run.output;
  EXPECT_THAT(run.output, HasSubstr("line 4: not valid JSON"));
  // The service refused this one (no mapping for the event); the line still says which.
  EXPECT_THAT(run.output, HasSubstr("line 5: "));
  EXPECT_THAT(run.output, HasSubstr("no event mapping for 'Invited Teammate'"));
  EXPECT_EQ(SummaryOf(run.output).imported, 3) << run.output;
  hv1::ListEventMappingsResponse mappings;
  ASSERT_TRUE(stub_->ListEventMappings(Context().get(), {}, &mappings).ok());
  EXPECT_EQ(mappings.mappings_size(), 3);

  SyncRun again = CrmSync(absl::StrCat("import segment ", file, " --mapping ", Data("segment_mapping.yaml")));
  EXPECT_EQ(SummaryOf(again.output).imported, 0) << again.output;
  EXPECT_EQ(SummaryOf(again.output).skipped, 3);

  // Mixpanel's export through a JSON mapping; a line without $insert_id still dedupes.
  const std::string mixpanel = Copy("mixpanel_events.jsonl");
  const std::string map = Data("mixpanel_mapping.json");
  SyncRun mp = CrmSync(absl::StrCat("import segment ", mixpanel, " --mapping ", map));
  EXPECT_EQ(mp.exit_code, 0) << mp.output;
  EXPECT_EQ(SummaryOf(mp.output).imported, 2) << mp.output;
  SyncRun mp_again = CrmSync(absl::StrCat("import segment ", mixpanel, " --mapping ", map));
  EXPECT_EQ(SummaryOf(mp_again.output).skipped, 2) << mp_again.output;
}

// A file big enough that the run can be interrupted part-way.
std::string ManyTickets(int rows) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/crm-sync-many-", getpid(), ".csv");
  std::ofstream out(path, std::ios::trunc);
  out << "Id,Organization,Created at,Solved at,Status\n";
  for (int i = 1; i <= rows; ++i) out << "t" << i << ",001A000001,2026-03-01 10:00:00,,open\n";
  std::remove(absl::StrCat(path, ".crm-sync-state").c_str());
  return path;
}

TEST_F(CrmSyncTest, StoppedWithLimitResumesWhereItStopped) {
  ImportAccounts();
  const std::string file = ManyTickets(7);
  SyncRun first = CrmSync(absl::StrCat("import zendesk-tickets ", file, " --limit 3 --batch-size 2"));
  EXPECT_EQ(first.exit_code, 0) << first.output;
  EXPECT_THAT(first.output, HasSubstr("stopped before line 5"));
  EXPECT_EQ(SummaryOf(first.output).imported, 3);
  EXPECT_TRUE(Exists(file + ".crm-sync-state"));
  SyncRun second = CrmSync(absl::StrCat("import zendesk-tickets ", file));
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("resumed at line 5"));
  Counts c = SummaryOf(second.output);
  EXPECT_EQ(c.read, 4);
  EXPECT_EQ(c.imported, 4);
  EXPECT_EQ(c.skipped, 0);
  EXPECT_FALSE(Exists(file + ".crm-sync-state"));
}

TEST_F(CrmSyncTest, InterruptedRunResumesAndEveryRowLandsOnce) {
  ImportAccounts();
  constexpr int kRows = 3000;
  const std::string file = ManyTickets(kRows);
  const std::string log = absl::StrCat(::testing::TempDir(), "/crm-sync-int-", getpid(), ".log");
  std::optional<int> code = ImportAndSignalMidway(file, log, SIGINT, absl::ZeroDuration());
  ASSERT_TRUE(code.has_value());
  ASSERT_EQ(*code, 130) << ReadFile(log);
  const std::string first_output = ReadFile(log);
  Counts first = SummaryOf(first_output);
  EXPECT_GT(first.imported, 0) << first_output;
  EXPECT_LT(first.imported, kRows) << first_output;
  EXPECT_THAT(first_output, HasSubstr("run again to resume"));
  ASSERT_TRUE(Exists(file + ".crm-sync-state"));

  SyncRun second = CrmSync(absl::StrCat("import zendesk-tickets ", file, " --batch-size 500"));
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("resumed at line"));
  Counts c = SummaryOf(second.output);
  // The checkpoint was written after the last committed batch: nothing is sent twice.
  EXPECT_EQ(first.imported + c.imported, kRows) << first_output << second.output;
  EXPECT_EQ(c.skipped, 0);

  // From the top again (no checkpoint left): everything is already there.
  SyncRun third = CrmSync(absl::StrCat("import zendesk-tickets ", file, " --batch-size 500"));
  EXPECT_EQ(SummaryOf(third.output).skipped, kRows) << third.output;
  EXPECT_EQ(SummaryOf(third.output).imported, 0);
}

TEST_F(CrmSyncTest, KilledRunResumesFromTheCheckpointAndIdempotencyCoversTheRest) {
  ImportAccounts();
  constexpr int kRows = 2000;
  const std::string file = ManyTickets(kRows);
  const std::string log = absl::StrCat(::testing::TempDir(), "/crm-sync-kill-", getpid(), ".log");
  // SIGKILL leaves no chance to save anything.
  ImportAndSignalMidway(file, log, SIGKILL, absl::Milliseconds(50));
  ASSERT_TRUE(Exists(file + ".crm-sync-state"));
  SyncRun second = CrmSync(absl::StrCat("import zendesk-tickets ", file, " --batch-size 500"));
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("resumed at line"));
  Counts c = SummaryOf(second.output);
  EXPECT_LT(c.read, kRows);
  // A batch that was in flight when the process died may have landed without its
  // checkpoint: its rows come back as duplicates, never as second copies.
  EXPECT_LE(c.skipped, 10);
  SyncRun third = CrmSync(absl::StrCat("import zendesk-tickets ", file, " --restart"));
  EXPECT_EQ(SummaryOf(third.output).skipped, kRows) << third.output;
}

TEST_F(CrmSyncTest, ExportHealthScoresAsCsv) {
  ImportAccounts();
  ASSERT_NE(CrmSync(absl::StrCat("import zendesk-tickets ", Copy("zendesk_tickets.csv"))).exit_code, -1);
  const std::string out = absl::StrCat(::testing::TempDir(), "/crm-sync-scores-", getpid(), ".csv");
  SyncRun run = CrmSync(absl::StrCat("export health -o ", out));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string csv = ReadFile(out);
  EXPECT_THAT(csv, HasSubstr("account_id,score,band,computed_at\r\n"));
  EXPECT_THAT(csv, HasSubstr("001A000001,"));
  EXPECT_THAT(csv, ::testing::ContainsRegex("001A000001,[0-9]+\\.[0-9],(green|yellow|red),2[0-9-]+T"));
}

TEST_F(CrmSyncTest, ExitCodes) {
  EXPECT_EQ(CrmSync("import nosuch x.csv").exit_code, 2);
  EXPECT_EQ(CrmSync("import billing /nonexistent/file.csv").exit_code, 3);
  EXPECT_EQ(CrmSync("frobnicate").exit_code, 2);
  SyncRun typo = CrmSync(absl::StrCat("import billing ", Copy("billing_invoices.csv"), " --mappng x.yaml"));
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.output, HasSubstr("--mappng: unknown option"));
  SyncRun help = CrmSync("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("salesforce-accounts"));
  const std::string command = absl::StrCat(CS_CRM_SYNC, " import billing ", Copy("billing_invoices.csv"),
                                           " --health-addr 127.0.0.1:1 --timeout 1s >/dev/null 2>&1");
  EXPECT_EQ(WEXITSTATUS(std::system(command.c_str())), 5);
}

TEST_F(CrmSyncTest, SalesforceOpportunitiesCreateOnceAndExport) {
  // Expansion keeps its own schema, as in production.
  expansion_db_ = TestDatabase::Create("crmsyncx");
  ASSERT_NE(expansion_db_, nullptr);
  expansion_ = std::make_unique<RunningService>(
      "expansion", CS_EXPANSION_SERVER, expansion_db_->uri(), "crmsync",
      std::vector<std::string>{absl::StrCat("--health_addr=127.0.0.1:", health_->port())});
  ASSERT_TRUE(expansion_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << expansion_->Log();
  ImportAccounts();
  const std::string file = Copy("salesforce_opportunities.csv");
  SyncRun first = CrmSync(absl::StrCat("import salesforce-opportunities ", file));
  EXPECT_EQ(first.exit_code, 4) << first.output;
  EXPECT_THAT(first.output, HasSubstr("line 5: Type: 'New Customer' is not one of the opportunity kinds"));
  EXPECT_EQ(SummaryOf(first.output).imported, 3) << first.output;

  auto stub = ev1::ExpansionService::NewStub(expansion_->channel());
  ev1::ListOpportunitiesRequest list;
  list.set_account_id("001A000001");
  ev1::ListOpportunitiesResponse opportunities;
  ASSERT_TRUE(stub->ListOpportunities(Context().get(), list, &opportunities).ok());
  ASSERT_EQ(opportunities.opportunities_size(), 1);
  EXPECT_EQ(opportunities.opportunities(0).stage(), ev1::STAGE_QUALIFIED);
  EXPECT_EQ(opportunities.opportunities(0).source_ref(), "006A000001");
  EXPECT_EQ(opportunities.opportunities(0).amount().minor_units(), 2400000);

  SyncRun again = CrmSync(absl::StrCat("import salesforce-opportunities ", file));
  EXPECT_EQ(SummaryOf(again.output).imported, 0) << again.output;
  EXPECT_EQ(SummaryOf(again.output).skipped, 3);
  ASSERT_TRUE(stub->ListOpportunities(Context().get(), list, &opportunities).ok());
  EXPECT_EQ(opportunities.opportunities_size(), 1);

  // The CRM corrected the amount and moved the deal on: the open opportunity follows.
  const std::string changed = absl::StrCat(::testing::TempDir(), "/crm-sync-opps2-", getpid(), ".csv");
  std::ofstream(changed) << "Id,AccountId,Name,Type,StageName,Amount,CloseDate,OwnerId\n"
                            "006A000001,001A000001,Acme seats,Existing Business,Qualification,30000.00,"
                            "2027-06-30,csm-1\n";
  SyncRun corrected = CrmSync(absl::StrCat("import salesforce-opportunities ", changed));
  EXPECT_EQ(corrected.exit_code, 0) << corrected.output;
  EXPECT_EQ(SummaryOf(corrected.output).imported, 1) << corrected.output;
  ASSERT_TRUE(stub->ListOpportunities(Context().get(), list, &opportunities).ok());
  ASSERT_EQ(opportunities.opportunities_size(), 1);
  EXPECT_EQ(opportunities.opportunities(0).amount().minor_units(), 3000000);

  const std::string out = absl::StrCat(::testing::TempDir(), "/crm-sync-opps-", getpid(), ".csv");
  SyncRun exported = CrmSync(absl::StrCat("export opportunities -o ", out));
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  const std::string csv = ReadFile(out);
  EXPECT_THAT(csv, HasSubstr("opportunity_id,account_id,kind,stage,amount"));
  EXPECT_THAT(csv, HasSubstr(",001A000001,seat_expansion,qualified,30000.00,USD,"));
  EXPECT_THAT(csv, HasSubstr(",001A000003,add_on,closed_lost,5000.00,USD,"));

  // Paid invoices become monthly revenue in the ledger; the same file again changes nothing.
  const std::string invoices = Copy("billing_invoices.csv");
  SyncRun ledger = CrmSync(absl::StrCat("import billing-ledger ", invoices));
  EXPECT_EQ(ledger.exit_code, 4) << ledger.output;
  EXPECT_THAT(ledger.output, HasSubstr("line 7: status: 'disputed' is not paid"));
  EXPECT_THAT(ledger.output, HasSubstr("ledger: 1 accounts, 2 months; 2 months changed"));
  ev1::ListRevenueMovementsRequest movements_request;
  movements_request.set_account_id("001A000001");
  ev1::ListRevenueMovementsResponse movements;
  ASSERT_TRUE(stub->ListRevenueMovements(Context().get(), movements_request, &movements).ok());
  ASSERT_EQ(movements.movements_size(), 1);
  EXPECT_EQ(movements.movements(0).kind(), ev1::MOVEMENT_KIND_NEW);
  EXPECT_EQ(movements.movements(0).mrr_change().minor_units(), 120000);
  SyncRun ledger_again = CrmSync(absl::StrCat("import billing-ledger ", invoices));
  EXPECT_THAT(ledger_again.output, HasSubstr("0 months changed, movements 0 added, 0 changed, 0 removed"))
      << ledger_again.output;
  ASSERT_TRUE(stub->ListRevenueMovements(Context().get(), movements_request, &movements).ok());
  EXPECT_EQ(movements.movements_size(), 1);
}

}  // namespace
}  // namespace cs::testing
