#include "tools/crm-sync/adapters.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/crm-sync/parse.h"

namespace cs::crm_sync {
namespace {

namespace hv1 = ::cs::health::v1;
namespace ev1 = ::cs::expansion::v1;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromCivil(absl::CivilSecond(2026, 6, 1, 0, 0, 0), absl::UTCTimeZone());

// A CSV row under a header, kept alive for the test.
struct Csv {
  Csv(std::vector<std::string> header, std::vector<std::string> fields)
      : names(std::move(header)), values(std::move(fields)) {
    for (size_t i = 0; i < names.size(); ++i) index[names[i]] = i;
  }
  CsvRow row() const { return CsvRow(&index, &values); }
  std::vector<std::string> names;
  std::vector<std::string> values;
  std::map<std::string, size_t> index;
};

Mapping MappingFor(const std::string& adapter, const std::string& yaml = "",
                   InputFormat format = InputFormat::kCsv) {
  const AdapterSpec* spec = FindAdapter(adapter);
  EXPECT_NE(spec, nullptr);
  if (yaml.empty()) return *BuildMapping(*spec, format, nullptr);
  absl::StatusOr<google::protobuf::Value> doc = ParseYaml(yaml);
  EXPECT_TRUE(doc.ok()) << doc.status();
  absl::StatusOr<Mapping> m = BuildMapping(*spec, format, &*doc);
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

absl::StatusOr<Converted> Convert(const std::string& adapter, const Mapping& mapping, const Row& row) {
  return ConvertRow(*FindAdapter(adapter), mapping, row, kNow);
}

TEST(MappingTest, DefaultsAndSiteColumns) {
  Mapping defaults = MappingFor("salesforce-accounts");
  EXPECT_EQ(defaults.columns["account_id"], "Id");
  EXPECT_EQ(defaults.columns["employee_count"], "NumberOfEmployees");
  Mapping site = MappingFor("salesforce-accounts",
                            "source: acme\ncolumns:\n  account_id: Account Number\n  arr: ''\n");
  EXPECT_EQ(site.source, "acme");
  EXPECT_EQ(site.columns["account_id"], "Account Number");
  EXPECT_EQ(site.columns.count("arr"), 0u);
  EXPECT_EQ(site.columns["name"], "Name");
}

TEST(MappingTest, TyposAndMissingRequiredColumnsAreErrors) {
  const AdapterSpec& spec = *FindAdapter("salesforce-accounts");
  auto build = [&](const std::string& yaml) {
    absl::StatusOr<google::protobuf::Value> doc = ParseYaml(yaml);
    return BuildMapping(spec, InputFormat::kCsv, &*doc).status();
  };
  EXPECT_THAT(std::string(build("colums:\n  name: N\n").message()), HasSubstr("colums: unknown key"));
  EXPECT_THAT(std::string(build("columns:\n  employes: E\n").message()),
              HasSubstr("columns.employes: not a field of salesforce-accounts"));
  EXPECT_THAT(std::string(build("columns:\n  account_id: ''\n").message()),
              HasSubstr("columns.account_id: required"));
  EXPECT_THAT(std::string(build("events:\n  - event: X\n    kind: login\n").message()),
              HasSubstr("only the segment adapter"));
}

TEST(MappingTest, HeaderBinding) {
  Mapping m = MappingFor("salesforce-accounts", "columns:\n  owner_id: CSM\n");
  // A default column that is absent drops its field; a column the site named must exist.
  Mapping ok = m;
  ok.columns.erase("owner_id");
  ok.explicit_columns.erase("owner_id");
  EXPECT_TRUE(BindHeader({"Id", "Name"}, &ok).ok());
  EXPECT_EQ(ok.columns.count("employee_count"), 0u);
  EXPECT_THAT(std::string(BindHeader({"Id", "Name"}, &m).message()),
              HasSubstr("column 'CSM' is not in the header"));
  Mapping twice = MappingFor("salesforce-accounts");
  EXPECT_THAT(std::string(BindHeader({"Id", "Name", "Name "}, &twice).message()),
              HasSubstr("column 'Name' appears twice in the header"));
}

TEST(SalesforceAccountTest, ConvertsAndNamesBadColumns) {
  Mapping m = MappingFor("salesforce-accounts");
  const std::vector<std::string> header = {"Id", "Name", "NumberOfEmployees", "Industry",
                                           "OwnerId", "AnnualRevenue"};
  Csv good(header, {"001A", "Acme", "1,500", "Hospital & Health Care", "csm-1", "120000.50"});
  absl::StatusOr<Converted> c = Convert("salesforce-accounts", m, good.row());
  ASSERT_TRUE(c.ok()) << c.status();
  const AccountItem& a = std::get<AccountItem>(c->items.at(0));
  EXPECT_EQ(a.account.account_id(), "001A");
  EXPECT_EQ(a.account.employee_count(), 1500);
  EXPECT_EQ(a.account.industry(), hv1::INDUSTRY_HEALTHCARE);
  EXPECT_EQ(a.account.arr().minor_units(), 12000050);
  EXPECT_EQ(a.account.arr().currency_code(), "USD");
  EXPECT_EQ(a.account.tier(), hv1::TIER_UNSPECIFIED);  // the service derives it
  EXPECT_TRUE(a.fields.count("owner_id"));
  EXPECT_FALSE(a.fields.count("tier"));

  Csv bad_number(header, {"001B", "Beta", "lots", "", "", ""});
  EXPECT_THAT(std::string(Convert("salesforce-accounts", m, bad_number.row()).status().message()),
              HasSubstr("NumberOfEmployees: 'lots' is not a whole number"));
  Csv no_name(header, {"001C", " ", "3", "", "", ""});
  EXPECT_THAT(std::string(Convert("salesforce-accounts", m, no_name.row()).status().message()),
              HasSubstr("Name: required but empty"));
  Csv unknown_industry(header, {"001D", "Delta", "3", "Mining", "", ""});
  EXPECT_EQ(std::get<AccountItem>(Convert("salesforce-accounts", m, unknown_industry.row())->items[0])
                .account.industry(),
            hv1::INDUSTRY_OTHER);
}

TEST(HubspotCompanyTest, SiteValuesTranslateTier) {
  Mapping m = MappingFor("hubspot-companies",
                         "columns:\n  tier: Segment\nvalues:\n  tier:\n    Strategic: enterprise\n");
  Csv row({"Record ID", "Company name", "Segment"}, {"77", "Initech", "Strategic"});
  absl::StatusOr<Converted> c = Convert("hubspot-companies", m, row.row());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(std::get<AccountItem>(c->items[0]).account.tier(), hv1::TIER_ENTERPRISE);
  Csv unknown({"Record ID", "Company name", "Segment"}, {"78", "Hooli", "Whale"});
  EXPECT_THAT(std::string(Convert("hubspot-companies", m, unknown.row()).status().message()),
              HasSubstr("Segment: 'Whale' is not one of enterprise"));
}

TEST(ZendeskTest, OpenedAndResolvedWithHoursAndCsat) {
  Mapping m = MappingFor("zendesk-tickets");
  const std::vector<std::string> header = {"Id", "Organization", "Created at", "Solved at", "Status",
                                           "Satisfaction Score"};
  Csv solved(header, {"42", "acme", "2026-03-01 10:00:00", "2026-03-02 12:30:00", "Solved", "good"});
  absl::StatusOr<Converted> c = Convert("zendesk-tickets", m, solved.row());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->items.size(), 2u);
  const auto& opened = std::get<hv1::Signal>(c->items[0]);
  const auto& resolved = std::get<hv1::Signal>(c->items[1]);
  EXPECT_EQ(opened.kind(), hv1::SIGNAL_KIND_TICKET_OPENED);
  EXPECT_EQ(opened.event_id(), "zendesk:ticket:42:opened");
  EXPECT_EQ(resolved.kind(), hv1::SIGNAL_KIND_TICKET_RESOLVED);
  EXPECT_DOUBLE_EQ(resolved.value(), 26.5);
  EXPECT_DOUBLE_EQ(resolved.csat(), 5);
  // The same row always gives the same ids, so a re-import is a duplicate.
  EXPECT_EQ(std::get<hv1::Signal>(Convert("zendesk-tickets", m, solved.row())->items[1]).event_id(),
            resolved.event_id());

  Csv open(header, {"43", "acme", "2026-03-01 10:00:00", "", "Open", ""});
  EXPECT_EQ(Convert("zendesk-tickets", m, open.row())->items.size(), 1u);
  Csv solved_without_time(header, {"44", "acme", "2026-03-01 10:00:00", "", "closed", ""});
  EXPECT_THAT(std::string(Convert("zendesk-tickets", m, solved_without_time.row()).status().message()),
              HasSubstr("Solved at: empty for a closed ticket"));
  Csv backwards(header, {"45", "acme", "2026-03-02", "2026-03-01", "solved", ""});
  EXPECT_THAT(std::string(Convert("zendesk-tickets", m, backwards.row()).status().message()),
              HasSubstr("before the ticket was created"));
  Csv bad_date(header, {"46", "acme", "last tuesday", "", "open", ""});
  EXPECT_THAT(std::string(Convert("zendesk-tickets", m, bad_date.row()).status().message()),
              HasSubstr("Created at: 'last tuesday' is not a date"));
}

TEST(ZendeskTest, JsonExportPaths) {
  Mapping m = MappingFor("zendesk-tickets", "", InputFormat::kJsonLines);
  absl::StatusOr<google::protobuf::Value> v = ParseJson(
      R"({"id":7,"organization_id":"acme","created_at":"2026-03-01T10:00:00Z",)"
      R"("solved_at":"2026-03-01T12:00:00Z","status":"solved","satisfaction_rating":{"score":"bad"}})");
  ASSERT_TRUE(v.ok());
  JsonRow row(&*v, "v");
  absl::StatusOr<Converted> c = Convert("zendesk-tickets", m, row);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->items.size(), 2u);
  EXPECT_EQ(std::get<hv1::Signal>(c->items[1]).event_id(), "zendesk:ticket:7:resolved");
  EXPECT_DOUBLE_EQ(std::get<hv1::Signal>(c->items[1]).value(), 2);
  EXPECT_DOUBLE_EQ(std::get<hv1::Signal>(c->items[1]).csat(), 1);
}

TEST(BillingTest, PaidLateFailedRefundedOpenVoid) {
  Mapping m = MappingFor("billing");
  const std::vector<std::string> header = {"id", "customer", "status", "created", "due_date", "paid_at",
                                           "amount", "currency"};
  auto kinds = [&](std::vector<std::string> fields) {
    Csv row(header, std::move(fields));
    absl::StatusOr<Converted> c = Convert("billing", m, row.row());
    std::vector<hv1::SignalKind> out;
    if (!c.ok()) return out;
    for (const Item& i : c->items) out.push_back(std::get<hv1::Signal>(i).kind());
    return out;
  };
  using ::testing::ElementsAre;
  EXPECT_THAT(kinds({"in_1", "acme", "paid", "2026-03-01", "2026-03-15", "2026-03-10", "99.00", "usd"}),
              ElementsAre(hv1::SIGNAL_KIND_PAYMENT_SUCCEEDED));
  EXPECT_THAT(kinds({"in_2", "acme", "paid", "2026-03-01", "2026-03-15", "2026-03-20", "99.00", "usd"}),
              ElementsAre(hv1::SIGNAL_KIND_PAYMENT_SUCCEEDED, hv1::SIGNAL_KIND_PAYMENT_LATE));
  EXPECT_THAT(kinds({"ch_3", "acme", "failed", "2026-03-01", "", "", "99.00", "usd"}),
              ElementsAre(hv1::SIGNAL_KIND_PAYMENT_FAILED));
  EXPECT_THAT(kinds({"ch_4", "acme", "refunded", "2026-03-01", "", "2026-03-01", "99.00", "usd"}),
              ElementsAre(hv1::SIGNAL_KIND_PAYMENT_SUCCEEDED));
  EXPECT_THAT(kinds({"in_5", "acme", "open", "2026-03-01", "2026-03-15", "", "99.00", "usd"}),
              ElementsAre(hv1::SIGNAL_KIND_PAYMENT_LATE));
  Csv not_due(header, {"in_6", "acme", "open", "2026-05-30", "2026-06-30", "", "99.00", "usd"});
  EXPECT_EQ(Convert("billing", m, not_due.row())->skip_reason, "open invoice, not yet due");
  Csv void_row(header, {"in_7", "acme", "void", "2026-03-01", "", "", "0", "usd"});
  EXPECT_THAT(Convert("billing", m, void_row.row())->skip_reason, HasSubstr("void"));
  Csv odd(header, {"in_8", "acme", "disputed", "2026-03-01", "", "", "1", "usd"});
  EXPECT_THAT(std::string(Convert("billing", m, odd.row()).status().message()),
              HasSubstr("status: 'disputed' is not paid"));
  Csv bad_amount(header, {"in_9", "acme", "paid", "2026-03-01", "", "", "12,34", "usd"});
  EXPECT_THAT(std::string(Convert("billing", m, bad_amount.row()).status().message()),
              HasSubstr("amount: '12,34' is not an amount"));
}

TEST(LedgerTest, PaidInvoicesSpreadOverTheirPeriod) {
  Mapping m = MappingFor("billing-ledger");
  const std::vector<std::string> header = {"id", "customer", "status", "created", "period_start",
                                           "period_months", "amount", "currency"};
  Csv annual(header, {"in_1", "acme", "paid", "2026-01-20", "2026-02-01", "12", "12000.00", "eur"});
  absl::StatusOr<Converted> c = Convert("billing-ledger", m, annual.row());
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& l = std::get<LedgerItem>(c->items[0]);
  EXPECT_EQ(l.first_month, absl::CivilMonth(2026, 2));
  EXPECT_EQ(l.months, 12);
  EXPECT_EQ(l.minor_units, 1200000);
  EXPECT_EQ(l.currency_code, "EUR");
  Csv failed(header, {"in_2", "acme", "failed", "2026-01-20", "", "", "10", "eur"});
  EXPECT_THAT(Convert("billing-ledger", m, failed.row())->skip_reason, HasSubstr("not revenue"));
  Csv zero_months(header, {"in_3", "acme", "paid", "2026-01-20", "", "0", "10", "eur"});
  EXPECT_THAT(std::string(Convert("billing-ledger", m, zero_months.row()).status().message()),
              HasSubstr("period_months: must be 1-120"));
}

TEST(SegmentTest, TrackEventsAndMixpanelThroughTheMapping) {
  Mapping segment = MappingFor("segment", "", InputFormat::kJsonLines);
  absl::StatusOr<google::protobuf::Value> v = ParseJson(
      R"({"type":"track","messageId":"m-1","event":"Report Shared","userId":"u1",)"
      R"("context":{"groupId":"acme"},"timestamp":"2026-03-01T10:00:00Z","properties":{"report":"q1"}})");
  ASSERT_TRUE(v.ok());
  JsonRow row(&*v, "v");
  absl::StatusOr<Converted> c = Convert("segment", segment, row);
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& e = std::get<hv1::TrackEvent>(c->items[0]);
  EXPECT_EQ(e.message_id(), "m-1");
  EXPECT_EQ(e.group_id(), "acme");
  EXPECT_EQ(e.properties().fields().at("report").string_value(), "q1");

  Mapping mixpanel = MappingFor("segment",
                                "source: mixpanel\n"
                                "columns:\n"
                                "  message_id: properties.$insert_id\n"
                                "  group_id: properties.company_id\n"
                                "  timestamp: properties.time\n"
                                "  user_id: properties.distinct_id\n"
                                "events:\n"
                                "  - event: Session\n"
                                "    kind: session_minutes\n"
                                "    value_property: minutes\n",
                                InputFormat::kJsonLines);
  ASSERT_EQ(mixpanel.events.size(), 1u);
  EXPECT_EQ(mixpanel.events[0].kind(), hv1::SIGNAL_KIND_SESSION_MINUTES);
  absl::StatusOr<google::protobuf::Value> mp = ParseJson(
      R"({"event":"Session","properties":{"time":1772359200,"company_id":"acme","minutes":12}})");
  JsonRow mp_row(&*mp, "mp");
  absl::StatusOr<Converted> mc = Convert("segment", mixpanel, mp_row);
  ASSERT_TRUE(mc.ok()) << mc.status();
  const auto& me = std::get<hv1::TrackEvent>(mc->items[0]);
  EXPECT_EQ(me.timestamp().seconds(), 1772359200);
  // No $insert_id: the id comes from the line itself, so the same line dedupes.
  EXPECT_THAT(me.message_id(), HasSubstr("mixpanel:"));
  EXPECT_EQ(std::get<hv1::TrackEvent>(Convert("segment", mixpanel, mp_row)->items[0]).message_id(),
            me.message_id());

  absl::StatusOr<google::protobuf::Value> no_group =
      ParseJson(R"({"messageId":"m-2","event":"Login","timestamp":"2026-03-01T10:00:00Z"})");
  JsonRow ng(&*no_group, "no_group");
  EXPECT_THAT(std::string(Convert("segment", segment, ng).status().message()),
              HasSubstr("context.groupId: required but empty"));
}

TEST(SegmentTest, AmplitudeThroughTheSampleMapping) {
  const AdapterSpec& spec = *FindAdapter("segment");
  absl::StatusOr<Mapping> m = LoadMapping(spec, InputFormat::kJsonLines,
                                          std::string(CS_CRM_SYNC_TESTDATA) + "/amplitude_mapping.yaml");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->source, "amplitude");
  ASSERT_EQ(m->events.size(), 1u);
  const std::string line =
      R"({"insert_id":"a-1","event_type":"Dashboard Viewed","user_id":"u7",)"
      R"("groups":{"company":"acme"},"event_time":"2026-03-01 10:00:00.250000",)"
      R"("event_properties":{"dashboard":"churn"}})";
  absl::StatusOr<google::protobuf::Value> v = ParseJson(line);
  ASSERT_TRUE(v.ok());
  JsonRow row(&*v, line);
  absl::StatusOr<Converted> c = Convert("segment", *m, row);
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& e = std::get<hv1::TrackEvent>(c->items[0]);
  EXPECT_EQ(e.message_id(), "a-1");
  EXPECT_EQ(e.event(), "Dashboard Viewed");
  EXPECT_EQ(e.group_id(), "acme");
  EXPECT_EQ(e.timestamp().nanos(), 250000000);
  EXPECT_EQ(e.properties().fields().at("dashboard").string_value(), "churn");
}

TEST(OpportunityTest, SalesforceStagesAndKinds) {
  Mapping m = MappingFor("salesforce-opportunities");
  const std::vector<std::string> header = {"Id", "AccountId", "Type", "StageName", "Amount", "CloseDate"};
  Csv row(header, {"006X", "001A", "Existing Customer - Upgrade", "Negotiation/Review", "24000",
                   "2026-09-30"});
  absl::StatusOr<Converted> c = Convert("salesforce-opportunities", m, row.row());
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& o = std::get<OpportunityItem>(c->items[0]);
  EXPECT_EQ(o.opportunity.kind(), ev1::OPPORTUNITY_KIND_PLAN_UPGRADE);
  EXPECT_EQ(o.stage, ev1::STAGE_NEGOTIATION);
  EXPECT_EQ(o.opportunity.amount().minor_units(), 2400000);
  EXPECT_EQ(o.opportunity.source(), ev1::OPPORTUNITY_SOURCE_CRM_IMPORT);
  EXPECT_EQ(o.opportunity.source_ref(), "006X");
  Csv unknown(header, {"006Y", "001A", "New Customer", "Prospecting", "1", "2026-09-30"});
  EXPECT_THAT(std::string(Convert("salesforce-opportunities", m, unknown.row()).status().message()),
              HasSubstr("Type: 'New Customer' is not one of the opportunity kinds"));
}

TEST(OpportunityTest, HubspotDealStages) {
  Mapping m = MappingFor("hubspot-deals");
  const std::vector<std::string> header = {"Record ID", "Associated Company ID", "Deal Type",
                                           "Deal Stage", "Amount", "Close Date"};
  Csv won(header, {"9", "77", "existingbusiness", "closedwon", "1,000.00", "2026-12-31"});
  absl::StatusOr<Converted> c = Convert("hubspot-deals", m, won.row());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(std::get<OpportunityItem>(c->items[0]).stage, ev1::STAGE_CLOSED_WON);
  EXPECT_EQ(std::get<OpportunityItem>(c->items[0]).opportunity.kind(), ev1::OPPORTUNITY_KIND_SEAT_EXPANSION);
  Csv negative(header, {"10", "77", "existingbusiness", "closedwon", "-5", "2026-12-31"});
  EXPECT_THAT(std::string(Convert("hubspot-deals", m, negative.row()).status().message()),
              HasSubstr("Amount: must be positive"));
}

TEST(DerivedIdTest, ReadableWhenCleanHashedOtherwise) {
  EXPECT_EQ(DerivedId("zendesk", {"ticket", "42"}), "zendesk:ticket:42");
  const std::string hashed = DerivedId("zendesk", {"ticket", "with space"});
  EXPECT_EQ(hashed.size(), std::string("zendesk:").size() + 16);
  EXPECT_EQ(hashed, DerivedId("zendesk", {"ticket", "with space"}));
  EXPECT_NE(hashed, DerivedId("zendesk", {"ticket", "with spaces"}));
}

}  // namespace
}  // namespace cs::crm_sync
