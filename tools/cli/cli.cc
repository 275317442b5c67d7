#include "tools/cli/cli.h"

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cs::cli {
namespace {
constexpr char kUsagePayload[] = "cs.cli.usage";
}  // namespace

absl::Status UsageError(absl::string_view message) {
  absl::Status s = absl::InvalidArgumentError(message);
  s.SetPayload(kUsagePayload, absl::Cord("1"));
  return s;
}

std::optional<int> CommonExitCode(const absl::Status& status) {
  if (status.GetPayload(kUsagePayload).has_value()) return kExitUsage;
  switch (status.code()) {
    case absl::StatusCode::kOk: return kExitOk;
    case absl::StatusCode::kNotFound: return kExitNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted: return kExitUnavailable;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied: return kExitDenied;
    default: return std::nullopt;
  }
}

absl::StatusOr<Args> ParseArgs(int argc, char** argv, const ArgSpec& spec) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h") {
      args.switches.insert("help");
    } else if (a.size() == 2 && a[0] == '-' && spec.short_options.count(a.substr(1))) {
      if (i + 1 >= argc) return UsageError(absl::StrCat(a, ": needs a value"));
      args.options[a.substr(1)] = argv[++i];
    } else if (absl::StartsWith(a, "--") && a.size() > 2) {
      const size_t eq = a.find('=');
      std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      for (char& c : name) {
        if (c == '_') c = '-';
      }
      const bool is_switch = name == "help" || spec.switches.count(name) > 0;
      if (!is_switch && !spec.options.empty() && !spec.options.count(name)) {
        return UsageError(absl::StrCat("--", name, ": unknown option (see ", spec.tool, " --help)"));
      }
      if (eq != std::string::npos) {
        args.options[name] = a.substr(eq + 1);
      } else if (is_switch) {
        args.switches.insert(name);
      } else if (i + 1 < argc) {
        args.options[name] = argv[++i];
      } else {
        return UsageError(absl::StrCat("--", name, ": needs a value"));
      }
    } else {
      args.positional.push_back(a);
    }
  }
  return args;
}

}  // namespace cs::cli
