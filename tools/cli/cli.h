#ifndef CS_TOOLS_CLI_CLI_H_
#define CS_TOOLS_CLI_CLI_H_

// Command-line handling shared by the suite's tools (csctl, crm-sync): one way of
// spelling options and one meaning for the exit codes every tool documents.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cs::cli {

// Exit codes common to the tools (README, "Exit codes"). Each tool may give 4 its
// own meaning (csctl: refused by the service; crm-sync: some rows failed).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;
inline constexpr int kExitUnavailable = 5;
inline constexpr int kExitDenied = 6;

// An error in how the tool was called, not an answer of a service: exit code 2.
absl::Status UsageError(absl::string_view message);

// The exit code of the outcomes every tool treats alike: success, a usage error, not
// found, the service unreachable or overloaded, authentication refused. nullopt for
// the rest, which each tool maps itself.
std::optional<int> CommonExitCode(const absl::Status& status);

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // --name value, --name=value, -o value
  std::set<std::string> switches;              // --help, --tls, ...
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = options.find(name);
    return it == options.end() ? fallback : it->second;
  }
  bool Has(const std::string& name) const { return switches.count(name) > 0; }
};

struct ArgSpec {
  std::set<std::string> switches;       // long options without a value ("help" is implied)
  std::set<std::string> short_options;  // one-letter options taking a value ("o" for -o)
  // Long options taking a value. Empty accepts any name; otherwise an unknown name
  // is a usage error, so that a misspelt option cannot silently fall back to a default.
  std::set<std::string> options;
  std::string tool;  // named in the "unknown option" message
};

// Parses argv[1..]. Underscores in option names read as dashes (--batch_size is
// --batch-size); a value given with '=' keeps its own spelling. -h is --help.
absl::StatusOr<Args> ParseArgs(int argc, char** argv, const ArgSpec& spec);

}  // namespace cs::cli

#endif  // CS_TOOLS_CLI_CLI_H_
