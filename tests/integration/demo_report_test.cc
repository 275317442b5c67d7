// demo-load and cs-report against the three real services on their own schemas: the
// seeded portfolio loads, a second run with the same seed changes nothing (signals
// come back as duplicates), the cohorts produce all three bands, and the HTML report
// is well-formed, has every section and renders in headless Chromium.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

using ToolRun = CommandRun;

ToolRun Shell(const std::string& command) { return RunCommand(command); }

struct SignalCounts {
  long sent = -1, accepted = -1, duplicates = -1, rejected = -1;
};

SignalCounts SignalsOf(const std::string& output) {
  SignalCounts c;
  const size_t at = output.find("signals: ");
  if (at != std::string::npos) {
    std::sscanf(output.c_str() + at, "signals: %ld sent, %ld accepted, %ld duplicates, %ld rejected", &c.sent,
                &c.accepted, &c.duplicates, &c.rejected);
  }
  return c;
}

// Checks that every element is closed in order (void elements aside) and that no
// script is present; returns the first problem, or "" when the document is sound.
std::string WellFormedProblem(const std::string& html) {
  static const std::set<std::string> kVoid = {"meta", "br", "hr", "img", "link", "input", "!DOCTYPE"};
  std::vector<std::string> open;
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string::npos) {
    const size_t end = html.find('>', i);
    if (end == std::string::npos) return "unterminated tag";
    std::string tag = html.substr(i + 1, end - i - 1);
    i = end + 1;
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self_closing = !tag.empty() && tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" \n/"));
    if (name == "script") return "contains a script";
    if (kVoid.count(name) > 0 || self_closing) continue;
    if (name == "style") {  // skip the CSS body (it has no tags)
      const size_t close = html.find("</style>", i);
      if (close == std::string::npos) return "unclosed style";
      i = close + 8;
      continue;
    }
    if (!closing) {
      open.push_back(name);
    } else {
      if (open.empty() || open.back() != name) {
        return absl::StrCat("</", name, "> closes <", open.empty() ? "nothing" : open.back(), ">");
      }
      open.pop_back();
    }
  }
  return open.empty() ? "" : absl::StrCat("<", open.back(), "> never closed");
}

class DemoReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(health_db_, "demoh");
    CS_TEST_DATABASE_OR_SKIP(playbooks_db_, "demop");
    CS_TEST_DATABASE_OR_SKIP(expansion_db_, "demoe");
    health_ = std::make_unique<RunningService>("health", CS_HEALTH_SERVER, health_db_->uri(), "demo");
    ASSERT_TRUE(health_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << health_->Log();
    expansion_ = std::make_unique<RunningService>(
        "expansion", CS_EXPANSION_SERVER, expansion_db_->uri(), "demo",
        std::vector<std::string>{absl::StrCat("--health_addr=", health_->address())});
    ASSERT_TRUE(expansion_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << expansion_->Log();
    playbooks_ = std::make_unique<RunningService>(
        "playbooks", CS_PLAYBOOKS_SERVER, playbooks_db_->uri(), "demo",
        std::vector<std::string>{absl::StrCat("--health_addr=", health_->address()),
                                 absl::StrCat("--expansion_addr=", expansion_->address()),
                                 "--consume_interval=100ms"});
    ASSERT_TRUE(playbooks_->WaitFor(HealthStatus::SERVING, absl::Seconds(30))) << playbooks_->Log();
    health_stub_ = hv1::AccountHealthService::NewStub(health_->channel());
    expansion_stub_ = ev1::ExpansionService::NewStub(expansion_->channel());
  }

  void TearDown() override {
    for (RunningService* s : {playbooks_.get(), expansion_.get(), health_.get()}) {
      if (s == nullptr) continue;
      s->process().Signal(SIGTERM);
      s->process().WaitExit(absl::Seconds(20));
    }
  }

  ToolRun DemoLoad(const std::string& args) {
    return Shell(absl::StrCat(CS_DEMO_LOAD, " ", args, " --health-addr ", health_->address(), " --expansion-addr ",
                              expansion_->address()));
  }

  // Accounts by lifecycle (all pages).
  std::pair<int, int> AccountsAndChurned() {
    int all = 0, churned = 0;
    std::string token;
    do {
      hv1::ListAccountsRequest req;
      req.mutable_page()->set_page_size(1000);
      req.mutable_page()->set_page_token(token);
      hv1::ListAccountsResponse resp;
      grpc::Status s = health_stub_->ListAccounts(Context().get(), req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& a : resp.accounts()) {
        ++all;
        if (a.lifecycle() == hv1::LIFECYCLE_CHURNED) ++churned;
      }
      token = resp.page().next_page_token();
    } while (!token.empty());
    return {all, churned};
  }

  // The opportunities demo-load made (playbooks may add their own in the meantime).
  int ManualOpportunities() {
    int n = 0;
    std::string token;
    do {
      ev1::ListOpportunitiesRequest req;
      req.mutable_page()->set_page_size(1000);
      req.mutable_page()->set_page_token(token);
      ev1::ListOpportunitiesResponse resp;
      grpc::Status s = expansion_stub_->ListOpportunities(Context().get(), req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& o : resp.opportunities()) n += o.source() == ev1::OPPORTUNITY_SOURCE_MANUAL ? 1 : 0;
      token = resp.page().next_page_token();
    } while (!token.empty());
    return n;
  }

  hv1::BandDistribution Portfolio() {
    hv1::GetPortfolioSummaryRequest req;
    hv1::GetPortfolioSummaryResponse resp;
    grpc::Status s = health_stub_->GetPortfolioSummary(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.overall();
  }

  std::unique_ptr<TestDatabase> health_db_, playbooks_db_, expansion_db_;
  std::unique_ptr<RunningService> health_, expansion_, playbooks_;
  std::unique_ptr<hv1::AccountHealthService::Stub> health_stub_;
  std::unique_ptr<ev1::ExpansionService::Stub> expansion_stub_;
};

TEST_F(DemoReportTest, SeededLoadIsIdempotentCoversEveryBandAndRendersTheReport) {
  const std::string args = "--accounts 60 --days 90 --seed 5 --no-progress";
  const ToolRun first = DemoLoad(args);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const SignalCounts s1 = SignalsOf(first.output);
  EXPECT_GT(s1.sent, 60 * 90) << first.output;  // several signals per account and day
  EXPECT_EQ(s1.accepted, s1.sent) << first.output;
  EXPECT_EQ(s1.duplicates, 0);
  EXPECT_EQ(s1.rejected, 0);
  EXPECT_THAT(first.output, HasSubstr("demo portfolio loaded: 60 accounts x 90 days (seed 5) in "));

  const auto [accounts, churned] = AccountsAndChurned();
  EXPECT_EQ(accounts, 60);
  EXPECT_GT(churned, 0);
  const int opportunities = ManualOpportunities();
  EXPECT_GT(opportunities, 0);
  const hv1::BandDistribution bands = Portfolio();
  // The cohorts: healthy and expanding accounts GREEN, the declining ones YELLOW or
  // RED depending on how far they fell.
  EXPECT_GT(bands.green(), bands.yellow() + bands.red()) << bands.DebugString();
  EXPECT_GT(bands.yellow(), 0) << bands.DebugString();
  EXPECT_GT(bands.red(), 0) << bands.DebugString();

  // Same seed again: every signal is a duplicate and nothing else moves.
  const ToolRun second = DemoLoad(args);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  const SignalCounts s2 = SignalsOf(second.output);
  EXPECT_EQ(s2.sent, s1.sent);
  EXPECT_EQ(s2.accepted, 0) << second.output;
  EXPECT_EQ(s2.duplicates, s1.sent) << second.output;
  EXPECT_EQ(AccountsAndChurned(), std::make_pair(accounts, churned));
  EXPECT_EQ(ManualOpportunities(), opportunities);
  const hv1::BandDistribution again = Portfolio();
  EXPECT_EQ(again.green(), bands.green());
  EXPECT_EQ(again.yellow(), bands.yellow());
  EXPECT_EQ(again.red(), bands.red());

  // The HTML report.
  const std::string html_path = absl::StrCat(::testing::TempDir(), "/demo-report-", getpid(), ".html");
  const ToolRun report = Shell(absl::StrCat(CS_REPORT, " --html ", html_path, " --health-addr ", health_->address(),
                                            " --playbooks-addr ", playbooks_->address(), " --expansion-addr ",
                                            expansion_->address(), " --months 4 --weeks 8"));
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_THAT(report.output, HasSubstr(html_path));
  const std::string html = ReadFile(html_path);
  ASSERT_TRUE(absl::StartsWith(html, "<!DOCTYPE html>")) << html.substr(0, 200);
  EXPECT_EQ(WellFormedProblem(html), "");
  for (const char* section : {"id=\"bands\"", "id=\"trend\"", "id=\"at-risk\"", "id=\"escalations\"",
                              "id=\"pipeline\"", "id=\"nrr\""}) {
    EXPECT_THAT(html, HasSubstr(section));
  }
  EXPECT_THAT(html, ::testing::Not(HasSubstr("unavailable")));  // every service answered
  EXPECT_THAT(html, ::testing::Not(HasSubstr("http")));         // self-contained
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, HasSubstr("NRR <b>"));                      // a cohort existed
  EXPECT_THAT(html, HasSubstr("demo-5-"));                       // at-risk rows name accounts

  // Rendering in headless Chromium.
  if (Shell("command -v chromium").exit_code != 0) {
    if (std::getenv("CS_TEST_REQUIRE_DB") != nullptr) FAIL() << "chromium is not installed (scripts/bootstrap installs it)";
    std::fprintf(stderr, "SKIPPED the render step: chromium is not installed (apt-get install chromium)\n");
    return;
  }
  const std::string png = absl::StrCat(::testing::TempDir(), "/demo-report-", getpid(), ".png");
  std::remove(png.c_str());
  const ToolRun render = Shell(absl::StrCat("timeout 120 chromium --headless --disable-gpu --no-sandbox "
                                            "--screenshot=", png, " --window-size=1280,2000 file://", html_path));
  const std::string image = ReadFile(png);
  ASSERT_GT(image.size(), 20000u) << render.output;  // a blank page is a few kB
  EXPECT_EQ(image.substr(0, 4), "\x89PNG");
  std::fprintf(stderr, "report %s rendered to %s\n", html_path.c_str(), png.c_str());
}

}  // namespace
}  // namespace cs::testing
