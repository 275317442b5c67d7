// crm-sync: imports CRM, product-analytics, support and billing exports into the
// suite and exports health scores and opportunities back as CSV.
//   crm-sync import salesforce-accounts Account.csv --mapping site.yaml
//   crm-sync export health -o scores.csv
// Run `crm-sync --help` for every command. Exit codes follow csctl's:
//   0 done, 1 failed, 2 bad usage or mapping, 3 input not found,
//   4 done but some rows failed (each reported with its line number),
//   5 service unavailable (run again to resume), 6 not allowed, 130 interrupted.

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "tools/cli/cli.h"
#include "tools/crm-sync/adapters.h"
#include "tools/crm-sync/importer.h"
#include "tools/crm-sync/sinks.h"

namespace cs::crm_sync {
namespace {

using cli::Args;
using cli::kExitFailed;
using cli::kExitNotFound;
using cli::kExitOk;
using cli::kExitUsage;
using cli::UsageError;
constexpr int kExitRowsFailed = 4;
constexpr int kExitInterrupted = 130;

std::atomic<bool> g_stop{false};

extern "C" void OnInterrupt(int) {
  g_stop.store(true);
  // A second ^C ends the process at once.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

int ExitCodeFor(const absl::Status& status) {
  if (std::optional<int> common = cli::CommonExitCode(status)) return *common;
  // A bad file or option given to crm-sync is a usage error of the tool.
  return status.code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitFailed;
}

absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  static const auto* kSpec = new cli::ArgSpec{
      .switches = {"restart", "tls", "no-progress", "progress"},
      .short_options = {"o"},
      .options = {"mapping", "format", "batch-size", "limit", "errors", "parallel", "score-name",
                  "health-addr", "expansion-addr", "token", "ca-file", "timeout"},
      .tool = "crm-sync"};
  return cli::ParseArgs(argc, argv, *kSpec);
}

std::string Pick(const Args& args, const std::string& flag, const char* env,
                 const std::string& fallback) {
  if (args.options.count(flag)) return args.Get(flag);
  if (const char* v = std::getenv(env); v != nullptr && *v != '\0') return v;
  return fallback;
}

absl::StatusOr<client::ClientOptions> ClientOptionsFor(const Args& args, const std::string& target) {
  client::ClientOptions options;
  options.target = target;
  options.bearer_token = Pick(args, "token", "CRM_SYNC_TOKEN", "");
  options.ca_file = Pick(args, "ca-file", "CRM_SYNC_CA_FILE", "");
  options.tls = args.Has("tls") || !options.ca_file.empty();
  const std::string timeout = Pick(args, "timeout", "CRM_SYNC_TIMEOUT", "30s");
  if (!absl::ParseDuration(timeout, &options.deadline) || options.deadline <= absl::ZeroDuration()) {
    return UsageError(absl::StrCat("--timeout: '", timeout, "' is not a duration like 30s"));
  }
  return options;
}

absl::StatusOr<int64_t> IntOption(const Args& args, const std::string& name, int64_t fallback,
                                  int64_t min, int64_t max) {
  if (!args.options.count(name)) return fallback;
  int64_t v = 0;
  if (!absl::SimpleAtoi(args.Get(name), &v) || v < min || v > max) {
    return UsageError(absl::StrCat("--", name, ": must be a whole number in ", min, "-", max));
  }
  return v;
}

std::string AdapterList() {
  std::string out;
  for (const AdapterSpec& a : Adapters()) absl::StrAppend(&out, "  ", a.name, "\n      ", a.help, "\n");
  return out;
}

void PrintHelp() {
  std::cout
      << "usage: crm-sync COMMAND ...\n\n"
         "commands:\n"
         "  crm-sync import ADAPTER FILE [--mapping FILE.yaml|.json] [--format csv|json]\n"
         "        [--batch-size N] [--limit N] [--restart] [--errors FILE.csv] [--no-progress]\n"
         "        [--parallel N]   account upserts in flight (default 8)\n"
         "  crm-sync export health [--score-name NAME] [-o FILE]\n"
         "  crm-sync export opportunities [-o FILE]\n"
         "  crm-sync adapters [ADAPTER]     the adapters, their fields and default columns\n\n"
         "adapters:\n"
      << AdapterList()
      << "\nimport: bad rows are reported on stderr as 'line N: reason' and the good rows\n"
         "still go in; ids are derived from the source and each row's key, so importing\n"
         "the same file again changes nothing. After each batch a checkpoint is kept in\n"
         "FILE.crm-sync-state; an interrupted run (^C, a lost service, --limit) resumes\n"
         "from it, and a finished one removes it. --restart ignores it.\n\n"
         "connection (flag, then environment):\n"
         "  --health-addr     CS_HEALTH_ADDR     (127.0.0.1:50051)\n"
         "  --expansion-addr  CS_EXPANSION_ADDR  (127.0.0.1:50053)\n"
         "  --token           CRM_SYNC_TOKEN     bearer token\n"
         "  --tls, --ca-file  CRM_SYNC_CA_FILE\n"
         "  --timeout         CRM_SYNC_TIMEOUT   per call (30s)\n\n"
         "exit codes: 0 done, 1 failed, 2 bad usage or mapping, 3 input not found,\n"
         "4 done but some rows failed, 5 service unavailable (run again to resume),\n"
         "6 not allowed, 130 interrupted (run again to resume).\n";
}

absl::Status DescribeAdapter(const std::string& name) {
  const AdapterSpec* a = FindAdapter(name);
  if (a == nullptr) return UsageError(absl::StrCat("unknown adapter '", name, "'"));
  std::cout << a->name << ": " << a->help << "\n\nfields (field: default CSV column | JSON path):\n";
  for (const FieldSpec& f : a->fields) {
    std::cout << "  " << f.name << (f.required ? " (required)" : "") << ": "
              << (f.csv_column.empty() ? "-" : f.csv_column) << " | "
              << (f.json_path.empty() ? "-" : f.json_path) << "\n      " << f.help << "\n";
  }
  return absl::OkStatus();
}

int Import(const Args& args) {
  if (args.Has("help") || args.positional.size() != 3) {
    std::cout << "usage: crm-sync import ADAPTER FILE [--mapping FILE] [--format csv|json]\n"
                 "       [--batch-size N] [--limit N] [--restart] [--errors FILE.csv] [--no-progress]\n\n"
                 "adapters:\n"
              << AdapterList();
    return args.Has("help") ? kExitOk : kExitUsage;
  }
  const AdapterSpec* adapter = FindAdapter(args.positional[1]);
  if (adapter == nullptr) {
    std::cerr << "crm-sync: unknown adapter '" << args.positional[1] << "'; one of:\n" << AdapterList();
    return kExitUsage;
  }
  const std::string path = args.positional[2];
  InputFormat format = adapter->formats.front();
  const std::string format_flag = args.Get("format");
  if (format_flag == "csv") {
    format = InputFormat::kCsv;
  } else if (format_flag == "json") {
    format = InputFormat::kJsonLines;
  } else if (!format_flag.empty()) {
    std::cerr << "crm-sync: --format: '" << format_flag << "' must be csv or json\n";
    return kExitUsage;
  } else if (absl::EndsWith(path, ".json") || absl::EndsWith(path, ".jsonl") ||
             absl::EndsWith(path, ".ndjson")) {
    format = InputFormat::kJsonLines;
  } else if (absl::EndsWith(path, ".csv")) {
    format = InputFormat::kCsv;
  }
  if (std::find(adapter->formats.begin(), adapter->formats.end(), format) == adapter->formats.end()) {
    std::cerr << "crm-sync: " << adapter->name << " reads "
              << (adapter->formats.front() == InputFormat::kCsv ? "CSV" : "JSON lines") << " only\n";
    return kExitUsage;
  }
  absl::StatusOr<Mapping> mapping = LoadMapping(*adapter, format, args.Get("mapping"));
  if (!mapping.ok()) {
    std::cerr << "crm-sync: " << mapping.status().message() << "\n";
    return mapping.status().code() == absl::StatusCode::kNotFound ? kExitNotFound : kExitUsage;
  }
  absl::StatusOr<int64_t> batch = IntOption(args, "batch-size", 500, 1, 1000);
  absl::StatusOr<int64_t> limit = IntOption(args, "limit", 0, 0, int64_t{1} << 60);
  absl::StatusOr<int64_t> parallel = IntOption(args, "parallel", 8, 1, 64);
  for (const absl::StatusOr<int64_t>* v : {&batch, &limit, &parallel}) {
    if (!v->ok()) {
      std::cerr << "crm-sync: " << v->status().message() << "\n";
      return kExitUsage;
    }
  }
  const bool to_expansion =
      adapter->target == Target::kOpportunities || adapter->target == Target::kLedger;
  absl::StatusOr<client::ClientOptions> options = ClientOptionsFor(
      args, to_expansion ? Pick(args, "expansion-addr", "CS_EXPANSION_ADDR", "127.0.0.1:50053")
                         : Pick(args, "health-addr", "CS_HEALTH_ADDR", "127.0.0.1:50051"));
  if (!options.ok()) {
    std::cerr << "crm-sync: " << options.status().message() << "\n";
    return kExitUsage;
  }
  std::unique_ptr<HealthClient> health;
  std::unique_ptr<ExpansionClient> expansion;
  std::unique_ptr<Sink> sink;
  if (to_expansion) {
    absl::StatusOr<std::unique_ptr<ExpansionClient>> c = ExpansionClient::Create(*options);
    if (!c.ok()) {
      std::cerr << "crm-sync: " << c.status().message() << "\n";
      return kExitUsage;
    }
    expansion = *std::move(c);
    sink = adapter->target == Target::kLedger ? MakeLedgerSink(expansion.get())
                                              : MakeOpportunitySink(expansion.get());
  } else {
    absl::StatusOr<std::unique_ptr<HealthClient>> c = HealthClient::Create(*options);
    if (!c.ok()) {
      std::cerr << "crm-sync: " << c.status().message() << "\n";
      return kExitUsage;
    }
    health = *std::move(c);
    switch (adapter->target) {
      case Target::kAccounts:
        sink = MakeAccountSink(health.get(), static_cast<int>(*parallel));
        break;
      case Target::kTrackEvents: sink = MakeTrackSink(health.get()); break;
      default: sink = MakeSignalSink(health.get()); break;
    }
    if (absl::Status s = ApplyEventMappings(health.get(), *mapping); !s.ok()) {
      std::cerr << "crm-sync: " << s.message() << "\n";
      return IsRowLevel(s) ? kExitUsage : ExitCodeFor(s);
    }
  }

  std::ofstream errors_csv;
  ImportOptions import;
  import.path = path;
  import.adapter = adapter;
  import.mapping = *std::move(mapping);
  import.batch_size = static_cast<size_t>(*batch);
  import.limit = *limit;
  import.restart = args.Has("restart");
  import.progress = !args.Has("no-progress") && (args.Has("progress") || isatty(STDERR_FILENO));
  import.errors = &std::cerr;
  if (!args.Get("errors").empty()) {
    errors_csv.open(args.Get("errors"), std::ios::trunc | std::ios::binary);
    if (!errors_csv) {
      std::cerr << "crm-sync: --errors: cannot write " << args.Get("errors") << "\n";
      return kExitUsage;
    }
    errors_csv << "line,reason\r\n";
    import.errors_csv = &errors_csv;
  }
  import.stop = &g_stop;
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);

  ImportSummary partial;
  absl::StatusOr<ImportSummary> summary = RunImport(import, *sink, &partial);
  if (!summary.ok()) {
    if (IsRowLevel(summary.status()) || summary.status().code() == absl::StatusCode::kAborted) {
      std::cerr << "crm-sync: " << summary.status().message() << "\n";
    } else {
      // Not the file's fault: say which service failed, so the operator knows what to fix.
      std::cerr << "crm-sync: " << (to_expansion ? "expansion" : "health") << " at "
                << options->target << ": " << summary.status().message() << "\n";
    }
    if (partial.read > 0 || partial.next_line > 0) {
      partial.finished = false;
      std::cerr << FormatSummary(partial) << "\n";
    }
    return ExitCodeFor(summary.status());
  }
  std::cerr << FormatSummary(*summary) << "\n";
  if (!summary->finished && g_stop.load()) return kExitInterrupted;
  return summary->failed > 0 ? kExitRowsFailed : kExitOk;
}

int Export(const Args& args) {
  if (args.Has("help") || args.positional.size() != 2 ||
      (args.positional[1] != "health" && args.positional[1] != "opportunities")) {
    std::cout << "usage: crm-sync export health [--score-name NAME] [-o FILE]\n"
                 "       crm-sync export opportunities [-o FILE]\n"
                 "Writes CSV (stdout unless -o): health as account_id,score,band,computed_at;\n"
                 "opportunities with id, account, kind, stage, amount, close date, CRM id.\n";
    return args.Has("help") ? kExitOk : kExitUsage;
  }
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (!args.Get("o").empty() && args.Get("o") != "-") {
    file.open(args.Get("o"), std::ios::trunc | std::ios::binary);
    if (!file) {
      std::cerr << "crm-sync: -o: cannot write " << args.Get("o") << "\n";
      return kExitUsage;
    }
    out = &file;
  }
  absl::StatusOr<int64_t> rows;
  if (args.positional[1] == "health") {
    absl::StatusOr<client::ClientOptions> options =
        ClientOptionsFor(args, Pick(args, "health-addr", "CS_HEALTH_ADDR", "127.0.0.1:50051"));
    if (!options.ok()) {
      std::cerr << "crm-sync: " << options.status().message() << "\n";
      return kExitUsage;
    }
    absl::StatusOr<std::unique_ptr<HealthClient>> c = HealthClient::Create(*options);
    if (!c.ok()) {
      std::cerr << "crm-sync: " << c.status().message() << "\n";
      return kExitUsage;
    }
    rows = ExportHealth(c->get(), args.Get("score-name", "health"), *out);
  } else {
    absl::StatusOr<client::ClientOptions> options =
        ClientOptionsFor(args, Pick(args, "expansion-addr", "CS_EXPANSION_ADDR", "127.0.0.1:50053"));
    if (!options.ok()) {
      std::cerr << "crm-sync: " << options.status().message() << "\n";
      return kExitUsage;
    }
    absl::StatusOr<std::unique_ptr<ExpansionClient>> c = ExpansionClient::Create(*options);
    if (!c.ok()) {
      std::cerr << "crm-sync: " << c.status().message() << "\n";
      return kExitUsage;
    }
    rows = ExportOpportunities(c->get(), *out);
  }
  out->flush();
  if (!rows.ok()) {
    std::cerr << "crm-sync: " << rows.status().message() << "\n";
    return ExitCodeFor(rows.status());
  }
  std::cerr << "exported " << *rows << " rows\n";
  return kExitOk;
}

int Main(int argc, char** argv) {
  absl::StatusOr<Args> args = ParseArgs(argc, argv);
  if (!args.ok()) {
    std::cerr << "crm-sync: " << args.status().message() << "\n";
    return kExitUsage;
  }
  if (args->positional.empty()) {
    PrintHelp();
    return args->Has("help") ? kExitOk : kExitUsage;
  }
  const std::string& command = args->positional[0];
  if (command == "import") return Import(*args);
  if (command == "export") return Export(*args);
  if (command == "adapters") {
    if (args->positional.size() == 2) {
      absl::Status s = DescribeAdapter(args->positional[1]);
      if (!s.ok()) std::cerr << "crm-sync: " << s.message() << "\n";
      return ExitCodeFor(s);
    }
    std::cout << AdapterList();
    return kExitOk;
  }
  if (command == "help") {
    PrintHelp();
    return kExitOk;
  }
  std::cerr << "crm-sync: unknown command '" << command << "' (see crm-sync --help)\n";
  return kExitUsage;
}

}  // namespace
}  // namespace cs::crm_sync

int main(int argc, char** argv) { return cs::crm_sync::Main(argc, argv); }
