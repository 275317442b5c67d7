#include "services/health/packed_rows.h"

#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "services/health/measures.h"
#include "services/health/scorecard.h"

namespace cs::health {
namespace {

TEST(CounterPackTest, RoundTripsEveryValueAndAwkwardName) {
  MonthCounters in;
  in[{1, "logins"}] = 3;
  in[{31, "session_minutes"}] = 0.1 + 0.2;  // 0.30000000000000004
  in[{15, "feature:tab\there"}] = 1e20;
  in[{15, "feature:line\nbreak"}] = 1e-7;
  in[{15, "feature:back\\slash\\t"}] = std::numeric_limits<double>::max();
  in[{2, "nps_count"}] = 0;
  const std::string text = EncodeMonthCounters(in);
  MonthCounters out;
  ASSERT_OK(DecodeMonthCounters(text, out));
  EXPECT_EQ(out, in);
  // The mark's line and one per counter (each name here is another): the escapes
  // keep tabs and newlines out of the names.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), static_cast<long>(in.size()));
}

TEST(CounterPackTest, DecodingAddsIntoWhatIsThere) {
  MonthCounters sum;
  sum[{4, "logins"}] = 2;
  ASSERT_OK(DecodeMonthCounters("4\tlogins\t3\n5\tlogins\t1\n4\tlogins\t0.5", sum));
  EXPECT_EQ(sum.size(), 2u);
  EXPECT_DOUBLE_EQ((sum[{4, "logins"}]), 5.5);
  EXPECT_DOUBLE_EQ((sum[{5, "logins"}]), 1);
}

// The text migration 009 builds in SQL: MariaDB's shortest double text, no
// trailing newline.
TEST(CounterPackTest, ReadsTheTextTheMigrationWrites) {
  std::vector<CounterRow> rows;
  ASSERT_OK(AppendCounterRows(absl::CivilMonth(2026, 2), "3\tlogins\t2\n28\tfeature:a\\tb\t1e20",
                              absl::CivilDay(2026, 1, 1), absl::CivilDay(2026, 12, 31), rows));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].day, absl::CivilDay(2026, 2, 3));
  EXPECT_EQ(rows[0].counter, "logins");
  EXPECT_EQ(rows[0].value, 2);
  EXPECT_EQ(rows[1].day, absl::CivilDay(2026, 2, 28));
  EXPECT_EQ(rows[1].counter, "feature:a\tb");
  EXPECT_EQ(rows[1].value, 1e20);
}

TEST(CounterPackTest, KeepsOnlyTheDaysAsked) {
  MonthCounters in;
  for (int day = 1; day <= 30; ++day) in[{day, "logins"}] = day;
  std::vector<CounterRow> rows;
  ASSERT_OK(AppendCounterRows(absl::CivilMonth(2026, 11), EncodeMonthCounters(in),
                              absl::CivilDay(2026, 11, 10), absl::CivilDay(2026, 11, 12), rows));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows.front().day, absl::CivilDay(2026, 11, 10));
  EXPECT_EQ(rows.back().value, 12);
}

TEST(CounterPackTest, MalformedTextIsDataLossNamingTheLine) {
  const char* bad[] = {"1\tlogins",          "x\tlogins\t1",       "0\tlogins\t1",
                       "32\tlogins\t1",      "1\t\t1",             "1\tlog\\xins\t1",
                       "1\tlogins\tmany",    "1\tlogins\t1\n2\tlogins",
                       "1\tlogins\t1\t2",     "1\ta\tb\tc\td\te\tf\tg", "123\tlogins\t1",
                       "-1\tlogins\t1"};
  for (const char* text : bad) {
    MonthCounters out;
    absl::Status s = DecodeMonthCounters(text, out);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << text;
    EXPECT_NE(s.message().find("line"), std::string::npos) << text;
  }
  // The 31st of a 30-day month.
  std::vector<CounterRow> rows;
  EXPECT_EQ(AppendCounterRows(absl::CivilMonth(2026, 11), "31\tlogins\t1",
                              absl::CivilDay(2026, 1, 1), absl::CivilDay(2026, 12, 31), rows)
                .code(),
            absl::StatusCode::kDataLoss);
}

TEST(CounterPackTest, EmptyLinesAndTrailingBreaksAreSkipped) {
  MonthCounters out;
  ASSERT_OK(DecodeMonthCounters("\n1\tlogins\t2\n\n3\tlogins\t4\n", out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ((out[{1, "logins"}]), 2);
  EXPECT_EQ((out[{3, "logins"}]), 4);
  MonthCounters none;
  ASSERT_OK(DecodeMonthCounters("", none));
  EXPECT_TRUE(none.empty());
}

// Merging reads back as decoding the stored text and adding: in order, out of
// order (read whole), with escaped names, into nothing, and malformed text refused.
TEST(CounterPackTest, MergingAddsAsDecodingDoesAndKeepsUntouchedLines) {
  MonthCounters add = {{{1, "logins"}, 2},
                       {{3, "feature:tab\there"}, 1},
                       {{3, "logins"}, 0.5},
                       {{30, "zz"}, 7}};
  const std::string in_order = EncodeMonthCounters(
      {{{1, "logins"}, 1}, {{2, "tickets"}, 3}, {{3, "feature:tab\there"}, 4}, {{31, "a"}, 1}});
  // Grouped rows out of order (not written by EncodeMonthCounters: names or days
  // out of order, a counter or a day listed twice) and first-format rows are read
  // whole and written in order.
  for (const std::string& stored :
       {in_order, std::string("3\tlogins\t1\n1\tlogins\t1\n3\tlogins\t2"), std::string(""),
        std::string("02\tx\t1.25\n\n"), std::string("#2\nzz\t1\t1\nlogins\t3\t1"),
        std::string("#2\nlogins\t3\t1\t1\t1"), std::string("#2\nlogins\t3\t1\nlogins\t3\t2"),
        std::string("#2\nlogins\t4\t1\t4\t1"), std::string("#2\n\nlogins\t1\t1\n"),
        std::string("#2\n")}) {
    std::string merged;
    ASSERT_OK(MergeMonthCounters(stored, add, merged)) << stored;
    MonthCounters expected = add;
    ASSERT_OK(DecodeMonthCounters(stored, expected));
    MonthCounters got;
    ASSERT_OK(DecodeMonthCounters(merged, got)) << merged;
    EXPECT_EQ(got, expected) << stored << " -> " << merged;
    // What it wrote is in order: merging nothing into it copies it.
    std::string again;
    ASSERT_OK(MergeMonthCounters(merged, {}, again));
    EXPECT_EQ(again, merged) << stored;
  }
  // Days no increment touches are copied as stored.
  std::string merged;
  ASSERT_OK(MergeMonthCounters("#2\nx\t2\t1.250\t9\t1", {{{5, "y"}, 1}, {{5, "x"}, 1}}, merged));
  EXPECT_EQ(merged, "#2\nx\t2\t1.250\t5\t1\t9\t1\ny\t5\t1");
  ASSERT_OK(MergeMonthCounters(in_order, {}, merged));
  EXPECT_EQ(merged, in_order);
  EXPECT_EQ(MergeMonthCounters("1\tlogins\tmany", add, merged).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(MergeMonthCounters("1\tb\t1\n1\ta\t1\n1\tlogins", add, merged).code(),
            absl::StatusCode::kDataLoss);
}

TEST(CounterPackTest, WritesOneLinePerCounterWithItsDaysInOrder) {
  const MonthCounters in = {{{8, "logins"}, 2},
                            {{1, "logins"}, 3},
                            {{1, "email_opens"}, 0.5},
                            {{30, "feature:a\tb"}, 1e20}};
  EXPECT_EQ(EncodeMonthCounters(in),
            "#2\nemail_opens\t1\t0.5\nfeature:a\\tb\t30\t1e+20\nlogins\t1\t3\t8\t2");
  EXPECT_EQ(EncodeMonthCounters({}), "");
}

// A month as the bench's accounts have them (six counters one day a week) takes
// under half the first format's bytes.
TEST(CounterPackTest, TheGroupedFormatWritesEachNameOnceAMonth) {
  MonthCounters in;
  std::string first;
  for (int day = 3; day <= 31; day += 7) {
    int k = 0;
    for (const char* counter : {"email_opens", "feature:f1", "feature_uses", "logins",
                                "payments_succeeded", "tickets_opened"}) {
      in[{day, counter}] = 1 + (day * 3 + ++k) % 12;
      absl::StrAppend(&first, first.empty() ? "" : "\n", day, "\t", counter, "\t",
                      in[{day, counter}]);
    }
  }
  const std::string grouped = EncodeMonthCounters(in);
  EXPECT_LT(grouped.size() * 2, first.size()) << grouped.size() << " against " << first.size();
  MonthCounters a, b;
  ASSERT_OK(DecodeMonthCounters(grouped, a));
  ASSERT_OK(DecodeMonthCounters(first, b));
  EXPECT_EQ(a, b);
}

// A row of the first format is written back in the grouped one, whole.
TEST(CounterPackTest, MergingIntoAFirstFormatRowWritesItGrouped) {
  std::string merged;
  ASSERT_OK(MergeMonthCounters("1\tlogins\t1\n1\ttickets\t2\n8\tlogins\t4",
                               {{{8, "logins"}, 1}, {{9, "logins"}, 1}}, merged));
  EXPECT_EQ(merged, "#2\nlogins\t1\t1\t8\t5\t9\t1\ntickets\t1\t2");
  // Nothing to add still rewrites it grouped (an ingest that adds log rows only).
  ASSERT_OK(MergeMonthCounters("1\tlogins\t1", {}, merged));
  EXPECT_EQ(merged, "#2\nlogins\t1\t1");
}

TEST(CounterPackTest, MalformedGroupedTextIsDataLossNamingTheLine) {
  const char* bad[] = {"#2\nlogins",           "#2\nlogins\t1",         "#2\nlogins\t0\t1",
                       "#2\nlogins\t32\t1",     "#2\nlogins\t1\tmany",   "#2\n\t1\t1",
                       "#2\nlog\\xins\t1\t1",   "#2\nlogins\t1\t1\t2",   "#2\na\t1\t1\nb",
                       "#2\nlogins\t\t1",       "#2\nlogins\t1\t"};
  for (const char* text : bad) {
    MonthCounters out;
    absl::Status s = DecodeMonthCounters(text, out);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << text;
    EXPECT_NE(s.message().find("line"), std::string::npos) << text;
    std::string merged;
    EXPECT_EQ(MergeMonthCounters(text, {{{1, "a"}, 1}}, merged).code(),
              absl::StatusCode::kDataLoss)
        << text;
  }
  MonthCounters partial;
  EXPECT_NE(DecodeMonthCounters("#2\na\t1\t1\nb", partial).message().find("line 3"),
            std::string::npos);
  // The 31st of a 30-day month.
  std::vector<CounterRow> rows;
  EXPECT_EQ(AppendCounterRows(absl::CivilMonth(2026, 11), "#2\nlogins\t30\t1\t31\t1",
                              absl::CivilDay(2026, 1, 1), absl::CivilDay(2026, 12, 31), rows)
                .code(),
            absl::StatusCode::kDataLoss);
}

// Rows in any order, a day listed twice: the window sums per day and answers by range.
TEST(CounterWindowTest, SumsDaysInAnyOrderAndFindsTheLastNonZeroDay) {
  const absl::CivilDay d(2026, 11, 1);
  const CounterWindow w({{d + 5, "logins", 2},
                         {d, "logins", 1},
                         {d + 5, "logins", 3},
                         {d + 9, "logins", 0},
                         {d + 2, "feature:a", 1},
                         {d + 20, "feature:b", 0}});
  EXPECT_EQ(w.Sum("logins", d, d + 30), 6);
  EXPECT_EQ(w.Sum("logins", d + 1, d + 5), 5);
  EXPECT_EQ(w.Sum("logins", d + 6, d + 30), 0);
  EXPECT_EQ(w.Sum("nothing", d, d + 30), 0);
  EXPECT_EQ(w.LastDayWith("logins", d + 30), d + 5);
  EXPECT_EQ(w.LastDayWith("logins", d + 4), d);
  EXPECT_FALSE(w.LastDayWith("logins", d - 1).has_value());
  EXPECT_EQ(w.FeaturesUsed(d, d + 30), std::set<std::string>{"a"});
}

// Months added straight to a window, newer month first and a day repeated across
// the texts, read the same as rows gathered and then windowed.
TEST(CounterWindowTest, MonthsAddedStraightToAWindowMatchRowsWindowed) {
  const std::string december = "1\tlogins\t4\n2\tfeature:x\t1";
  const std::string november = "3\tlogins\t2\n30\tlogins\t5\n30\tlogins\t1";
  const absl::CivilDay from(2026, 11, 2), to(2026, 12, 31);
  CounterWindow added;
  ASSERT_OK(AddCounters(absl::CivilMonth(2026, 12), december, from, to, added));
  ASSERT_OK(AddCounters(absl::CivilMonth(2026, 11), november, from, to, added));
  added.Seal();
  std::vector<CounterRow> rows;
  ASSERT_OK(AppendCounterRows(absl::CivilMonth(2026, 12), december, from, to, rows));
  ASSERT_OK(AppendCounterRows(absl::CivilMonth(2026, 11), november, from, to, rows));
  const CounterWindow windowed(rows);
  for (const absl::CivilDay day : {from, absl::CivilDay(2026, 11, 30), absl::CivilDay(2026, 12, 1),
                                   absl::CivilDay(2026, 12, 2)}) {
    EXPECT_EQ(added.Sum("logins", from, day), windowed.Sum("logins", from, day)) << day;
  }
  EXPECT_EQ(added.Sum("logins", from, to), 12);
  EXPECT_EQ(added.Sum("logins", absl::CivilDay(2026, 11, 30), absl::CivilDay(2026, 11, 30)), 6);
  EXPECT_EQ(added.LastDayWith("logins", absl::CivilDay(2026, 11, 29)), absl::CivilDay(2026, 11, 3));
  EXPECT_EQ(added.FeaturesUsed(from, to), std::set<std::string>{"x"});
  // Outside from..to: not added.
  EXPECT_EQ(added.Sum("logins", absl::CivilDay(2026, 11, 1), absl::CivilDay(2026, 11, 2)), 0);
}

// Counters first seen in any name order, names around the feature prefix, and a
// window added to after it was sealed: it seals again and answers for every value.
TEST(CounterWindowTest, NamesInAnyOrderAndAddingAfterASealAnswerForEveryValue) {
  const absl::CivilDay d(2026, 11, 1);
  CounterWindow w;
  w.Add(d + 3, "zeta", 1);
  w.Add(d + 1, "feature:b", 2);
  w.Add(d + 2, "feature", 4);
  w.Add(d + 1, "featurez", 8);
  w.Add(d, "feature:a", 16);
  w.Add(d + 3, "alpha", 32);
  w.Add(d, "zeta", 64);
  w.Seal();
  EXPECT_EQ(w.Sum("zeta", d, d + 5), 65);
  EXPECT_EQ(w.LastDayWith("zeta", d + 2), d);
  EXPECT_EQ(w.FeaturesUsed(d, d + 5), (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(w.FeaturesUsed(d + 1, d + 5), std::set<std::string>{"b"});
  EXPECT_EQ(w.Sum("feature", d, d + 5), 4);
  EXPECT_EQ(w.Sum("featurez", d, d + 5), 8);

  w.Add(d + 4, "zeta", 128);  // a counter the window has
  w.Add(d + 3, "beta", 256);  // and one it has not
  w.Add(d, "zeta", 512);      // a day it has
  w.Seal();
  EXPECT_EQ(w.Sum("zeta", d, d + 5), 705);
  EXPECT_EQ(w.Sum("zeta", d, d), 576);
  EXPECT_EQ(w.Sum("beta", d, d + 5), 256);
  EXPECT_EQ(w.Sum("alpha", d, d + 5), 32);
  EXPECT_EQ(w.LastDayWith("zeta", d + 9), d + 4);
  EXPECT_FALSE(w.empty());
  EXPECT_TRUE(CounterWindow().empty());
  EXPECT_EQ(CounterWindow().Sum("zeta", d, d + 5), 0);
}

// Whole numbers are read without SimpleAtod; every value reads as SimpleAtod reads it.
TEST(CounterPackTest, WholeNumbersAndOtherValuesReadAsSimpleAtodReadsThem) {
  const char* values[] = {"0",   "7",    "007",  "999999999999999", "1000000000000000",
                          "12345678901234567890", "2.5", "1e3", "-4", "+6", "0.30000000000000004"};
  for (const char* value : values) {
    MonthCounters out;
    ASSERT_OK(DecodeMonthCounters(absl::StrCat("1\tlogins\t", value), out)) << value;
    double expected = 0;
    ASSERT_TRUE(absl::SimpleAtod(value, &expected)) << value;
    EXPECT_EQ((out[{1, "logins"}]), expected) << value;
  }
}

// A window built the way packed months list counters (each day's in name order,
// with a counter missing on some days and one first seen midway) sums each counter
// as rows gathered one by one do.
TEST(CounterWindowTest, CountersListedInNameOrderEachDaySumAsRowsDo) {
  const absl::CivilDay first(2026, 9, 1);
  MonthCounters month;
  std::vector<CounterRow> rows;
  for (int day = 1; day <= 30; ++day) {
    for (const char* counter : {"a", "b", "feature:x", "logins"}) {
      if (day % 7 == 3 && counter[0] == 'b') continue;
      if (day < 12 && counter[0] == 'f') continue;
      const double value = day * 10 + counter[0] % 7;
      month[{day, counter}] = value;
      rows.push_back({first + (day - 1), counter, value});
    }
  }
  CounterWindow added;
  ASSERT_OK(AddCounters(absl::CivilMonth(first), EncodeMonthCounters(month), first, first + 29,
                        added));
  added.Seal();
  const CounterWindow windowed(rows);
  for (const char* counter : {"a", "b", "feature:x", "logins"}) {
    for (int from = 0; from < 30; from += 7) {
      EXPECT_EQ(added.Sum(counter, first + from, first + 29),
                windowed.Sum(counter, first + from, first + 29))
          << counter << " from day " << from;
    }
  }
  EXPECT_EQ(added.FeaturesUsed(first, first + 29), std::set<std::string>{"x"});
}

// A window copied or moved midway keeps adding to its own days, not its source's.
TEST(CounterWindowTest, AWindowCopiedOrMovedMidwayAddsToItsOwnDays) {
  const absl::CivilDay d(2026, 10, 1);
  CounterWindow source;
  source.Add(d, "a", 1);
  source.Add(d, "b", 2);
  CounterWindow copy = source;
  copy.Add(d + 1, "a", 10);
  copy.Add(d + 1, "b", 20);
  source.Add(d + 1, "a", 100);
  CounterWindow assigned;
  assigned.Add(d, "z", 5);
  assigned = source;
  assigned.Add(d + 2, "b", 1000);
  CounterWindow moved = std::move(copy);
  moved.Add(d + 2, "a", 3);
  source.Seal();
  assigned.Seal();
  moved.Seal();
  EXPECT_EQ(source.Sum("a", d, d + 5), 101);
  EXPECT_EQ(source.Sum("b", d, d + 5), 2);
  EXPECT_EQ(assigned.Sum("a", d, d + 5), 101);
  EXPECT_EQ(assigned.Sum("b", d, d + 5), 1002);
  EXPECT_EQ(assigned.Sum("z", d, d + 5), 0);
  EXPECT_EQ(moved.Sum("a", d, d + 5), 14);
  EXPECT_EQ(moved.Sum("b", d, d + 5), 22);
}

TEST(SignalLogTest, RoundTripsEveryField) {
  std::vector<Signal> in(3);
  in[0].event_id = "evt-1";
  in[0].kind = SignalKind::kFeatureUsed;
  in[0].occurred_at = absl::FromUnixMicros(1'795'000'000'123'456);
  in[0].value = 1;
  in[0].feature = "report\tbuilder\\x\nnew";
  in[1].event_id = "evt-2";
  in[1].kind = SignalKind::kSessionMinutes;
  in[1].occurred_at = absl::FromUnixMicros(946'684'800'000'000);  // 2000-01-01
  in[1].value = 0.1 + 0.2;
  in[2].event_id = "evt-3";
  in[2].kind = SignalKind::kTicketResolved;
  in[2].occurred_at = absl::FromUnixMicros(1'795'000'000'000'001);
  in[2].value = 1;
  in[2].csat = 4.5;
  in[2].feature = "unicode \xc3\xa9";
  std::string text;
  for (const Signal& s : in) AppendSignalLine(s, text);
  std::vector<Signal> out;
  ASSERT_OK(ForEachLoggedSignal(text, [&](const Signal& s) { out.push_back(s); }));
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].event_id, in[i].event_id);
    EXPECT_EQ(out[i].kind, in[i].kind);
    EXPECT_EQ(out[i].occurred_at, in[i].occurred_at);
    EXPECT_EQ(out[i].value, in[i].value);
    EXPECT_EQ(out[i].csat, in[i].csat);
    EXPECT_EQ(out[i].feature, in[i].feature);
  }
  std::vector<std::string> keys;
  ASSERT_OK(ForEachLoggedKey(text, [&](absl::string_view id) { keys.emplace_back(id); }));
  EXPECT_EQ(keys, (std::vector<std::string>{in[0].event_id, in[1].event_id, "evt-3"}));
}

TEST(SignalLogTest, KeysOfMalformedLinesAreDataLoss) {
  for (const char* text : {"e1\tLOGIN\t1\t1\t0", "\tLOGIN\t1\t1\t0\t", "e1"}) {
    absl::Status s = ForEachLoggedKey(text, [](absl::string_view) {});
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << text;
  }
}

TEST(SignalLogTest, MalformedLinesAreDataLossNamingTheLine) {
  const char* bad[] = {"e1\tLOGIN\t1\t1\t0",           "e1\tNOT_A_KIND\t1\t1\t0\t",
                       "\tLOGIN\t1\t1\t0\t",            "e1\tLOGIN\tsoon\t1\t0\t",
                       "e1\tLOGIN\t1\tone\t0\t",        "e1\tLOGIN\t1\t1\t0\tbad\\q",
                       "e1\tLOGIN\t1\t1\t0\t\ne2\tLOGIN"};
  for (const char* text : bad) {
    absl::Status s = ForEachLoggedSignal(text, [](const Signal&) {});
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << text;
    EXPECT_NE(s.message().find("line"), std::string::npos) << text;
  }
}

// The default scorecard's components as a rescore scores them, plus one that is not
// in it and one that moved to another measure.
std::vector<ComponentScore> SomeComponents() {
  std::vector<ComponentScore> out;
  const Scorecard card = DefaultScorecard();
  double raw = 0.1 + 0.2;  // 0.30000000000000004: needs all 17 digits
  for (const ComponentSpec& spec : card.components) {
    ComponentScore c;
    c.component = spec.component;
    c.measure = spec.measure.measure;
    c.weight = spec.weight;
    c.raw = raw;
    c.normalized = raw * 7 / 3;
    c.contribution = c.normalized * spec.weight / 100;
    out.push_back(c);
    raw = raw * 10 + 1.0 / 3;
  }
  out[2].missing = true;
  out[2].raw = out[2].normalized = out[2].contribution = 0;
  out[3].measure = "payment_failures";  // not the default for PAYMENT_HISTORY
  ComponentScore relationship;
  relationship.component = Component::kRelationship;
  relationship.measure = "nps";
  relationship.weight = 5;
  relationship.raw = -12.5;
  relationship.normalized = 1e-300;
  relationship.contribution = std::numeric_limits<double>::max();
  out.push_back(relationship);
  return out;
}

void ExpectSameComponents(const std::vector<ComponentScore>& got,
                          const std::vector<ComponentScore>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].component, want[i].component) << i;
    EXPECT_EQ(got[i].measure, want[i].measure) << i;
    EXPECT_EQ(got[i].weight, want[i].weight) << i;
    // Exactly: the stored text reads back as the same doubles.
    EXPECT_EQ(got[i].raw, want[i].raw) << i;
    EXPECT_EQ(got[i].normalized, want[i].normalized) << i;
    EXPECT_EQ(got[i].contribution, want[i].contribution) << i;
    EXPECT_EQ(got[i].missing, want[i].missing) << i;
  }
}

TEST(ComponentTextTest, RoundTripsEveryFieldExactly) {
  const std::vector<ComponentScore> in = SomeComponents();
  const std::string text = EncodeComponents(in);
  absl::StatusOr<std::vector<ComponentScore>> out = DecodeComponents(text);
  ASSERT_OK(out.status());
  ExpectSameComponents(*out, in);
  // A score without components (none scored) is the empty text.
  EXPECT_EQ(EncodeComponents({}), "");
  ASSERT_OK(DecodeComponents("").status());
  EXPECT_TRUE(DecodeComponents("")->empty());
}

TEST(ComponentTextTest, DefaultMeasuresAreLeftOutAndOthersWritten) {
  const std::string text = EncodeComponents(SomeComponents());
  EXPECT_EQ(text.find("logins_per_week"), std::string::npos) << text;
  EXPECT_EQ(text.find("PRODUCT_USAGE"), std::string::npos) << text;
  EXPECT_NE(text.find("|payment_failures|"), std::string::npos) << text;
  EXPECT_NE(text.find("7|nps|5|-12.5|"), std::string::npos) << text;
  EXPECT_EQ(text.substr(0, 5), "1||25") << text;
}

TEST(ComponentTextTest, WritesNumbersShortestAndTheMeasureOnlyWhenNotTheDefault) {
  ComponentScore usage;
  usage.component = Component::kProductUsage;
  usage.measure = "logins_per_week";
  usage.weight = 25;
  usage.raw = 17.5;
  usage.normalized = 87.5;
  usage.contribution = 21.875;
  ComponentScore support = usage;
  support.component = Component::kSupport;
  support.measure = "avg_resolution_hours";
  support.weight = 15;
  support.raw = 40.0 / 3;
  support.normalized = 0;
  support.contribution = 0;
  support.missing = true;
  EXPECT_EQ(EncodeComponents({usage, support}),
            "1||25|17.5|87.5|21.875|0;3|avg_resolution_hours|15|13.333333333333334|0|0|1");
}

TEST(ComponentTextTest, ReadsTheFirstFormat) {
  // As rows written before the numbered format hold them.
  const std::string first =
      "PRODUCT_USAGE|logins_per_week|25|17.5|87.5|21.875|0;"
      "SUPPORT|tickets_per_month|15|13.333333333333334|0|0|0;"
      "RELATIONSHIP|nps|10|0|0|0|1";
  absl::StatusOr<std::vector<ComponentScore>> out = DecodeComponents(first);
  ASSERT_OK(out.status());
  ASSERT_EQ(out->size(), 3u);
  EXPECT_EQ((*out)[0].component, Component::kProductUsage);
  EXPECT_EQ((*out)[0].measure, "logins_per_week");
  EXPECT_EQ((*out)[0].contribution, 21.875);
  EXPECT_EQ((*out)[1].raw, 40.0 / 3);
  EXPECT_EQ((*out)[2].component, Component::kRelationship);
  EXPECT_TRUE((*out)[2].missing);
  // The same components written now read back the same.
  absl::StatusOr<std::vector<ComponentScore>> again = DecodeComponents(EncodeComponents(*out));
  ASSERT_OK(again.status());
  ExpectSameComponents(*again, *out);
}

TEST(ComponentTextTest, MalformedTextIsDataLossNamingThePart) {
  const char* bad[] = {
      "1||25|1|2|3",                // six fields
      "1||25|1|2|3|0|9",            // eight
      "0||25|1|2|3|0",              // no component 0
      "9||25|1|2|3|0",              // nor 9
      "1x||25|1|2|3|0",             // not a number
      "7||25|1|2|3|0",              // RELATIONSHIP has no default measure
      "BOGUS|m|25|1|2|3|0",         // unknown name
      "1||w|1|2|3|0",               // weight
      "1||25|one|2|3|0",            // raw
      "1||25|1|2|3|2",              // missing is 0 or 1
      "1||25|1|2|3|0;2||20|1|2|x|0",  // the second part's contribution
  };
  for (const char* text : bad) {
    absl::StatusOr<std::vector<ComponentScore>> out = DecodeComponents(text);
    EXPECT_EQ(out.status().code(), absl::StatusCode::kDataLoss) << text;
    EXPECT_NE(out.status().message().find("part"), std::string::npos) << text;
  }
  EXPECT_NE(DecodeComponents("1||25|1|2|3|0;2||20|1|2|x|0").status().message().find("part 2"),
            std::string::npos);
}

}  // namespace
}  // namespace cs::health
