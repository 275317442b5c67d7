// csctl: the suite from the command line, in the style of kubectl.
//   csctl accounts list --band red --tier enterprise
//   csctl health get ACCOUNT --history 90d -o yaml
// Run `csctl --help` for every command. Exit codes (for scripts):
//   0 done, 1 the service failed, 2 bad usage, 3 not found,
//   4 refused (invalid argument, failed precondition, conflict),
//   5 unavailable or too slow (retry later), 6 not authenticated / not allowed.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
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
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tools/csctl/config.h"
#include "tools/cli/cli.h"
#include "tools/csctl/output.h"

namespace cs::csctl {
namespace {

namespace hv1 = ::cs::health::v1;
using HealthClient = client::ServiceClient<hv1::AccountHealthService>;
using HealthStub = HealthClient::Stub;

using cli::Args;
using cli::kExitFailed;
using cli::kExitOk;
using cli::kExitUsage;
using cli::UsageError;
constexpr int kExitRefused = 4;

int ExitCodeFor(const absl::Status& status) {
  if (std::optional<int> common = cli::CommonExitCode(status)) return *common;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kOutOfRange: return kExitRefused;
    default: return kExitFailed;
  }
}

absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  static const auto* kSpec = new cli::ArgSpec{
      .switches = {"open", "overdue", "tls"}, .short_options = {"o", "f"}, .options = {}, .tool = "csctl"};
  return cli::ParseArgs(argc, argv, *kSpec);
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
  // The band is the account's computed "health" score band, filtered by the service.
  if (auto s = OptionalEnum<hv1::Band>(c.args, "band", [&](hv1::Band v) { request.set_band(v); }); !s.ok()) return s;
  std::vector<hv1::Account> accounts;
  absl::StatusOr<std::unique_ptr<HealthClient>> health = Health(c.settings);
  if (!health.ok()) return health.status();
  auto pager = (*health)->Paged(&HealthStub::ListAccounts, request, &hv1::ListAccountsResponse::accounts);
  for (;;) {
    absl::StatusOr<std::optional<hv1::Account>> next = pager.Next();
    if (!next.ok()) return next.status();
    if (!next->has_value() || (limit > 0 && static_cast<int>(accounts.size()) >= limit)) break;
    accounts.push_back(**next);
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

// ---------------------------------------------------------------------------
// Playbooks and expansion

namespace pv1 = ::cs::playbooks::v1;
namespace ev1 = ::cs::expansion::v1;
using PlaybooksClient = client::ServiceClient<pv1::PlaybookService>;
using PlaybooksStub = PlaybooksClient::Stub;
using ExpansionClient = client::ServiceClient<ev1::ExpansionService>;
using ExpansionStub = ExpansionClient::Stub;

absl::StatusOr<std::unique_ptr<PlaybooksClient>> Playbooks(const Settings& s) {
  client::ClientOptions options = s.base;
  options.target = s.playbooks_addr;
  absl::StatusOr<std::unique_ptr<PlaybooksClient>> client = PlaybooksClient::Create(options);
  if (!client.ok()) return UsageError(client.status().message());
  return client;
}

absl::StatusOr<std::unique_ptr<ExpansionClient>> Expansion(const Settings& s) {
  client::ClientOptions options = s.base;
  options.target = s.expansion_addr;
  absl::StatusOr<std::unique_ptr<ExpansionClient>> client = ExpansionClient::Create(options);
  if (!client.ok()) return UsageError(client.status().message());
  return client;
}

// The playbooks list RPCs carry page_size / page_token in the request itself (not
// cs.common.v1.PageRequest), so they get their own pager over the same iterator.
template <typename Request, typename Response, typename Item>
client::Pager<Item> TokenPager(
    PlaybooksClient& client,
    grpc::Status (PlaybooksStub::*method)(grpc::ClientContext*, const Request&, Response*),
    Request request, const google::protobuf::RepeatedPtrField<Item>& (Response::*items)() const) {
  return client::Pager<Item>([&client, method, request, items](
                                 const std::string& token, std::deque<Item>* out,
                                 std::string* next) mutable -> absl::Status {
    request.set_page_size(500);
    request.set_page_token(token);
    absl::StatusOr<Response> response = client.Call(method, request);
    if (!response.ok()) return response.status();
    for (const Item& item : ((*response).*items)()) out->push_back(item);
    *next = response->next_page_token();
    return absl::OkStatus();
  });
}

template <typename Item, typename Fn>
absl::Status Drain(client::Pager<Item>& pager, Fn add) {
  for (;;) {
    absl::StatusOr<std::optional<Item>> next = pager.Next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) return absl::OkStatus();
    add(**next);
  }
}

// A write's request_id: the one given, else a fresh one (a retry of the same csctl
// invocation inside the client reuses it, a new invocation is a new write).
std::string RequestId(const Args& args) {
  if (args.options.count("request-id")) return args.Get("request-id");
  return absl::StrCat("csctl-", absl::ToUnixNanos(absl::Now()), "-", getpid());
}

// "2026-12-01T09:00:00Z" or "2026-12-01" (midnight UTC).
absl::StatusOr<absl::Time> ParseInstant(const std::string& option, const std::string& text) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  absl::CivilDay day;
  if (absl::ParseCivilTime(text, &day)) return absl::FromCivil(day, absl::UTCTimeZone());
  return UsageError(absl::StrCat("--", option, ": '", text,
                                 "' is not a time like 2026-12-01T09:00:00Z or 2026-12-01"));
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

std::string Percent(double share) { return absl::StrFormat("%.1f %%", 100 * share); }

const std::vector<std::string> kRunHeader = {"RUN", "PLAYBOOK", "ACCOUNT", "STATE", "TIER",
                                             "OWNER", "TRIGGERED", "ENDED", "REASON"};
void RunRow(Table& t, const pv1::Run& r) {
  t.AddRow({r.run_id(), r.playbook_id(), r.account_id(), EnumText(pv1::RunState_descriptor(), r.state()),
            EnumText(pv1::Tier_descriptor(), r.tier()), r.owner_id(), TimeText(r.triggered_at()),
            TimeText(r.ended_at()), r.end_reason().empty() ? "-" : r.end_reason()});
}

const std::vector<std::string> kTaskHeader = {"TASK", "ACCOUNT", "TITLE", "KIND", "ASSIGNEE",
                                              "STATUS", "DUE", "LEVEL"};
void TaskRow(Table& t, const pv1::Task& x) {
  t.AddRow({x.task_id(), x.account_id(), x.title(), EnumText(pv1::StepKind_descriptor(), x.kind()),
            x.assignee_id(), EnumText(pv1::TaskStatus_descriptor(), x.status()), TimeText(x.due_at()),
            absl::StrCat(x.escalation_level())});
}

absl::Status Runs(Context& c) {
  if (!c.args.positional.empty()) return UsageError("runs: unexpected argument (did you mean 'runs get RUN'?)");
  pv1::ListRunsRequest request;
  request.set_account_id(c.args.Get("account"));
  request.set_playbook_id(c.args.Get("playbook"));
  if (auto s = OptionalEnum<pv1::RunState>(c.args, "state", [&](pv1::RunState v) { request.set_state(v); }); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<PlaybooksClient>> pb = Playbooks(c.settings);
  if (!pb.ok()) return pb.status();
  auto pager = TokenPager(**pb, &PlaybooksStub::ListRuns, request, &pv1::ListRunsResponse::runs);
  pv1::ListRunsResponse all;
  if (auto s = Drain(pager, [&](const pv1::Run& r) { *all.add_runs() = r; }); !s.ok()) return s;
  Emit(c, all, [&] {
    Table t(kRunHeader);
    for (const pv1::Run& r : all.runs()) RunRow(t, r);
    t.Print(c.out);
  });
  return absl::OkStatus();
}

absl::Status RunsGet(Context& c) {
  absl::StatusOr<std::string> id = OnePositional(c, "RUN id");
  if (!id.ok()) return id.status();
  absl::StatusOr<std::unique_ptr<PlaybooksClient>> pb = Playbooks(c.settings);
  if (!pb.ok()) return pb.status();
  pv1::GetRunRequest request;
  request.set_run_id(*id);
  absl::StatusOr<pv1::GetRunResponse> r = (*pb)->Call(&PlaybooksStub::GetRun, request);
  if (!r.ok()) return r.status();
  Emit(c, *r, [&] {
    Table t(kRunHeader);
    RunRow(t, r->run());
    t.Print(c.out);
    c.out << "\n";
    Table tasks(kTaskHeader);
    for (const pv1::Task& x : r->tasks()) TaskRow(tasks, x);
    tasks.Print(c.out);
  });
  return absl::OkStatus();
}

const std::vector<std::string> kPlanHeader = {"PLAN", "ACCOUNT", "TITLE", "OWNER", "STATUS",
                                              "MILESTONES", "OVERDUE", "ON-TIME", "OBJECTIVES",
                                              "CRITERIA", "VERSION"};
void PlanRow(Table& t, const pv1::SuccessPlan& p) {
  const pv1::SuccessPlanProgress& g = p.progress();
  t.AddRow({p.plan_id(), p.account_id(), p.title(), p.owner_id(),
            EnumText(pv1::SuccessPlanStatus_descriptor(), p.status()),
            absl::StrCat(g.milestones_completed(), "/", g.milestones()),
            absl::StrCat(g.milestones_overdue()), absl::StrFormat("%.0f%%", 100 * g.on_time_share()),
            absl::StrCat(g.objectives_achieved(), "/", g.objectives()),
            absl::StrCat(g.criteria_met(), "/", g.criteria()), absl::StrCat(p.version())});
}

absl::Status Plans(Context& c) {
  if (!c.args.positional.empty()) return UsageError("plans: unexpected argument (did you mean 'plans get PLAN'?)");
  pv1::ListSuccessPlansRequest request;
  request.set_account_id(c.args.Get("account"));
  request.set_owner_id(c.args.Get("owner"));
  if (auto s = OptionalEnum<pv1::SuccessPlanStatus>(c.args, "status", [&](pv1::SuccessPlanStatus v) { request.set_status(v); }); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<PlaybooksClient>> pb = Playbooks(c.settings);
  if (!pb.ok()) return pb.status();
  auto pager = TokenPager(**pb, &PlaybooksStub::ListSuccessPlans, request, &pv1::ListSuccessPlansResponse::plans);
  pv1::ListSuccessPlansResponse all;
  if (auto s = Drain(pager, [&](const pv1::SuccessPlan& p) { *all.add_plans() = p; }); !s.ok()) return s;
  Emit(c, all, [&] {
    Table t(kPlanHeader);
    for (const pv1::SuccessPlan& p : all.plans()) PlanRow(t, p);
    t.Print(c.out);
  });
  return absl::OkStatus();
}

absl::Status PlansGet(Context& c) {
  absl::StatusOr<std::string> id = OnePositional(c, "PLAN id");
  if (!id.ok()) return id.status();
  absl::StatusOr<std::unique_ptr<PlaybooksClient>> pb = Playbooks(c.settings);
  if (!pb.ok()) return pb.status();
  pv1::GetSuccessPlanRequest request;
  request.set_plan_id(*id);
  absl::StatusOr<pv1::GetSuccessPlanResponse> r = (*pb)->Call(&PlaybooksStub::GetSuccessPlan, request);
  if (!r.ok()) return r.status();
  Emit(c, *r, [&] {
    Table t(kPlanHeader);
    PlanRow(t, r->plan());
    t.Print(c.out);
    c.out << "\n";
    Table items({"OBJECTIVE", "ITEM", "TITLE", "DUE / TARGET", "OWNER / VALUE", "STATUS"});
    for (const pv1::Objective& o : r->plan().objectives()) {
      for (const pv1::Milestone& m : o.milestones()) {
        items.AddRow({o.objective_id(), m.milestone_id(), m.title(), TimeText(m.due_at()),
                      m.owner_id().empty() ? "-" : m.owner_id(),
                      m.overdue() ? "OVERDUE" : EnumText(pv1::MilestoneStatus_descriptor(), m.status())});
      }
      for (const pv1::SuccessCriterion& x : o.criteria()) {
        items.AddRow({o.objective_id(), x.criterion_id(), x.description(),
                      absl::StrCat(EnumText(pv1::Comparison_descriptor(), x.comparison()), " ", x.target()),
                      x.has_last_checked_at() ? absl::StrCat(x.last_value()) : "-",
                      x.met() ? "MET" : "PENDING"});
      }
    }
    items.Print(c.out);
  });
  return absl::OkStatus();
}

absl::Status Tasks(Context& c) {
  if (!c.args.positional.empty()) {
    return UsageError("tasks: unexpected argument (did you mean 'tasks complete TASK'?)");
  }
  pv1::ListTasksRequest request;
  request.set_assignee_id(c.args.Get("assignee"));
  request.set_account_id(c.args.Get("account"));
  request.set_run_id(c.args.Get("run"));
  request.set_overdue_only(c.args.Has("overdue"));
  if (auto s = OptionalEnum<pv1::TaskStatus>(c.args, "status", [&](pv1::TaskStatus v) { request.set_status(v); }); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<PlaybooksClient>> pb = Playbooks(c.settings);
  if (!pb.ok()) return pb.status();
  auto pager = TokenPager(**pb, &PlaybooksStub::ListTasks, request, &pv1::ListTasksResponse::tasks);
  pv1::ListTasksResponse all;
  if (auto s = Drain(pager, [&](const pv1::Task& x) { *all.add_tasks() = x; }); !s.ok()) return s;
  Emit(c, all, [&] {
    Table t(kTaskHeader);
    for (const pv1::Task& x : all.tasks()) TaskRow(t, x);
    t.Print(c.out);
  });
  return absl::OkStatus();
}

absl::Status TasksComplete(Context& c) {
  absl::StatusOr<std::string> id = OnePositional(c, "TASK id");
  if (!id.ok()) return id.status();
  if (c.args.Get("outcome").empty()) return UsageError("--outcome: required (what came of the task)");
  pv1::CompleteTaskRequest request;
  request.set_request_id(RequestId(c.args));
  request.set_task_id(*id);
  request.set_outcome(c.args.Get("outcome"));
  request.set_note(c.args.Get("note"));
  absl::StatusOr<std::unique_ptr<PlaybooksClient>> pb = Playbooks(c.settings);
  if (!pb.ok()) return pb.status();
  absl::StatusOr<pv1::CompleteTaskResponse> r = (*pb)->Call(&PlaybooksStub::CompleteTask, request);
  if (!r.ok()) return r.status();
  Emit(c, *r, [&] {
    c.out << "completed " << r->task().task_id() << " ("
          << (r->task().sla_met() ? "within SLA" : "SLA missed") << ")\n";
  });
  return absl::OkStatus();
}

absl::Status TasksSnooze(Context& c) {
  absl::StatusOr<std::string> id = OnePositional(c, "TASK id");
  if (!id.ok()) return id.status();
  if (!c.args.options.count("until")) return UsageError("--until: required (e.g. 2026-12-01T09:00:00Z)");
  absl::StatusOr<absl::Time> until = ParseInstant("until", c.args.Get("until"));
  if (!until.ok()) return until.status();
  pv1::SnoozeTaskRequest request;
  request.set_request_id(RequestId(c.args));
  request.set_task_id(*id);
  *request.mutable_until() = ToTimestamp(*until);
  request.set_reason(c.args.Get("reason"));
  absl::StatusOr<std::unique_ptr<PlaybooksClient>> pb = Playbooks(c.settings);
  if (!pb.ok()) return pb.status();
  absl::StatusOr<pv1::SnoozeTaskResponse> r = (*pb)->Call(&PlaybooksStub::SnoozeTask, request);
  if (!r.ok()) return r.status();
  Emit(c, *r, [&] {
    c.out << "snoozed " << r->task().task_id() << " until " << TimeText(r->task().due_at()) << "\n";
  });
  return absl::OkStatus();
}

absl::Status Escalations(Context& c) {
  absl::StatusOr<std::unique_ptr<PlaybooksClient>> pb = Playbooks(c.settings);
  if (!pb.ok()) return pb.status();
  // One task's history with --task; otherwise the escalations of every task still
  // open (or snoozed) that has climbed at least one level.
  std::vector<std::string> task_ids;
  if (c.args.options.count("task")) {
    task_ids.push_back(c.args.Get("task"));
  } else {
    for (pv1::TaskStatus status : {pv1::TASK_STATUS_OPEN, pv1::TASK_STATUS_SNOOZED}) {
      pv1::ListTasksRequest request;
      request.set_status(status);
      request.set_account_id(c.args.Get("account"));
      auto pager = TokenPager(**pb, &PlaybooksStub::ListTasks, request, &pv1::ListTasksResponse::tasks);
      if (auto s = Drain(pager, [&](const pv1::Task& x) {
            if (x.escalation_level() > 0) task_ids.push_back(x.task_id());
          });
          !s.ok()) {
        return s;
      }
    }
  }
  pv1::ListEscalationsResponse all;
  for (const std::string& id : task_ids) {
    pv1::ListEscalationsRequest request;
    request.set_task_id(id);
    absl::StatusOr<pv1::ListEscalationsResponse> r = (*pb)->Call(&PlaybooksStub::ListEscalations, request);
    if (!r.ok()) return r.status();
    for (const pv1::Escalation& e : r->escalations()) *all.add_escalations() = e;
  }
  Emit(c, all, [&] {
    Table t({"TASK", "ACCOUNT", "LEVEL", "FROM", "TO", "ROLE", "AT", "REASON"});
    for (const pv1::Escalation& e : all.escalations()) {
      t.AddRow({e.task_id(), e.account_id(), absl::StrCat(e.level()), e.from_assignee_id(),
                e.to_assignee_id(), EnumText(pv1::Role_descriptor(), e.to_role()),
                TimeText(e.escalated_at()), e.reason()});
    }
    t.Print(c.out);
  });
  return absl::OkStatus();
}

absl::Status MetricsProgram(Context& c) {
  pv1::GetProgramMetricsRequest request;
  for (const char* option : {"from", "to"}) {
    if (!c.args.options.count(option)) continue;
    absl::StatusOr<absl::Time> t = ParseInstant(option, c.args.Get(option));
    if (!t.ok()) return t.status();
    *(std::string(option) == "from" ? request.mutable_from() : request.mutable_to()) = ToTimestamp(*t);
  }
  absl::StatusOr<std::unique_ptr<PlaybooksClient>> pb = Playbooks(c.settings);
  if (!pb.ok()) return pb.status();
  absl::StatusOr<pv1::GetProgramMetricsResponse> r = (*pb)->Call(&PlaybooksStub::GetProgramMetrics, request);
  if (!r.ok()) return r.status();
  Emit(c, *r, [&] {
    Table t({"TIER", "RISK RUNS", "SUCCEEDED", "FAILED", "SUCCESS", "TTI MEDIAN H", "YELLOW RECOVERY",
             "TASKS DONE", "SLA", "OPEN ESCALATIONS"});
    auto row = [&](const pv1::ProgramMetrics& m) {
      std::map<int, int64_t> levels(m.open_escalations_by_level().begin(), m.open_escalations_by_level().end());
      std::vector<std::string> parts;
      for (const auto& [level, n] : levels) parts.push_back(absl::StrCat("L", level, ":", n));
      t.AddRow({m.tier() == 0 ? "all" : EnumText(pv1::Tier_descriptor(), m.tier()),
                absl::StrCat(m.risk_runs()), absl::StrCat(m.risk_runs_succeeded()),
                absl::StrCat(m.risk_runs_failed()), Percent(m.intervention_success_rate()),
                absl::StrFormat("%.1f", m.time_to_intervention_median_hours()),
                Percent(m.yellow_recovery_rate()), absl::StrCat(m.tasks_completed()),
                Percent(m.sla_attainment()), parts.empty() ? "-" : absl::StrJoin(parts, " ")});
    };
    row(r->overall());
    for (const pv1::ProgramMetrics& m : r->by_tier()) row(m);
    t.Print(c.out);
  });
  return absl::OkStatus();
}

absl::Status Pipeline(Context& c) {
  ev1::GetPipelineSummaryRequest request;
  request.set_currency_code(c.args.Get("currency"));
  request.set_owner_id(c.args.Get("owner"));
  if (auto s = OptionalEnum<ev1::Tier>(c.args, "tier", [&](ev1::Tier v) { request.set_tier(v); }); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<ExpansionClient>> ex = Expansion(c.settings);
  if (!ex.ok()) return ex.status();
  absl::StatusOr<ev1::GetPipelineSummaryResponse> r = (*ex)->Call(&ExpansionStub::GetPipelineSummary, request);
  if (!r.ok()) return r.status();
  Emit(c, *r, [&] {
    Table t({"GROUP", "VALUE", "OPPORTUNITIES", "TOTAL", "WEIGHTED"});
    auto row = [&](const std::string& group, const std::string& value, const ev1::AmountPair& a) {
      t.AddRow({group, value, absl::StrCat(a.count()), MoneyText(a.total()), MoneyText(a.weighted())});
    };
    row("open", "all", r->open());
    for (const auto& x : r->by_stage()) row("stage", EnumText(ev1::Stage_descriptor(), x.stage()), x.amounts());
    for (const auto& x : r->by_kind()) row("kind", EnumText(ev1::OpportunityKind_descriptor(), x.kind()), x.amounts());
    for (const auto& x : r->by_tier()) row("tier", x.tier() == 0 ? "none" : EnumText(ev1::Tier_descriptor(), x.tier()), x.amounts());
    for (const auto& x : r->forecast_by_quarter()) {
      row("close quarter", absl::StrCat(x.quarter().year(), "-Q", x.quarter().quarter()), x.amounts());
    }
    t.Print(c.out);
  });
  return absl::OkStatus();
}

absl::Status Opportunities(Context& c) {
  ev1::ListOpportunitiesRequest request;
  request.set_account_id(c.args.Get("account"));
  request.set_owner_id(c.args.Get("owner"));
  if (auto s = OptionalEnum<ev1::Stage>(c.args, "stage", [&](ev1::Stage v) { request.set_stage(v); }); !s.ok()) return s;
  if (auto s = OptionalEnum<ev1::OpportunityKind>(c.args, "kind", [&](ev1::OpportunityKind v) { request.set_kind(v); }); !s.ok()) return s;
  if (auto s = OptionalEnum<ev1::Tier>(c.args, "tier", [&](ev1::Tier v) { request.set_tier(v); }); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<ExpansionClient>> ex = Expansion(c.settings);
  if (!ex.ok()) return ex.status();
  auto pager = (*ex)->Paged(&ExpansionStub::ListOpportunities, request,
                            &ev1::ListOpportunitiesResponse::opportunities);
  ev1::ListOpportunitiesResponse all;
  if (auto s = Drain(pager, [&](const ev1::Opportunity& o) { *all.add_opportunities() = o; }); !s.ok()) return s;
  Emit(c, all, [&] {
    Table t({"OPPORTUNITY", "ACCOUNT", "KIND", "STAGE", "AMOUNT", "PROB", "CLOSE", "OWNER", "TITLE"});
    for (const ev1::Opportunity& o : all.opportunities()) {
      t.AddRow({o.opportunity_id(), o.account_id(), EnumText(ev1::OpportunityKind_descriptor(), o.kind()),
                EnumText(ev1::Stage_descriptor(), o.stage()), MoneyText(o.amount()),
                absl::StrCat(o.probability_percent(), " %"), DateText(o.expected_close_date()),
                o.owner_id().empty() ? "-" : o.owner_id(), o.title()});
    }
    t.Print(c.out);
  });
  return absl::OkStatus();
}

cs::common::v1::Date MonthDate(absl::CivilMonth m) {
  cs::common::v1::Date d;
  d.set_year(static_cast<int32_t>(m.year()));
  d.set_month(m.month());
  d.set_day(1);
  return d;
}

// --from/--to as months ("2026-01" or a date in the month); default: the twelve
// full months before this one.
absl::StatusOr<ev1::MonthRange> MonthRangeFrom(const Args& args) {
  const absl::CivilMonth this_month(absl::ToCivilMonth(absl::Now(), absl::UTCTimeZone()));
  absl::CivilMonth first = this_month - 12;
  absl::CivilMonth last = this_month - 1;
  for (const char* option : {"from", "to"}) {
    if (!args.options.count(option)) continue;
    absl::CivilMonth m;
    absl::CivilDay day;
    const std::string text = args.Get(option);
    if (absl::ParseCivilTime(text, &day)) {
      m = absl::CivilMonth(day);
    } else if (!absl::ParseCivilTime(text, &m)) {
      return UsageError(absl::StrCat("--", option, ": '", text, "' is not a month like 2026-01"));
    }
    (std::string(option) == "from" ? first : last) = m;
  }
  if (last < first) return UsageError("--to: must not be before --from");
  ev1::MonthRange range;
  *range.mutable_first_month() = MonthDate(first);
  *range.mutable_last_month() = MonthDate(last);
  return range;
}

std::string OptionalPercent(bool has, double v) { return has ? Percent(v) : "-"; }

void RetentionRow(Table& t, const std::string& tier, const ev1::RetentionFigures& f) {
  t.AddRow({tier, absl::StrCat(f.starting_accounts()), MoneyText(f.starting_mrr()),
            OptionalPercent(f.has_gross_revenue_retention(), f.gross_revenue_retention()),
            OptionalPercent(f.has_net_revenue_retention(), f.net_revenue_retention()),
            OptionalPercent(f.has_logo_churn_period(), f.logo_churn_period()),
            OptionalPercent(f.has_logo_churn_monthly(), f.logo_churn_monthly()),
            OptionalPercent(f.has_revenue_churn_period(), f.revenue_churn_period()),
            MoneyText(f.arpa()), MoneyText(f.customer_lifetime_value())});
}
const std::vector<std::string> kRetentionHeader = {"TIER", "ACCOUNTS", "STARTING MRR", "GRR", "NRR",
                                                   "LOGO CHURN", "MONTHLY", "REVENUE CHURN", "ARPA", "CLV"};

absl::Status MetricsRetention(Context& c) {
  ev1::GetRetentionMetricsRequest request;
  absl::StatusOr<ev1::MonthRange> range = MonthRangeFrom(c.args);
  if (!range.ok()) return range.status();
  *request.mutable_period() = *range;
  request.set_currency_code(c.args.Get("currency"));
  if (c.args.options.count("margin")) {
    double margin = 0;
    if (!absl::SimpleAtod(c.args.Get("margin"), &margin)) return UsageError("--margin: must be a percent like 80");
    request.set_gross_margin_percent(margin);
  }
  absl::StatusOr<std::unique_ptr<ExpansionClient>> ex = Expansion(c.settings);
  if (!ex.ok()) return ex.status();
  absl::StatusOr<ev1::GetRetentionMetricsResponse> r = (*ex)->Call(&ExpansionStub::GetRetentionMetrics, request);
  if (!r.ok()) return r.status();
  Emit(c, *r, [&] {
    c.out << absl::StrFormat("%s to %s (%d months), gross margin %.0f %%\n",
                             DateText(range->first_month()).substr(0, 7),
                             DateText(range->last_month()).substr(0, 7), r->months(),
                             r->gross_margin_percent());
    Table t(kRetentionHeader);
    RetentionRow(t, "all", r->overall());
    for (const ev1::TierRetention& x : r->by_tier()) {
      RetentionRow(t, x.tier() == 0 ? "none" : EnumText(ev1::Tier_descriptor(), x.tier()), x.figures());
    }
    t.Print(c.out);
  });
  return absl::OkStatus();
}

absl::Status MetricsExpansion(Context& c) {
  ev1::GetExpansionMetricsRequest request;
  absl::StatusOr<ev1::MonthRange> range = MonthRangeFrom(c.args);
  if (!range.ok()) return range.status();
  *request.mutable_period() = *range;
  request.set_currency_code(c.args.Get("currency"));
  if (auto s = OptionalEnum<ev1::Tier>(c.args, "tier", [&](ev1::Tier v) { request.set_tier(v); }); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<ExpansionClient>> ex = Expansion(c.settings);
  if (!ex.ok()) return ex.status();
  absl::StatusOr<ev1::GetExpansionMetricsResponse> r = (*ex)->Call(&ExpansionStub::GetExpansionMetrics, request);
  if (!r.ok()) return r.status();
  Emit(c, *r, [&] {
    Table t({"MEASURE", "VALUE"});
    t.AddRow({"new MRR", MoneyText(r->new_mrr())});
    t.AddRow({"expansion MRR", MoneyText(r->expansion_mrr())});
    t.AddRow({"reactivation MRR", MoneyText(r->reactivation_mrr())});
    t.AddRow({"expansion share of new revenue",
              OptionalPercent(r->has_expansion_share_of_new_revenue(), r->expansion_share_of_new_revenue())});
    t.AddRow({"expansion rate", absl::StrCat(OptionalPercent(r->has_expansion_rate(), r->expansion_rate()), " (",
                                             r->expanded_accounts(), " of ", r->starting_accounts(), ")")});
    t.AddRow({"expansion ARPU", MoneyText(r->expansion_arpu())});
    t.AddRow({"won opportunities", absl::StrCat(r->won_opportunities())});
    t.AddRow({"expansion cycle median days",
              r->has_expansion_cycle_median_days() ? absl::StrFormat("%.1f", r->expansion_cycle_median_days()) : "-"});
    for (const ev1::KindWinRate& k : r->win_rate_by_kind()) {
      t.AddRow({absl::StrCat("win rate ", EnumText(ev1::OpportunityKind_descriptor(), k.kind())),
                absl::StrCat(OptionalPercent(k.has_win_rate(), k.win_rate()), " (", k.won(), " won, ",
                             k.lost(), " lost)")});
    }
    t.Print(c.out);
  });
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// report: the three services on one page

// A message as a JSON value, for combining pieces into one document.
google::protobuf::Value AsValue(const google::protobuf::Message& m) {
  google::protobuf::Value v;
  (void)google::protobuf::util::JsonStringToMessage(ToJson(m), &v);
  return v;
}

// The last full calendar quarter before now, as months.
ev1::MonthRange LastFullQuarter() {
  const absl::CivilMonth now(absl::ToCivilMonth(absl::Now(), absl::UTCTimeZone()));
  const absl::CivilMonth quarter_start(now.year(), (now.month() - 1) / 3 * 3 + 1);
  ev1::MonthRange range;
  *range.mutable_first_month() = MonthDate(quarter_start - 3);
  *range.mutable_last_month() = MonthDate(quarter_start - 1);
  return range;
}

absl::Status Report(Context& c) {
  absl::StatusOr<std::unique_ptr<HealthClient>> health = Health(c.settings);
  if (!health.ok()) return health.status();
  absl::StatusOr<std::unique_ptr<PlaybooksClient>> pb = Playbooks(c.settings);
  if (!pb.ok()) return pb.status();
  absl::StatusOr<std::unique_ptr<ExpansionClient>> ex = Expansion(c.settings);
  if (!ex.ok()) return ex.status();

  absl::StatusOr<hv1::GetPortfolioSummaryResponse> portfolio =
      (*health)->Call(&HealthStub::GetPortfolioSummary, hv1::GetPortfolioSummaryRequest());
  if (!portfolio.ok()) return portfolio.status();

  // The ten lowest scores (RED first, then YELLOW) with their open alerts as evidence.
  hv1::ListAtRiskRequest at_risk_request;
  at_risk_request.set_order(hv1::AT_RISK_ORDER_SCORE);
  at_risk_request.mutable_page()->set_page_size(10);
  absl::StatusOr<hv1::ListAtRiskResponse> at_risk = (*health)->Call(&HealthStub::ListAtRisk, at_risk_request);
  if (!at_risk.ok()) return at_risk.status();
  std::vector<hv1::ListAlertsResponse> evidence;
  for (const hv1::AtRiskAccount& a : at_risk->accounts()) {
    hv1::ListAlertsRequest alerts;
    alerts.set_account_id(a.account().account_id());
    alerts.set_open_only(true);
    absl::StatusOr<hv1::ListAlertsResponse> r = (*health)->Call(&HealthStub::ListAlerts, alerts);
    if (!r.ok()) return r.status();
    evidence.push_back(*std::move(r));
  }

  absl::StatusOr<pv1::GetProgramMetricsResponse> program =
      (*pb)->Call(&PlaybooksStub::GetProgramMetrics, pv1::GetProgramMetricsRequest());
  if (!program.ok()) return program.status();

  ev1::GetPipelineSummaryRequest pipeline_request;
  pipeline_request.set_currency_code(c.args.Get("currency"));
  absl::StatusOr<ev1::GetPipelineSummaryResponse> pipeline =
      (*ex)->Call(&ExpansionStub::GetPipelineSummary, pipeline_request);
  if (!pipeline.ok()) return pipeline.status();
  ev1::GetRetentionMetricsRequest retention_request;
  *retention_request.mutable_period() = LastFullQuarter();
  retention_request.set_currency_code(c.args.Get("currency"));
  absl::StatusOr<ev1::GetRetentionMetricsResponse> retention =
      (*ex)->Call(&ExpansionStub::GetRetentionMetrics, retention_request);
  if (!retention.ok()) return retention.status();

  if (c.settings.format != Format::kTable) {
    google::protobuf::Struct doc;
    auto& f = *doc.mutable_fields();
    google::protobuf::Value bands = AsValue(*portfolio);
    bands.mutable_struct_value()->mutable_fields()->erase("movements");
    f["bands"] = bands;
    google::protobuf::ListValue* risks = f["top_at_risk"].mutable_list_value();
    for (int i = 0; i < at_risk->accounts_size(); ++i) {
      google::protobuf::Value item = AsValue(at_risk->accounts(i));
      google::protobuf::ListValue* alerts =
          (*item.mutable_struct_value()->mutable_fields())["open_alerts"].mutable_list_value();
      for (const hv1::Alert& a : evidence[static_cast<size_t>(i)].alerts()) *alerts->add_values() = AsValue(a);
      *risks->add_values() = item;
    }
    f["program"] = AsValue(program->overall());
    f["pipeline"] = AsValue(pipeline->open());
    google::protobuf::Value ret = AsValue(*retention);
    (*ret.mutable_struct_value()->mutable_fields())["period"] = AsValue(retention_request.period());
    f["retention_last_quarter"] = ret;
    Emit(c, doc, [] {});
    return absl::OkStatus();
  }

  c.out << "HEALTH BANDS (target 80 % green, 15 % yellow, 5 % red)\n";
  Table bands({"TIER", "ACCOUNTS", "GREEN %", "YELLOW %", "RED %", "VS TARGET"});
  auto band_row = [&](const hv1::BandDistribution& d) {
    // Off target when red is above 5 % or green below 80 %.
    const bool off = d.accounts() > 0 && (d.red_share() > 0.05 || d.green_share() < 0.80);
    bands.AddRow({d.tier() == 0 ? "all" : EnumText(hv1::Tier_descriptor(), d.tier()),
                  absl::StrCat(d.accounts()), Percent(d.green_share()), Percent(d.yellow_share()),
                  Percent(d.red_share()), d.accounts() == 0 ? "-" : off ? "OFF TARGET" : "on target"});
  };
  band_row(portfolio->overall());
  for (const hv1::BandDistribution& d : portfolio->by_tier()) band_row(d);
  bands.Print(c.out);

  c.out << "\nMOST AT RISK\n";
  Table risks({"ACCOUNT", "TIER", "SCORE", "BAND", "ARR", "EVIDENCE (open alerts)"});
  for (int i = 0; i < at_risk->accounts_size(); ++i) {
    const hv1::AtRiskAccount& a = at_risk->accounts(i);
    std::vector<std::string> summaries;
    for (const hv1::Alert& alert : evidence[static_cast<size_t>(i)].alerts()) summaries.push_back(alert.summary());
    risks.AddRow({a.account().account_id(), EnumText(hv1::Tier_descriptor(), a.account().tier()),
                  absl::StrFormat("%.1f", a.score()), EnumText(hv1::Band_descriptor(), a.band()),
                  MoneyText(a.account().arr()), summaries.empty() ? "-" : absl::StrJoin(summaries, "; ")});
  }
  risks.Print(c.out);

  const pv1::ProgramMetrics& m = program->overall();
  std::map<int, int64_t> levels(m.open_escalations_by_level().begin(), m.open_escalations_by_level().end());
  std::vector<std::string> parts;
  for (const auto& [level, n] : levels) parts.push_back(absl::StrCat("level ", level, ": ", n));
  c.out << "\nPLAYBOOKS (last 30 days)\n"
        << "open escalations: " << (parts.empty() ? "none" : absl::StrJoin(parts, ", ")) << "\n"
        << absl::StrFormat("SLA attainment: %s (%d of %d tasks)\n", Percent(m.sla_attainment()),
                           m.tasks_within_sla(), m.tasks_completed());

  c.out << "\nEXPANSION\n"
        << "open pipeline: " << MoneyText(pipeline->open().total()) << " total, "
        << MoneyText(pipeline->open().weighted()) << " weighted (" << pipeline->open().count()
        << " opportunities)\n";
  const ev1::RetentionFigures& r = retention->overall();
  c.out << "retention " << DateText(retention_request.period().first_month()).substr(0, 7) << " to "
        << DateText(retention_request.period().last_month()).substr(0, 7) << ": NRR "
        << OptionalPercent(r.has_net_revenue_retention(), r.net_revenue_retention()) << ", GRR "
        << OptionalPercent(r.has_gross_revenue_retention(), r.gross_revenue_retention()) << " ("
        << r.starting_accounts() << " accounts)\n";
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Configuration as code: apply, diff, get

struct Clients {
  std::unique_ptr<HealthClient> health;
  std::unique_ptr<PlaybooksClient> playbooks;
};

absl::StatusOr<Clients> ConfigClients(const Settings& s, bool need_health, bool need_playbooks) {
  Clients c;
  if (need_health) {
    absl::StatusOr<std::unique_ptr<HealthClient>> h = Health(s);
    if (!h.ok()) return h.status();
    c.health = *std::move(h);
  }
  if (need_playbooks) {
    absl::StatusOr<std::unique_ptr<PlaybooksClient>> p = Playbooks(s);
    if (!p.ok()) return p.status();
    c.playbooks = *std::move(p);
  }
  return c;
}

bool NeedsHealth(ConfigKind k) { return k == ConfigKind::kScorecard || k == ConfigKind::kEventMapping; }

// The stored object of that kind and name (with its version), or nullptr when none.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> Stored(Clients& c, ConfigKind kind,
                                                                  const std::string& name) {
  switch (kind) {
    case ConfigKind::kScorecard: {
      hv1::GetScorecardRequest q;
      q.set_scorecard_id(name);
      absl::StatusOr<hv1::GetScorecardResponse> r = c.health->Call(&HealthStub::GetScorecard, q);
      if (absl::IsNotFound(r.status())) return std::unique_ptr<google::protobuf::Message>();
      if (!r.ok()) return r.status();
      return std::unique_ptr<google::protobuf::Message>(new hv1::Scorecard(r->scorecard()));
    }
    case ConfigKind::kEventMapping: {
      absl::StatusOr<hv1::ListEventMappingsResponse> r =
          c.health->Call(&HealthStub::ListEventMappings, hv1::ListEventMappingsRequest());
      if (!r.ok()) return r.status();
      for (const hv1::EventMapping& m : r->mappings()) {
        if (m.event_name() == name) return std::unique_ptr<google::protobuf::Message>(new hv1::EventMapping(m));
      }
      return std::unique_ptr<google::protobuf::Message>();
    }
    case ConfigKind::kPlaybook: {
      pv1::GetPlaybookRequest q;
      q.set_playbook_id(name);
      absl::StatusOr<pv1::GetPlaybookResponse> r = c.playbooks->Call(&PlaybooksStub::GetPlaybook, q);
      if (absl::IsNotFound(r.status())) return std::unique_ptr<google::protobuf::Message>();
      if (!r.ok()) return r.status();
      return std::unique_ptr<google::protobuf::Message>(new pv1::Playbook(r->playbook()));
    }
    case ConfigKind::kEscalationChain: {
      pv1::GetEscalationChainRequest q;
      q.set_chain_id(name);
      absl::StatusOr<pv1::GetEscalationChainResponse> r =
          c.playbooks->Call(&PlaybooksStub::GetEscalationChain, q);
      if (absl::IsNotFound(r.status())) return std::unique_ptr<google::protobuf::Message>();
      if (!r.ok()) return r.status();
      return std::unique_ptr<google::protobuf::Message>(new pv1::EscalationChain(r->chain()));
    }
  }
  return absl::InternalError("unknown kind");
}

// Writes one object: create when `stored` is null, else update from its version.
absl::Status Write(Clients& c, const ConfigObject& o, const google::protobuf::Message* stored,
                   const std::string& request_id) {
  switch (o.kind) {
    case ConfigKind::kScorecard: {
      const auto& desired = static_cast<const hv1::Scorecard&>(*o.message);
      if (stored == nullptr) {
        hv1::CreateScorecardRequest q;
        q.set_request_id(request_id);
        *q.mutable_scorecard() = desired;
        q.mutable_scorecard()->clear_version();
        return c.health->Call(&HealthStub::CreateScorecard, q).status();
      }
      hv1::UpdateScorecardRequest q;
      q.set_request_id(request_id);
      *q.mutable_scorecard() = desired;
      q.mutable_scorecard()->set_version(static_cast<const hv1::Scorecard*>(stored)->version());
      return c.health->Call(&HealthStub::UpdateScorecard, q).status();
    }
    case ConfigKind::kEventMapping: {
      hv1::SetEventMappingRequest q;
      q.set_request_id(request_id);
      *q.mutable_mapping() = static_cast<const hv1::EventMapping&>(*o.message);
      return c.health->Call(&HealthStub::SetEventMapping, q).status();
    }
    case ConfigKind::kPlaybook: {
      const auto& desired = static_cast<const pv1::Playbook&>(*o.message);
      if (stored == nullptr) {
        pv1::CreatePlaybookRequest q;
        q.set_request_id(request_id);
        *q.mutable_playbook() = desired;
        q.mutable_playbook()->clear_version();
        return c.playbooks->Call(&PlaybooksStub::CreatePlaybook, q).status();
      }
      pv1::UpdatePlaybookRequest q;
      q.set_request_id(request_id);
      *q.mutable_playbook() = desired;
      q.mutable_playbook()->set_version(static_cast<const pv1::Playbook*>(stored)->version());
      return c.playbooks->Call(&PlaybooksStub::UpdatePlaybook, q).status();
    }
    case ConfigKind::kEscalationChain: {
      pv1::UpsertEscalationChainRequest q;
      q.set_request_id(request_id);
      *q.mutable_chain() = static_cast<const pv1::EscalationChain&>(*o.message);
      if (stored != nullptr) {
        q.mutable_chain()->set_version(static_cast<const pv1::EscalationChain*>(stored)->version());
      }
      return c.playbooks->Call(&PlaybooksStub::UpsertEscalationChain, q).status();
    }
  }
  return absl::InternalError("unknown kind");
}

// apply and diff: load and check every file first (nothing is written when one is
// bad), then compare each object with what is stored.
absl::Status ApplyOrDiff(Context& c, bool write) {
  if (c.args.Get("f").empty()) return UsageError("-f: required (a YAML file or a directory of them)");
  absl::StatusOr<std::vector<ConfigObject>> objects = LoadConfig(c.args.Get("f"));
  if (!objects.ok()) return UsageError(objects.status().message());
  // Chains before the playbooks that name them.
  std::stable_sort(objects->begin(), objects->end(),
                   [](const ConfigObject& a, const ConfigObject& b) { return a.kind < b.kind; });
  bool need_health = false;
  bool need_playbooks = false;
  for (const ConfigObject& o : *objects) (NeedsHealth(o.kind) ? need_health : need_playbooks) = true;
  absl::StatusOr<Clients> clients = ConfigClients(c.settings, need_health, need_playbooks);
  if (!clients.ok()) return clients.status();
  const std::string base_id = RequestId(c.args);
  int created = 0, updated = 0, unchanged = 0;
  google::protobuf::Struct summary;
  google::protobuf::ListValue* results = (*summary.mutable_fields())["results"].mutable_list_value();
  for (ConfigObject& o : *objects) {
    const std::string label = absl::StrCat(KindName(o.kind), "/", o.name);
    Normalize(o.kind, o.message.get());
    absl::StatusOr<std::unique_ptr<google::protobuf::Message>> stored = Stored(*clients, o.kind, o.name);
    if (!stored.ok()) return stored.status();
    std::string action;
    std::string diff;
    if (*stored == nullptr) {
      action = "created";
    } else {
      std::unique_ptr<google::protobuf::Message> current((*stored)->New());
      current->CopyFrom(**stored);
      Normalize(o.kind, current.get());
      diff = DiffText(*current, *o.message);
      action = diff.empty() ? "unchanged" : "updated";
    }
    if (write && action != "unchanged") {
      // One request_id per object, derived from the run's, in the characters the
      // services accept (object names may hold spaces).
      std::string request_id = absl::StrCat(base_id, "-", label);
      for (char& ch : request_id) {
        if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') ch = '_';
      }
      absl::Status s = Write(*clients, o, stored->get(), request_id.substr(0, 128));
      if (!s.ok()) {
        return absl::Status(s.code(), absl::StrCat(o.file, ": line ", o.line, ": ", label, ": ", s.message()));
      }
    }
    (action == "created" ? created : action == "updated" ? updated : unchanged)++;
    if (!write) action = action == "created" ? "would create" : action == "updated" ? "would update" : action;
    google::protobuf::Value item;
    auto& f = *item.mutable_struct_value()->mutable_fields();
    f["kind"].set_string_value(KindName(o.kind));
    f["name"].set_string_value(o.name);
    f["action"].set_string_value(action);
    if (!diff.empty()) f["diff"].set_string_value(diff);
    *results->add_values() = item;
    if (c.settings.format == Format::kTable) {
      c.out << label << " " << action << "\n";
      if (!write && !diff.empty()) {
        for (absl::string_view line : absl::StrSplit(diff, '\n', absl::SkipEmpty())) c.out << "    " << line << "\n";
      }
      if (!write && *stored == nullptr) {
        for (absl::string_view line : absl::StrSplit(ExportYaml(o.kind, *o.message), '\n', absl::SkipEmpty())) {
          c.out << "    + " << line << "\n";
        }
      }
    }
  }
  (*summary.mutable_fields())["created"].set_number_value(created);
  (*summary.mutable_fields())["updated"].set_number_value(updated);
  (*summary.mutable_fields())["unchanged"].set_number_value(unchanged);
  if (c.settings.format == Format::kTable) {
    c.out << absl::StrFormat("%s: %d to create, %d to update, %d unchanged\n", write ? "applied" : "diff",
                             created, updated, unchanged);
  } else {
    Emit(c, summary, [] {});
  }
  return absl::OkStatus();
}

absl::Status Apply(Context& c) { return ApplyOrDiff(c, /*write=*/true); }
absl::Status Diff(Context& c) { return ApplyOrDiff(c, /*write=*/false); }

absl::Status Get(Context& c) {
  absl::StatusOr<std::string> what = OnePositional(c, "kind: scorecards, playbooks, event-mappings or escalation-chains");
  if (!what.ok()) return what.status();
  ConfigKind kind;
  if (*what == "scorecards" || *what == "scorecard") kind = ConfigKind::kScorecard;
  else if (*what == "playbooks" || *what == "playbook") kind = ConfigKind::kPlaybook;
  else if (*what == "event-mappings" || *what == "event-mapping") kind = ConfigKind::kEventMapping;
  else if (*what == "escalation-chains" || *what == "escalation-chain") kind = ConfigKind::kEscalationChain;
  else return UsageError(absl::StrCat("get: '", *what, "' must be scorecards, playbooks, event-mappings or escalation-chains"));
  absl::StatusOr<Clients> clients = ConfigClients(c.settings, NeedsHealth(kind), !NeedsHealth(kind));
  if (!clients.ok()) return clients.status();
  std::vector<std::unique_ptr<google::protobuf::Message>> objects;
  switch (kind) {
    case ConfigKind::kScorecard: {
      absl::StatusOr<hv1::ListScorecardsResponse> r =
          clients->health->Call(&HealthStub::ListScorecards, hv1::ListScorecardsRequest());
      if (!r.ok()) return r.status();
      for (const hv1::Scorecard& s : r->scorecards()) objects.emplace_back(new hv1::Scorecard(s));
      break;
    }
    case ConfigKind::kEventMapping: {
      absl::StatusOr<hv1::ListEventMappingsResponse> r =
          clients->health->Call(&HealthStub::ListEventMappings, hv1::ListEventMappingsRequest());
      if (!r.ok()) return r.status();
      for (const hv1::EventMapping& m : r->mappings()) objects.emplace_back(new hv1::EventMapping(m));
      break;
    }
    case ConfigKind::kPlaybook:
    case ConfigKind::kEscalationChain: {
      absl::StatusOr<pv1::ListPlaybooksResponse> r =
          clients->playbooks->Call(&PlaybooksStub::ListPlaybooks, pv1::ListPlaybooksRequest());
      if (!r.ok()) return r.status();
      if (kind == ConfigKind::kPlaybook) {
        for (const pv1::Playbook& p : r->playbooks()) objects.emplace_back(new pv1::Playbook(p));
        break;
      }
      absl::StatusOr<pv1::ListEscalationChainsResponse> chains = clients->playbooks->Call(
          &PlaybooksStub::ListEscalationChains, pv1::ListEscalationChainsRequest());
      if (!chains.ok()) return chains.status();
      for (const pv1::EscalationChain& chain : chains->chains()) {
        objects.emplace_back(new pv1::EscalationChain(chain));
      }
      break;
    }
  }
  switch (c.settings.format) {
    case Format::kYaml:
      for (size_t i = 0; i < objects.size(); ++i) {
        if (i > 0) c.out << "---\n";
        c.out << ExportYaml(kind, *objects[i]);
      }
      break;
    case Format::kJson: {
      google::protobuf::Struct doc;
      google::protobuf::ListValue* items = (*doc.mutable_fields())["items"].mutable_list_value();
      for (const auto& o : objects) {
        std::unique_ptr<google::protobuf::Message> copy(o->New());
        copy->CopyFrom(*o);
        Normalize(kind, copy.get());
        google::protobuf::Value v = AsValue(*copy);
        (*v.mutable_struct_value()->mutable_fields())["kind"].set_string_value(KindName(kind));
        *items->add_values() = v;
      }
      c.out << ToJson(doc);
      break;
    }
    default: {
      Table t({"KIND", "NAME", "VERSION", "UPDATED"});
      for (const auto& o : objects) {
        const auto* d = o->GetDescriptor();
        const auto* version = d->FindFieldByName("version");
        const auto* updated = d->FindFieldByName("updated_at");
        std::string v = "-";
        if (version != nullptr) {
          v = version->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT64
                  ? absl::StrCat(o->GetReflection()->GetInt64(*o, version))
                  : absl::StrCat(o->GetReflection()->GetInt32(*o, version));
        }
        t.AddRow({KindName(kind), ObjectName(kind, *o), v,
                  TimeText(static_cast<const google::protobuf::Timestamp&>(
                      o->GetReflection()->GetMessage(*o, updated)))});
      }
      t.Print(c.out);
    }
  }
  return absl::OkStatus();
}

const std::vector<Command>& Commands() {
  static const auto* kCommands = new std::vector<Command>{
      {{"accounts", "list"},
       "[--tier T] [--band B] [--industry I] [--owner ID] [--lifecycle L] [--limit N]",
       "List accounts (--band: the band of their health score)", AccountsList},
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
      {{"runs"}, "[--account ID] [--playbook ID] [--state active|succeeded|failed|cancelled]",
       "Playbook runs", Runs},
      {{"runs", "get"}, "RUN", "One run and its tasks", RunsGet},
      {{"plans", "list"}, "[--account ID] [--owner ID] [--status active|completed|cancelled]",
       "Success plans with their progress", Plans},
      {{"plans", "get"}, "PLAN", "One success plan: progress, milestones and criteria", PlansGet},
      {{"tasks"}, "[--overdue] [--assignee ID] [--account ID] [--run ID] [--status open|snoozed|completed|cancelled]",
       "Playbook tasks, in due time order", Tasks},
      {{"tasks", "complete"}, "TASK --outcome TEXT [--note TEXT] [--request-id ID]",
       "Complete a task with its outcome", TasksComplete},
      {{"tasks", "snooze"}, "TASK --until 2026-12-01T09:00:00Z [--reason TEXT] [--request-id ID]",
       "Move a task's due time (and its SLA) to a later time", TasksSnooze},
      {{"escalations"}, "[--task ID] [--account ID]",
       "Escalations of one task, or of every open task that has escalated", Escalations},
      {{"metrics", "program"}, "[--from DATE] [--to DATE]",
       "Playbook program measures overall and by tier (default: the last 30 days)", MetricsProgram},
      {{"pipeline"}, "[--tier T] [--owner ID] [--currency CUR]",
       "Open expansion pipeline, total and weighted, by stage, kind, tier and close quarter", Pipeline},
      {{"opportunities"}, "[--account ID] [--stage S] [--kind K] [--tier T] [--owner ID]",
       "Expansion opportunities", Opportunities},
      {{"metrics", "retention"}, "[--from 2026-01] [--to 2026-12] [--currency CUR] [--margin PERCENT]",
       "GRR, NRR, churn, ARPA and CLV overall and by tier (default: the last 12 full months)",
       MetricsRetention},
      {{"metrics", "expansion"}, "[--from 2026-01] [--to 2026-12] [--tier T] [--currency CUR]",
       "Expansion revenue, rate, ARPU, cycle and win rates (default: the last 12 full months)",
       MetricsExpansion},
      {{"report"}, "[--currency CUR]",
       "One report across the services: bands vs 80/15/5, top risks, escalations, SLA, "
       "pipeline, retention", Report},
      {{"apply"}, "-f FILE|DIR [--request-id ID]",
       "Create or update the scorecards, event mappings, playbooks and escalation chains "
       "in YAML files", Apply},
      {{"diff"}, "-f FILE|DIR", "What apply would change (exit 0 either way)", Diff},
      {{"get"}, "scorecards|playbooks|event-mappings|escalation-chains [-o yaml]",
       "Export configuration in the format apply reads", Get},
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
