#include "tools/cli/cli.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cs::cli {
namespace {

absl::StatusOr<Args> Parse(std::vector<std::string> words, const ArgSpec& spec) {
  std::vector<char*> argv;
  static char tool[] = "tool";
  argv.push_back(tool);
  for (std::string& w : words) argv.push_back(w.data());
  return ParseArgs(static_cast<int>(argv.size()), argv.data(), spec);
}

TEST(ParseArgsTest, ReadsPositionalsOptionsSwitchesAndShortOptions) {
  ArgSpec spec{.switches = {"tls"}, .short_options = {"o"}, .options = {}, .tool = "tool"};
  auto args = Parse({"accounts", "list", "--tier=smb", "--page_size", "5", "--tls", "-o", "json",
                     "--name=a_b"},
                    spec);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(args->positional, ::testing::ElementsAre("accounts", "list"));
  EXPECT_EQ(args->Get("tier"), "smb");
  EXPECT_EQ(args->Get("page-size"), "5");  // underscores read as dashes
  EXPECT_EQ(args->Get("name"), "a_b");     // a value keeps its spelling
  EXPECT_EQ(args->Get("o"), "json");
  EXPECT_TRUE(args->Has("tls"));
  EXPECT_FALSE(args->Has("help"));
  EXPECT_EQ(args->Get("missing", "fallback"), "fallback");
}

TEST(ParseArgsTest, HelpIsAlwaysASwitch) {
  auto args = Parse({"-h"}, ArgSpec{});
  ASSERT_TRUE(args.ok());
  EXPECT_TRUE(args->Has("help"));
  ArgSpec strict;
  strict.options = {"mapping"};
  args = Parse({"--help", "import"}, strict);
  ASSERT_TRUE(args.ok());
  EXPECT_TRUE(args->Has("help"));
  EXPECT_THAT(args->positional, ::testing::ElementsAre("import"));
}

TEST(ParseArgsTest, AMissingValueOrAnUnknownOptionIsAUsageError) {
  ArgSpec strict{.switches = {}, .short_options = {"o"}, .options = {"mapping"}, .tool = "crm-sync"};
  auto missing = Parse({"--mapping"}, strict);
  EXPECT_EQ(missing.status().message(), "--mapping: needs a value");
  EXPECT_EQ(CommonExitCode(missing.status()), kExitUsage);
  auto short_missing = Parse({"-o"}, strict);
  EXPECT_EQ(short_missing.status().message(), "-o: needs a value");
  auto unknown = Parse({"--mappng", "m.yaml"}, strict);
  EXPECT_EQ(unknown.status().message(), "--mappng: unknown option (see crm-sync --help)");
  EXPECT_EQ(CommonExitCode(unknown.status()), kExitUsage);
}

TEST(CommonExitCodeTest, MapsTheSharedOutcomesAndLeavesTheRestToTheTool) {
  EXPECT_EQ(CommonExitCode(absl::OkStatus()), kExitOk);
  EXPECT_EQ(CommonExitCode(absl::NotFoundError("x")), kExitNotFound);
  EXPECT_EQ(CommonExitCode(absl::UnavailableError("x")), kExitUnavailable);
  EXPECT_EQ(CommonExitCode(absl::DeadlineExceededError("x")), kExitUnavailable);
  EXPECT_EQ(CommonExitCode(absl::ResourceExhaustedError("x")), kExitUnavailable);
  EXPECT_EQ(CommonExitCode(absl::UnauthenticatedError("x")), kExitDenied);
  EXPECT_EQ(CommonExitCode(absl::PermissionDeniedError("x")), kExitDenied);
  // A service's INVALID_ARGUMENT is not a usage error of the tool.
  EXPECT_EQ(CommonExitCode(absl::InvalidArgumentError("x")), std::nullopt);
  EXPECT_EQ(CommonExitCode(absl::InternalError("x")), std::nullopt);
}

}  // namespace
}  // namespace cs::cli
