// csctl: the suite from the command line, in the style of kubectl.
//   csctl accounts list --band red --tier enterprise
//   csctl health get ACCOUNT --history 90d -o yaml
// Run `csctl --help` for every command. Exit codes (for scripts):
//   0 done, 1 the service failed, 2 bad usage, 3 not found,
//   4 refused (invalid argument, failed precondition, conflict),
//   5 unavailable or too slow (retry later), 6 not authenticated / not allowed.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "tools/csctl/output.h"

namespace cs::csctl {
namespace {

namespace hv1 = ::cs::health::v1;
using HealthClient = client::ServiceClient<hv1::AccountHealthService>;
using HealthStub = HealthClient::Stub;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotFound = 3;
constexpr int kExitRefused = 4;
constexpr int kExitUnavailable = 5;
constexpr int kExitDenied = 6;

// An error in how csctl was called (not an answer of a service): exit code 2.
absl::Status UsageError(absl::string_view message) {
  absl::Status s = absl::InvalidArgumentError(message);
  s.SetPayload("csctl.usage", absl::Cord("1"));
  return s;
}

int ExitCodeFor(const absl::Status& status) {
  if (status.GetPayload("csctl.usage").has_value()) return kExitUsage;
  switch (status.code()) {
    case absl::StatusCode::kOk: return kExitOk;
    case absl::StatusCode::kNotFound: return kExitNotFound;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kOutOfRange: return kExitRefused;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted: return kExitUnavailable;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied: return kExitDenied;
    default: return kExitFailed;
  }
}

// ---------------------------------------------------------------------------
// Arguments and settings

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // --name value, --name=value, -o value
  std::set<std::string> switches;              // --open, --help, ...
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = options.find(name);
    return it == options.end() ? fallback : it->second;
  }
  bool Has(const std::string& name) const { return switches.count(name) > 0; }
};

const std::set<std::string>& Switches() {
  static const auto* kSwitches =
      new std::set<std::string>{"help", "open", "overdue", "tls", "h"};
  return *kSwitches;
}

absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-o" || a == "-f") {
      if (i + 1 >= argc) return UsageError(absl::StrCat(a, ": needs a value"));
      args.options[a.substr(1)] = argv[++i];
    } else if (a.rfind("--", 0) == 0 && a.size() > 2) {
      std::string name = a.substr(2);
      for (char& c : name) {
        if (c == '_') c = '-';
      }
      const size_t eq = name.find('=');
      if (eq != std::string::npos) {
        // The value keeps its own spelling (underscores included).
        args.options[name.substr(0, eq)] = a.substr(a.find('=') + 1);
      } else if (Switches().count(name)) {
        args.switches.insert(name);
      } else if (i + 1 < argc) {
        args.options[name] = argv[++i];
      } else {
        return UsageError(absl::StrCat("--", name, ": needs a value"));
      }
    } else if (a == "-h") {
      args.switches.insert("help");
    } else {
      args.positional.push_back(a);
    }
  }
  return args;
}

// Settings: a flag beats the environment, which beats the config file
// (--config, CSCTL_CONFIG or ~/.config/csctl/config; lines "key = value").
struct Settings {
  std::string health_addr = "127.0.0.1:50051";
  std::string playbooks_addr = "127.0.0.1:50052";
  std::string expansion_addr = "127.0.0.1:50053";
  client::ClientOptions base;
  Format format = Format::kTable;
};

absl::StatusOr<Settings> LoadSettings(const Args& args) {
  std::map<std::string, std::string> file;
  std::string path = args.Get("config");
  if (path.empty() && std::getenv("CSCTL_CONFIG") != nullptr) path = std::getenv("CSCTL_CONFIG");
  const bool explicit_path = !path.empty();
  if (path.empty() && std::getenv("HOME") != nullptr) {
    path = absl::StrCat(std::getenv("HOME"), "/.config/csctl/config");
  }
  std::ifstream in(path);
  if (!in && explicit_path) {
    return UsageError(absl::StrCat("--config: cannot read ", path));
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    std::pair<std::string, std::string> kv = absl::StrSplit(text, absl::MaxSplits('=', 1));
    if (text.find('=') == absl::string_view::npos) {
      return UsageError(absl::StrCat(path, ":", n, ": expected key = value"));
    }
    file[std::string(absl::StripAsciiWhitespace(kv.first))] =
        std::string(absl::StripAsciiWhitespace(kv.second));
  }
  auto pick = [&](const std::string& flag, const char* env, const std::string& key,
                  const std::string& fallback) {
    if (args.options.count(flag)) return args.Get(flag);
    if (std::getenv(env) != nullptr) return std::string(std::getenv(env));
    if (file.count(key)) return file[key];
    return fallback;
  };
  Settings s;
  s.health_addr = pick("health-addr", "CS_HEALTH_ADDR", "health_addr", s.health_addr);
  s.playbooks_addr = pick("playbooks-addr", "CS_PLAYBOOKS_ADDR", "playbooks_addr", s.playbooks_addr);
  s.expansion_addr = pick("expansion-addr", "CS_EXPANSION_ADDR", "expansion_addr", s.expansion_addr);
  s.base.bearer_token = pick("token", "CSCTL_TOKEN", "token", "");
  s.base.ca_file = pick("ca-file", "CSCTL_CA_FILE", "ca_file", "");
  s.base.cert_file = pick("cert-file", "CSCTL_CERT_FILE", "cert_file", "");
  s.base.key_file = pick("key-file", "CSCTL_KEY_FILE", "key_file", "");
  s.base.tls = args.Has("tls") || !s.base.ca_file.empty() || file["tls"] == "true";
  const std::string timeout = pick("timeout", "CSCTL_TIMEOUT", "timeout", "10s");
  if (!absl::ParseDuration(timeout, &s.base.deadline) || s.base.deadline <= absl::ZeroDuration()) {
    return UsageError(absl::StrCat("--timeout: '", timeout, "' is not a duration like 10s"));
  }
  absl::StatusOr<Format> format = ParseFormat(args.Get("o", "table"));
  if (!format.ok()) return format.status();
  s.format = *format;
  return s;
}

// ---------------------------------------------------------------------------
// Enum names: TIER_MID_MARKET <-> mid-market

std::string EnumPrefix(const google::protobuf::EnumDescriptor* d) {
  std::string out;
  for (char c : d->name()) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) && !out.empty()) out.push_back('_');
    out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  return out + "_";
}

std::string EnumText(const google::protobuf::EnumDescriptor* d, int value) {
  const google::protobuf::EnumValueDescriptor* v = d->FindValueByNumber(value);
  if (v == nullptr || v->number() == 0) return "-";
  std::string name = std::string(absl::StripPrefix(v->name(), EnumPrefix(d)));
  for (char& c : name) c = (c == '_') ? '-' : absl::ascii_tolower(static_cast<unsigned char>(c));
  return name;
}

absl::StatusOr<int> ParseEnum(const std::string& option, const google::protobuf::EnumDescriptor* d,
                              const std::string& text) {
  std::string name = EnumPrefix(d);
  for (char c : text) name.push_back(c == '-' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c)));
  const google::protobuf::EnumValueDescriptor* v = d->FindValueByName(name);
  if (v != nullptr && v->number() != 0) return v->number();
  std::vector<std::string> names;
  for (int i = 1; i < d->value_count(); ++i) names.push_back(EnumText(d, d->value(i)->number()));
  return UsageError(
      absl::StrCat("--", option, ": '", text, "' must be one of ", absl::StrJoin(names, ", ")));
}

template <typename Enum>
absl::Status OptionalEnum(const Args& args, const std::string& option, const std::function<void(Enum)>& set) {
  if (!args.options.count(option)) return absl::OkStatus();
  absl::StatusOr<int> v =
      ParseEnum(option, google::protobuf::GetEnumDescriptor<Enum>(), args.Get(option));
  if (!v.ok()) return v.status();
  set(static_cast<Enum>(*v));
  return absl::OkStatus();
}

std::string TimeText(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(t.seconds()), absl::UTCTimeZone());
}

std::string DateText(const cs::common::v1::Date& d) {
  if (d.year() == 0) return "-";
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

std::string MoneyText(const cs::common::v1::Money& m) {
  if (m.currency_code().empty()) return "-";
  return absl::StrFormat("%s %.2f", m.currency_code(), m.minor_units() / 100.0);
}

// "90d", "12h", "30m": a span back from now.
absl::StatusOr<absl::Duration> ParseSpan(const std::string& option, const std::string& text) {
  int64_t days = 0;
  if (!text.empty() && text.back() == 'd' && absl::SimpleAtoi(text.substr(0, text.size() - 1), &days) &&
      days > 0) {
    return absl::Hours(24 * days);
  }
  absl::Duration d;
  if (absl::ParseDuration(text, &d) && d > absl::ZeroDuration()) return d;
  return UsageError(absl::StrCat("--", option, ": '", text, "' is not a span like 90d or 12h"));
}

cs::common::v1::Date ToDate(absl::Time t) {
  const absl::CivilDay day = absl::ToCivilDay(t, absl::UTCTimeZone());
  cs::common::v1::Date d;
  d.set_year(static_cast<int32_t>(day.year()));
  d.set_month(day.month());
  d.set_day(day.day());
  return d;
}

// ---------------------------------------------------------------------------
// Commands

struct Context {
  const Args& args;
  const Settings& settings;
  std::ostream& out;
};

struct Command {
  std::vector<std::string> path;
  std::string usage;    // arguments and options after the path
  std::string summary;  // one line
  std::function<absl::Status(Context&)> run;
};

absl::StatusOr<std::unique_ptr<HealthClient>> Health(const Settings& s) {
  client::ClientOptions options = s.base;
  options.target = s.health_addr;
  absl::StatusOr<std::unique_ptr<HealthClient>> client = HealthClient::Create(options);
  if (!client.ok()) return UsageError(client.status().message());
  return client;
}

// Prints one message in the chosen format, or its table.
void Emit(Context& c, const google::protobuf::Message& m, const std::function<void()>& table) {
  switch (c.settings.format) {
    case Format::kJson: c.out << ToJson(m); break;
    case Format::kYaml: c.out << ToYaml(m); break;
    default: table(); break;
  }
}

absl::StatusOr<std::string> OnePositional(Context& c, const std::string& what) {
  if (c.args.positional.size() != 1) {
    return UsageError(absl::StrCat("expected one ", what));
  }
  return c.args.positional[0];
}

void AccountRow(Table& t, const hv1::Account& a) {
  t.AddRow({a.account_id(), a.name(), EnumText(hv1::Tier_descriptor(), a.tier()),
            EnumText(hv1::Industry_descriptor(), a.industry()), a.owner_id(),
            EnumText(hv1::Lifecycle_descriptor(), a.lifecycle()), DateText(a.renewal_date()),
            MoneyText(a.arr())});
}
const std::vector<std::string> kAccountHeader = {"ACCOUNT", "NAME", "TIER", "INDUSTRY",
                                                 "OWNER", "LIFECYCLE", "RENEWAL", "ARR"};

absl::Status AccountsList(Context& c) {
  hv1::ListAccountsRequest request;
  if (auto s = OptionalEnum<hv1::Tier>(c.args, "tier", [&](hv1::Tier v) { request.set_tier(v); }); !s.ok()) return s;
  if (auto s = OptionalEnum<hv1::Industry>(c.args, "industry", [&](hv1::Industry v) { request.set_industry(v); }); !s.ok()) return s;
  if (auto s = OptionalEnum<hv1::Lifecycle>(c.args, "lifecycle", [&](hv1::Lifecycle v) { request.set_lifecycle(v); }); !s.ok()) return s;
  request.set_owner_id(c.args.Get("owner"));
  int limit = 0;
  if (c.args.options.count("limit") && (!absl::SimpleAtoi(c.args.Get("limit"), &limit) || limit <= 0)) {
    return UsageError("--limit: must be a positive number");
  }
  // Band lives on the score: list the at-risk view filtered by band instead.
  std::vector<hv1::Account> accounts;
  absl::StatusOr<std::unique_ptr<HealthClient>> health = Health(c.settings);
  if (!health.ok()) return health.status();
  if (c.args.options.count("band")) {
    hv1::ListAtRiskRequest at_risk;
    absl::StatusOr<int> band = ParseEnum("band", hv1::Band_descriptor(), c.args.Get("band"));
    if (!band.ok()) return band.status();
    at_risk.add_bands(static_cast<hv1::Band>(*band));
    at_risk.set_tier(request.tier());
    auto pager = (*health)->Paged(&HealthStub::ListAtRisk, at_risk, &hv1::ListAtRiskResponse::accounts);
    for (;;) {
      absl::StatusOr<std::optional<hv1::AtRiskAccount>> next = pager.Next();
      if (!next.ok()) return next.status();
      if (!next->has_value() || (limit > 0 && static_cast<int>(accounts.size()) >= limit)) break;
      const hv1::Account& a = (*next)->account();
      if ((request.industry() != 0 && a.industry() != request.industry()) ||
          (!request.owner_id().empty() && a.owner_id() != request.owner_id()) ||
          (request.lifecycle() != 0 && a.lifecycle() != request.lifecycle())) {
        continue;
      }
      accounts.push_back(a);
    }
  } else {
    auto pager = (*health)->Paged(&HealthStub::ListAccounts, request, &hv1::ListAccountsResponse::accounts);
    for (;;) {
      absl::StatusOr<std::optional<hv1::Account>> next = pager.Next();
      if (!next.ok()) return next.status();
      if (!next->has_value() || (limit > 0 && static_cast<int>(accounts.size()) >= limit)) break;
      accounts.push_back(**next);
    }
  }
  hv1::ListAccountsResponse all;
  for (hv1::Account& a : accounts) *all.add_accounts() = std::move(a);
  Emit(c, all, [&] {
    Table t(kAccountHeader);
    for (const hv1::Account& a : all.accounts()) AccountRow(t, a);
    t.Print(c.out);
  });
  return absl::OkStatus();
}

absl::Status AccountsGet(Context& c) {
  absl::StatusOr<std::string> id = OnePositional(c, "ACCOUNT id");
  if (!id.ok()) return id.status();
  absl::StatusOr<std::unique_ptr<HealthClient>> health = Health(c.settings);
  if (!health.ok()) return health.status();
  hv1::GetAccountRequest request;
  request.set_account_id(*id);
  absl::StatusOr<hv1::GetAccountResponse> r = (*health)->Call(&HealthStub::GetAccount, request);
  if (!r.ok()) return r.status();
  Emit(c, r->account(), [&] {
    Table t(kAccountHeader);
    AccountRow(t, r->account());
    t.Print(c.out);
  });
  return absl::OkStatus();
}

absl::Status AccountsUpsert(Context& c) {
  absl::StatusOr<std::string> id = OnePositional(c, "ACCOUNT id");
  if (!id.ok()) return id.status();
  hv1::UpsertAccountRequest request;
  request.set_request_id(c.args.Get("request-id"));
  hv1::Account* a = request.mutable_account();
  a->set_account_id(*id);
  a->set_name(c.args.Get("name", *id));
  a->set_owner_id(c.args.Get("owner"));
  int employees = 0;
  if (c.args.options.count("employees") && !absl::SimpleAtoi(c.args.Get("employees"), &employees)) {
    return UsageError("--employees: must be a number");
  }
  a->set_employee_count(employees);
  if (auto s = OptionalEnum<hv1::Tier>(c.args, "tier", [&](hv1::Tier v) { a->set_tier(v); }); !s.ok()) return s;
  if (auto s = OptionalEnum<hv1::Industry>(c.args, "industry", [&](hv1::Industry v) { a->set_industry(v); }); !s.ok()) return s;
  if (auto s = OptionalEnum<hv1::Lifecycle>(c.args, "lifecycle", [&](hv1::Lifecycle v) { a->set_lifecycle(v); }); !s.ok()) return s;
  if (c.args.options.count("arr")) {
    double arr = 0;
    if (!absl::SimpleAtod(c.args.Get("arr"), &arr) || arr < 0) {
      return UsageError("--arr: must be an amount like 120000.00");
    }
    a->mutable_arr()->set_minor_units(static_cast<int64_t>(arr * 100 + 0.5));
    a->mutable_arr()->set_currency_code(c.args.Get("currency", "USD"));
  }
  absl::StatusOr<std::unique_ptr<HealthClient>> health = Health(c.settings);
  if (!health.ok()) return health.status();
  absl::StatusOr<hv1::UpsertAccountResponse> r = (*health)->Call(&HealthStub::UpsertAccount, request);
  if (!r.ok()) return r.status();
  Emit(c, *r, [&] {
    c.out << (r->created() ? "created " : "updated ") << r->account().account_id() << " ("
          << EnumText(hv1::Tier_descriptor(), r->account().tier()) << ")\n";
  });
  return absl::OkStatus();
}

absl::Status HealthGet(Context& c) {
  absl::StatusOr<std::string> id = OnePositional(c, "ACCOUNT id");
  if (!id.ok()) return id.status();
  absl::StatusOr<std::unique_ptr<HealthClient>> health = Health(c.settings);
  if (!health.ok()) return health.status();
  hv1::GetHealthRequest request;
  request.set_account_id(*id);
  request.set_score_name(c.args.Get("score"));
  absl::StatusOr<hv1::GetHealthResponse> r = (*health)->Call(&HealthStub::GetHealth, request);
  if (!r.ok()) return r.status();
  hv1::GetHealthHistoryResponse history;
  if (c.args.options.count("history")) {
    absl::StatusOr<absl::Duration> span = ParseSpan("history", c.args.Get("history"));
    if (!span.ok()) return span.status();
    hv1::GetHealthHistoryRequest h;
    h.set_account_id(*id);
    h.set_score_name(c.args.Get("score"));
    const absl::Time now = absl::Now();
    *h.mutable_from() = ToDate(now - *span);
    *h.mutable_to() = ToDate(now);
    absl::StatusOr<hv1::GetHealthHistoryResponse> hr = (*health)->Call(&HealthStub::GetHealthHistory, h);
    if (!hr.ok()) return hr.status();
    history = *std::move(hr);
  }
  const hv1::Health& x = r->health();
  if (c.settings.format != Format::kTable) {
    Emit(c, *r, [] {});
    if (c.args.options.count("history")) Emit(c, history, [] {});
    return absl::OkStatus();
  }
  c.out << absl::StrFormat("%s  %s %.1f %s  (scorecard %s v%d, computed %s)\n", x.account_id(),
                           x.score_name(), x.score(), EnumText(hv1::Band_descriptor(), x.band()),
                           x.scorecard_id(), x.scorecard_version(), TimeText(x.computed_at()));
  if (x.has_churn_probability()) c.out << absl::StrFormat("churn probability %.3f\n", x.churn_probability());
  Table t({"COMPONENT", "MEASURE", "RAW", "NORMALISED", "CONTRIBUTION"});
  for (const hv1::ComponentScore& cs : x.components()) {
    t.AddRow({EnumText(hv1::Component_descriptor(), cs.component()), cs.measure(),
              absl::StrFormat("%.2f", cs.raw()), absl::StrFormat("%.1f", cs.normalized()),
              absl::StrFormat("%.1f", cs.contribution())});
  }
  t.Print(c.out);
  if (x.open_alerts_size() > 0) {
    c.out << "\nopen alerts:\n";
    for (const hv1::Alert& a : x.open_alerts()) {
      c.out << "  " << EnumText(hv1::AlertKind_descriptor(), a.kind()) << ": " << a.summary() << "\n";
    }
  }
  if (c.args.options.count("history")) {
    c.out << "\n";
    Table h({"DAY", "SCORE", "BAND", "VERSION"});
    for (const hv1::HealthPoint& p : history.points()) {
      h.AddRow({DateText(p.day()), absl::StrFormat("%.1f", p.score()),
                EnumText(hv1::Band_descriptor(), p.band()), absl::StrCat(p.scorecard_version())});
    }
    h.Print(c.out);
  }
  return absl::OkStatus();
}

absl::Status Alerts(Context& c) {
  hv1::ListAlertsRequest request;
  request.set_account_id(c.args.Get("account"));
  request.set_open_only(c.args.Has("open"));
  if (auto s = OptionalEnum<hv1::AlertKind>(c.args, "kind", [&](hv1::AlertKind v) { request.set_kind(v); }); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<HealthClient>> health = Health(c.settings);
  if (!health.ok()) return health.status();
  auto pager = (*health)->Paged(&HealthStub::ListAlerts, request, &hv1::ListAlertsResponse::alerts);
  hv1::ListAlertsResponse all;
  for (;;) {
    absl::StatusOr<std::optional<hv1::Alert>> next = pager.Next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) break;
    *all.add_alerts() = **next;
  }
  Emit(c, all, [&] {
    Table t({"ACCOUNT", "KIND", "SEVERITY", "OPENED", "RESOLVED", "SUMMARY"});
    for (const hv1::Alert& a : all.alerts()) {
      t.AddRow({a.account_id(), EnumText(hv1::AlertKind_descriptor(), a.kind()),
                EnumText(hv1::Severity_descriptor(), a.severity()), TimeText(a.opened_at()),
                TimeText(a.resolved_at()), a.summary()});
    }
    t.Print(c.out);
  });
  return absl::OkStatus();
}

absl::Status Portfolio(Context& c) {
  absl::StatusOr<std::unique_ptr<HealthClient>> health = Health(c.settings);
  if (!health.ok()) return health.status();
  hv1::GetPortfolioSummaryRequest request;
  int days = 0;
  if (c.args.options.count("period-days") &&
      (!absl::SimpleAtoi(c.args.Get("period-days"), &days) || days <= 0)) {
    return UsageError("--period-days: must be a positive number");
  }
  request.set_period_days(days);
  absl::StatusOr<hv1::GetPortfolioSummaryResponse> r =
      (*health)->Call(&HealthStub::GetPortfolioSummary, request);
  if (!r.ok()) return r.status();
  Emit(c, *r, [&] {
    Table t({"TIER", "ACCOUNTS", "GREEN", "YELLOW", "RED", "GREEN %", "YELLOW %", "RED %"});
    auto row = [&](const hv1::BandDistribution& d) {
      t.AddRow({d.tier() == 0 ? "all" : EnumText(hv1::Tier_descriptor(), d.tier()),
                absl::StrCat(d.accounts()), absl::StrCat(d.green()), absl::StrCat(d.yellow()),
                absl::StrCat(d.red()), absl::StrFormat("%.1f", 100 * d.green_share()),
                absl::StrFormat("%.1f", 100 * d.yellow_share()),
                absl::StrFormat("%.1f", 100 * d.red_share())});
    };
    row(r->overall());
    for (const hv1::BandDistribution& d : r->by_tier()) row(d);
    t.Print(c.out);
    c.out << "target: 80 % green, 15 % yellow, 5 % red; " << r->movements_size()
          << " accounts changed band in the last " << r->period_days() << " days\n";
  });
  return absl::OkStatus();
}

absl::Status Events(Context& c) {
  absl::StatusOr<std::unique_ptr<HealthClient>> health = Health(c.settings);
  if (!health.ok()) return health.status();
  hv1::ListEventsRequest request;
  int64_t after = 0;
  int limit = 100;
  if ((c.args.options.count("after") && !absl::SimpleAtoi(c.args.Get("after"), &after)) || after < 0) {
    return UsageError("--after: must be a sequence number, 0 or more");
  }
  if (c.args.options.count("limit") &&
      (!absl::SimpleAtoi(c.args.Get("limit"), &limit) || limit <= 0 || limit > 1000)) {
    return UsageError("--limit: must be 1-1000");
  }
  request.set_after_sequence(after);
  request.set_page_size(limit);
  absl::StatusOr<hv1::ListEventsResponse> r = (*health)->Call(&HealthStub::ListEvents, request);
  if (!r.ok()) return r.status();
  Emit(c, *r, [&] {
    Table t({"SEQUENCE", "KIND", "ACCOUNT", "AT"});
    for (const hv1::Event& e : r->events()) {
      t.AddRow({absl::StrCat(e.sequence()), EnumText(hv1::EventKind_descriptor(), e.kind()),
                e.account_id(), TimeText(e.occurred_at())});
    }
    t.Print(c.out);
  });
  return absl::OkStatus();
}

const std::vector<Command>& Commands() {
  static const auto* kCommands = new std::vector<Command>{
      {{"accounts", "list"},
       "[--tier T] [--band B] [--industry I] [--owner ID] [--lifecycle L] [--limit N]",
       "List accounts (with --band: by the health band, lowest score first)", AccountsList},
      {{"accounts", "get"}, "ACCOUNT", "Show one account", AccountsGet},
      {{"accounts", "upsert"},
       "ACCOUNT [--name N] [--employees N] [--tier T] [--industry I] [--owner ID] [--lifecycle L] "
       "[--arr AMOUNT --currency CUR] [--request-id ID]",
       "Create or update an account (tier derived from employees when not given)", AccountsUpsert},
      {{"health", "get"}, "ACCOUNT [--history 90d] [--score NAME]",
       "Score, band, components, open alerts and (with --history) daily points", HealthGet},
      {{"alerts"}, "[--account ID] [--kind K] [--open]", "Early-warning alerts, newest first", Alerts},
      {{"portfolio"}, "[--period-days N]", "Band distribution overall and by tier against 80/15/5",
       Portfolio},
      {{"events"}, "[--after SEQ] [--limit N]", "The health event log from a sequence", Events},
  };
  return *kCommands;
}

void PrintHelp(std::ostream& out) {
  out << "csctl: the customer-success suite from the command line.\n\n"
         "usage: csctl COMMAND [ARGS] [-o table|json|yaml] [--help]\n\ncommands:\n";
  for (const Command& c : Commands()) {
    out << absl::StrFormat("  %-18s %s\n", absl::StrJoin(c.path, " "), c.summary);
  }
  out << "\nsettings (flag > environment > config file):\n"
         "  --health-addr     CS_HEALTH_ADDR     health_addr     (127.0.0.1:50051)\n"
         "  --playbooks-addr  CS_PLAYBOOKS_ADDR  playbooks_addr  (127.0.0.1:50052)\n"
         "  --expansion-addr  CS_EXPANSION_ADDR  expansion_addr  (127.0.0.1:50053)\n"
         "  --token           CSCTL_TOKEN        token           bearer token\n"
         "  --tls, --ca-file, --cert-file, --key-file            TLS and mutual TLS\n"
         "  --timeout         CSCTL_TIMEOUT      timeout         (10s) per call\n"
         "  --config FILE or CSCTL_CONFIG (default ~/.config/csctl/config): key = value lines\n"
         "\nexit codes: 0 done, 1 service failed, 2 bad usage, 3 not found, 4 refused,\n"
         "            5 unavailable (retry later), 6 not authenticated or not allowed\n";
}

int Main(int argc, char** argv) {
  absl::StatusOr<Args> args = ParseArgs(argc, argv);
  if (!args.ok()) {
    std::cerr << "csctl: " << args.status().message() << "\n";
    return kExitUsage;
  }
  // The longest command path that matches the leading words.
  const Command* command = nullptr;
  for (const Command& c : Commands()) {
    if (args->positional.size() >= c.path.size() &&
        std::equal(c.path.begin(), c.path.end(), args->positional.begin()) &&
        (command == nullptr || c.path.size() > command->path.size())) {
      command = &c;
    }
  }
  if (command == nullptr) {
    if (args->positional.empty() && args->Has("help")) {
      PrintHelp(std::cout);
      return kExitOk;
    }
    std::cerr << "csctl: unknown command '" << absl::StrJoin(args->positional, " ") << "'\n\n";
    PrintHelp(std::cerr);
    return kExitUsage;
  }
  if (args->Has("help")) {
    std::cout << "usage: csctl " << absl::StrJoin(command->path, " ") << " " << command->usage
              << " [-o table|json|yaml]\n\n" << command->summary << "\n";
    return kExitOk;
  }
  args->positional.erase(args->positional.begin(),
                         args->positional.begin() + static_cast<long>(command->path.size()));
  absl::StatusOr<Settings> settings = LoadSettings(*args);
  if (!settings.ok()) {
    std::cerr << "csctl: " << settings.status().message() << "\n";
    return kExitUsage;
  }
  Context context{*args, *settings, std::cout};
  absl::Status status = command->run(context);
  if (status.ok()) return kExitOk;
  std::cerr << "csctl: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
            << "\n";
  return ExitCodeFor(status);
}

}  // namespace
}  // namespace cs::csctl

int main(int argc, char** argv) { return cs::csctl::Main(argc, argv); }
