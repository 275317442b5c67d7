// The import loop with a recording sink in place of the services (the loop itself is
// pure file handling; the real services are in tests/integration/crm_sync_test.cc).
#include "tools/crm-sync/importer.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cs::crm_sync {
namespace {

namespace hv1 = ::cs::health::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Accepts each event id once, like the health service; can be told to go down.
class RecordingSink : public Sink {
 public:
  absl::Status Flush(const std::vector<PendingRow>& rows, std::vector<RowOutcome>* outcomes) override {
    if (down) return absl::UnavailableError("health is down");
    ++flushes;
    for (const PendingRow& row : rows) {
      lines.push_back(row.line);
      bool any_new = false;
      for (const Item& item : row.items) {
        any_new |= seen.insert(std::get<hv1::Signal>(item).event_id()).second;
      }
      outcomes->push_back(RowOutcome{any_new ? RowOutcome::kImported : RowOutcome::kSkipped, ""});
    }
    return absl::OkStatus();
  }
  bool down = false;
  int flushes = 0;
  std::vector<int64_t> lines;
  std::set<std::string> seen;
};

class ImporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "/tickets-", getpid(), "-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".csv");
    std::remove(StatePath(path_).c_str());
  }
  void TearDown() override {
    std::remove(path_.c_str());
    std::remove(StatePath(path_).c_str());
  }
  void Write(const std::string& text) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << text;
  }
  ImportOptions Options() {
    ImportOptions o;
    o.path = path_;
    o.adapter = FindAdapter("zendesk-tickets");
    o.mapping = *BuildMapping(*o.adapter, InputFormat::kCsv, nullptr);
    o.batch_size = 2;
    o.errors = &errors_;
    return o;
  }
  std::string path_;
  std::ostringstream errors_;
};

std::string Tickets(int from, int to) {
  std::string out;
  for (int i = from; i <= to; ++i) {
    absl::StrAppend(&out, i, ",acme,2026-03-01 10:00:00,,open\n");
  }
  return out;
}

constexpr char kHeader[] = "Id,Organization,Created at,Solved at,Status\n";

TEST_F(ImporterTest, BadRowsAreReportedWithLineNumbersAndGoodRowsGoIn) {
  Write(absl::StrCat(kHeader,
                     "1,acme,2026-03-01 10:00:00,,open\n"
                     "2,acme,not a date,,open\n"
                     "3,acme,2026-03-01\n"
                     "4,\"multi\nline org\",2026-03-01,,open\n"
                     "5,acme,2026-03-01,,open,extra\n"
                     "6,caf\xE9,2026-03-01,,open\n"
                     "7,acme,2026-03-02,,open\n"));
  RecordingSink sink;
  absl::StatusOr<ImportSummary> s = RunImport(Options(), sink);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->read, 7);
  EXPECT_EQ(s->imported, 3);
  EXPECT_EQ(s->failed, 4);
  EXPECT_TRUE(s->finished);
  EXPECT_THAT(sink.lines, ElementsAre(2, 5, 9));
  const std::string e = errors_.str();
  EXPECT_THAT(e, HasSubstr("line 3: Created at: 'not a date' is not a date"));
  EXPECT_THAT(e, HasSubstr("line 4: 3 fields, the header has 5"));
  EXPECT_THAT(e, HasSubstr("line 7: 6 fields, the header has 5"));
  EXPECT_THAT(e, HasSubstr("line 8: Organization: invalid UTF-8 at byte 4"));
  // A finished run leaves no checkpoint behind.
  EXPECT_FALSE(std::ifstream(StatePath(path_)).good());
}

TEST_F(ImporterTest, ReimportIsAllSkipped) {
  Write(absl::StrCat(kHeader, Tickets(1, 5)));
  RecordingSink sink;
  ASSERT_EQ(RunImport(Options(), sink)->imported, 5);
  absl::StatusOr<ImportSummary> again = RunImport(Options(), sink);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->imported, 0);
  EXPECT_EQ(again->skipped, 5);
}

TEST_F(ImporterTest, StoppedRunResumesFromItsCheckpoint) {
  Write(absl::StrCat(kHeader, Tickets(1, 7)));
  RecordingSink sink;
  ImportOptions first = Options();
  first.limit = 4;
  absl::StatusOr<ImportSummary> s1 = RunImport(first, sink);
  ASSERT_TRUE(s1.ok());
  EXPECT_FALSE(s1->finished);
  EXPECT_EQ(s1->next_line, 6);
  EXPECT_THAT(FormatSummary(*s1), HasSubstr("stopped before line 6"));
  ASSERT_TRUE(std::ifstream(StatePath(path_)).good());

  absl::StatusOr<ImportSummary> s2 = RunImport(Options(), sink);
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(s2->resumed_at_line, 6);
  EXPECT_EQ(s2->read, 3);
  EXPECT_EQ(s2->imported, 3);
  EXPECT_TRUE(s2->finished);
  // Every row was sent exactly once across the two runs.
  EXPECT_THAT(sink.lines, ElementsAre(2, 3, 4, 5, 6, 7, 8));
}

TEST_F(ImporterTest, ServiceDownKeepsTheLastCommittedBatch) {
  Write(absl::StrCat(kHeader, Tickets(1, 6)));
  // Goes down after the first batch of two rows.
  class FlakySink : public RecordingSink {
   public:
    absl::Status Flush(const std::vector<PendingRow>& rows, std::vector<RowOutcome>* out) override {
      if (flushes == 1) return absl::UnavailableError("health is down");
      return RecordingSink::Flush(rows, out);
    }
  } flaky;
  ImportSummary partial;
  absl::StatusOr<ImportSummary> s = RunImport(Options(), flaky, &partial);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(partial.imported, 2);
  EXPECT_EQ(partial.next_line, 4);

  RecordingSink healthy;
  absl::StatusOr<ImportSummary> resumed = RunImport(Options(), healthy);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->resumed_at_line, 4);
  EXPECT_THAT(healthy.lines, ElementsAre(4, 5, 6, 7));
}

TEST_F(ImporterTest, ACheckpointOfAnotherFileIsIgnored) {
  Write(absl::StrCat(kHeader, Tickets(1, 4)));
  RecordingSink sink;
  ImportOptions first = Options();
  first.limit = 2;
  ASSERT_TRUE(RunImport(first, sink).ok());
  // The file is replaced by a different export: the checkpoint no longer fits.
  Write(absl::StrCat(kHeader, Tickets(10, 13)));
  RecordingSink fresh;
  absl::StatusOr<ImportSummary> s = RunImport(Options(), fresh);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->resumed_at_line, 0);
  EXPECT_EQ(s->read, 4);
  EXPECT_THAT(errors_.str(), HasSubstr("does not match this file"));
}

TEST_F(ImporterTest, HeaderMissingARequiredColumnStopsBeforeAnyRow) {
  Write("Id,Created at\n1,2026-03-01\n");
  RecordingSink sink;
  absl::StatusOr<ImportSummary> s = RunImport(Options(), sink);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("required"));
  EXPECT_EQ(sink.flushes, 0);
}

TEST_F(ImporterTest, Utf16FileIsRefusedAtTheHeader) {
  // "Id,Organization" as UTF-16LE with its byte order mark, as Excel may save it.
  std::string text = "\xFF\xFE";
  for (char c : std::string("Id,Organization,Created at\n1,acme,2026-03-01\n")) {
    text.push_back(c);
    text.push_back('\0');
  }
  Write(text);
  RecordingSink sink;
  absl::StatusOr<ImportSummary> s = RunImport(Options(), sink);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("must be UTF-8"));
  EXPECT_EQ(sink.flushes, 0);
}

TEST_F(ImporterTest, JsonLinesReportBadLinesAndKeepGoing) {
  path_ += ".json";
  Write("{\"id\":1,\"organization_id\":\"acme\",\"created_at\":\"2026-03-01T10:00:00Z\"}\n"
        "{\"id\":2,\"organization_id\":\"caf\xE9\",\"created_at\":\"2026-03-01T10:00:00Z\"}\n"
        "\n"
        "{\"id\":3,\"organization_id\":\"acme\",\"created_at\":\"2026-03-01T10:00:00Z\"}\n");
  RecordingSink sink;
  ImportOptions o = Options();
  o.mapping = *BuildMapping(*o.adapter, InputFormat::kJsonLines, nullptr);
  absl::StatusOr<ImportSummary> s = RunImport(o, sink);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->imported, 2);
  EXPECT_EQ(s->failed, 1);
  EXPECT_THAT(errors_.str(), HasSubstr("line 2: invalid UTF-8"));
  EXPECT_THAT(sink.lines, ElementsAre(1, 4));
  std::remove(path_.c_str());
}

TEST_F(ImporterTest, LargeFileStreamsInBatches) {
  std::string text = kHeader;
  for (int i = 1; i <= 5000; ++i) absl::StrAppend(&text, i, ",acme,2026-03-01,,open\n");
  Write(text);
  RecordingSink sink;
  ImportOptions o = Options();
  o.batch_size = 500;
  absl::StatusOr<ImportSummary> s = RunImport(o, sink);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->imported, 5000);
  EXPECT_EQ(sink.flushes, 10);
}

}  // namespace
}  // namespace cs::crm_sync
