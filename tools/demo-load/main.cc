// demo-load: loads a synthetic, seeded customer portfolio into a running suite through
// its public gRPC APIs (health, expansion), so the reports have something real to show.
//
//   demo-load [--accounts 1000] [--days 180] [--seed 1] [--health-addr 127.0.0.1:50051]
//             [--expansion-addr 127.0.0.1:50053] [--parallel 2] [--no-progress]
//
// Every id the tool sends (account ids, signal event ids, request ids) is derived from
// the seed, so running it again with the same seed changes nothing: the signals come
// back as duplicates, and the other writes replay their first answer.
// Exit codes: 0 done, 1 a call failed, 2 bad usage.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"

namespace cs::demo {
namespace {

namespace hv1 = ::cs::health::v1;
namespace ev1 = ::cs::expansion::v1;
using HealthClient = client::ServiceClient<hv1::AccountHealthService>;
using ExpansionClient = client::ServiceClient<ev1::ExpansionService>;

struct Options {
  int accounts = 1000;
  int days = 180;
  uint64_t seed = 1;
  std::string health_addr = "127.0.0.1:50051";
  std::string expansion_addr = "127.0.0.1:50053";
  int parallel = 2;
  bool progress = true;
  // Print the generated accounts (id, tier, cohort) and send nothing.
  bool plan = false;
};

enum class Cohort { kHealthy, kExpanding, kDeclining, kRecovering, kChurning };

const char* CohortName(Cohort c) {
  switch (c) {
    case Cohort::kHealthy: return "healthy";
    case Cohort::kExpanding: return "expanding";
    case Cohort::kDeclining: return "declining";
    case Cohort::kRecovering: return "recovering";
    case Cohort::kChurning: return "churning";
  }
  return "?";
}

// Everything the generator decides about one account; drawn from a generator seeded
// by (seed, index) alone, so one account does not depend on how many others there are.
struct DemoAccount {
  int index = 0;
  std::string id;
  std::string name;
  hv1::Tier tier = hv1::TIER_UNSPECIFIED;
  int employees = 0;
  hv1::Industry industry = hv1::INDUSTRY_UNSPECIFIED;
  std::string owner;
  int64_t arr_cents = 0;
  Cohort cohort = Cohort::kHealthy;
  // Health level 0-1 at the start, the turning point (day index) and the end.
  double start_level = 0.9, end_level = 0.9, dip_level = 0.9;
  int turn_day = 0;
  int churn_day = -1;  // day index of churn for the churning cohort
  int billing_day = 1;
  int contract_age_days = 0;
};

uint64_t Mix(uint64_t a, uint64_t b) {
  // SplitMix64 over the pair: a stable, well-spread seed per (seed, purpose, index).
  uint64_t z = a * 0x9E3779B97F4A7C15ULL + b + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double Uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}
int UniformInt(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

DemoAccount MakeAccount(const Options& o, int index) {
  static const char* kFirst[] = {"North", "Blue", "Silver", "Bright", "Cedar", "Harbor", "Summit",
                                 "River", "Iron", "Golden", "Maple", "Atlas", "Nova", "Pine",
                                 "Granite", "Coral", "Vertex", "Lumen", "Orchid", "Falcon"};
  static const char* kSecond[] = {"wind", "field", "stone", "bridge", "peak", "light", "works",
                                  "line", "gate", "path", "point", "wave", "forge", "leaf"};
  static const char* kSuffix[] = {"Health", "Capital", "Commerce", "Partners", "Labs", "Group",
                                  "Clinic", "Bank", "Retail", "Consulting", "Software", "Systems"};
  std::mt19937_64 rng(Mix(o.seed, 1000003ULL + index));
  DemoAccount a;
  a.index = index;
  a.id = absl::StrFormat("demo-%d-%05d", o.seed, index + 1);
  a.name = absl::StrCat(kFirst[UniformInt(rng, 0, 19)], kSecond[UniformInt(rng, 0, 13)], " ",
                        kSuffix[UniformInt(rng, 0, 11)]);
  // Tier mix by employee count (DOMAIN §1): few large accounts, many small ones.
  const double t = Uniform(rng, 0, 1);
  int shard = 0;
  if (t < 0.06) {
    a.tier = hv1::TIER_ENTERPRISE, a.employees = UniformInt(rng, 1000, 20000);
    a.arr_cents = int64_t{100} * UniformInt(rng, 120000, 600000), shard = 4;
  } else if (t < 0.26) {
    a.tier = hv1::TIER_MID_MARKET, a.employees = UniformInt(rng, 100, 999);
    a.arr_cents = int64_t{100} * UniformInt(rng, 24000, 120000), shard = 8;
  } else if (t < 0.66) {
    a.tier = hv1::TIER_SMB, a.employees = UniformInt(rng, 10, 99);
    a.arr_cents = int64_t{100} * UniformInt(rng, 3600, 24000), shard = 12;
  } else {
    a.tier = hv1::TIER_SOLO, a.employees = UniformInt(rng, 1, 9);
    a.arr_cents = int64_t{100} * UniformInt(rng, 600, 3000), shard = 2;
  }
  a.arr_cents -= a.arr_cents % 1200;  // a whole number of cents per month
  a.industry = static_cast<hv1::Industry>(UniformInt(rng, 1, 6));
  a.owner = absl::StrFormat("csm-%s-%02d", hv1::Tier_Name(a.tier).substr(5),
                            UniformInt(rng, 1, shard));
  a.billing_day = UniformInt(rng, 1, 28);
  a.contract_age_days = o.days + UniformInt(rng, 0, 700);
  // Turning points scale with the window (for 180 days: the decline starts 45-90 days ago).
  a.turn_day = o.days - UniformInt(rng, o.days / 4, o.days / 2);
  // Cohorts: most accounts healthy, the rest spread over the stories a CS team sees.
  const double c = Uniform(rng, 0, 1);
  a.start_level = Uniform(rng, 0.85, 1.0);
  if (c < 0.66) {
    a.cohort = Cohort::kHealthy, a.end_level = Uniform(rng, 0.82, 1.0);
  } else if (c < 0.76) {
    a.cohort = Cohort::kExpanding, a.end_level = Uniform(rng, 0.9, 1.0);
  } else if (c < 0.88) {
    // Declining to a spread of levels, so both YELLOW and RED accounts appear.
    a.cohort = Cohort::kDeclining, a.end_level = Uniform(rng, 0.1, 0.75);
  } else if (c < 0.95) {
    a.cohort = Cohort::kRecovering, a.dip_level = Uniform(rng, 0.2, 0.4),
    a.end_level = Uniform(rng, 0.75, 0.95);
  } else {
    a.cohort = Cohort::kChurning, a.end_level = 0.05;
    a.churn_day = o.days - UniformInt(rng, 3, o.days / 5);
    a.turn_day = std::max(0, a.churn_day - UniformInt(rng, o.days / 6, o.days / 3));
  }
  return a;
}

// The account's health level on day d (0 = the first day loaded).
double LevelOn(const DemoAccount& a, int d, int days) {
  auto lerp = [](double x, double y, double f) { return x + (y - x) * std::clamp(f, 0.0, 1.0); };
  switch (a.cohort) {
    case Cohort::kHealthy:
    case Cohort::kExpanding:
      return lerp(a.start_level, a.end_level, static_cast<double>(d) / days);
    case Cohort::kDeclining:
      if (d < a.turn_day) return a.start_level;
      // Reaches its end level some days before today, so the last month shows it.
      return lerp(a.start_level, a.end_level,
                  static_cast<double>(d - a.turn_day) / std::max(1, days - a.turn_day - days / 9));
    case Cohort::kRecovering: {
      // A dip that bottomed out about 50 days ago (for 180 days) and has mostly healed.
      const int bottom = days - days * 5 / 18, fall = std::max(1, days * 2 / 9), rise = std::max(1, days / 5);
      if (d < bottom - fall) return a.start_level;
      if (d < bottom) return lerp(a.start_level, a.dip_level, static_cast<double>(d - (bottom - fall)) / fall);
      return lerp(a.dip_level, a.end_level, static_cast<double>(d - bottom) / rise);
    }
    case Cohort::kChurning:
      if (d < a.turn_day) return a.start_level;
      return lerp(a.start_level, a.end_level,
                  static_cast<double>(d - a.turn_day) / std::max(1, a.churn_day - a.turn_day));
  }
  return 0.5;
}

google::protobuf::Timestamp At(absl::CivilDay day, int minute_of_day) {
  const absl::Time t = absl::FromCivil(day, absl::UTCTimeZone()) + absl::Minutes(minute_of_day);
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

cs::common::v1::Date DateOf(absl::CivilDay d) {
  cs::common::v1::Date out;
  out.set_year(static_cast<int32_t>(d.year()));
  out.set_month(d.month());
  out.set_day(d.day());
  return out;
}

// Every signal of one account over the window, in time order. The event id names the
// account, day and position, so it is the same on every run with the same seed.
std::vector<hv1::Signal> SignalsFor(const Options& o, const DemoAccount& a, absl::CivilDay first) {
  std::mt19937_64 rng(Mix(o.seed ^ 0x5157AB1EULL, a.index));
  std::vector<hv1::Signal> out;
  const int features = 10;
  const int last_day = a.churn_day >= 0 ? a.churn_day : o.days - 1;
  for (int d = 0; d <= last_day; ++d) {
    const absl::CivilDay day = first + d;
    const double h = LevelOn(a, d, o.days);
    int seq = 0;
    auto add = [&](hv1::SignalKind kind, double value, const std::string& feature, int minute) {
      hv1::Signal s;
      s.set_event_id(absl::StrFormat("demo-%d-%d-%d", d, seq++, static_cast<int>(kind)));
      s.set_account_id(a.id);
      s.set_kind(kind);
      *s.mutable_occurred_at() = At(day, std::clamp(minute, 0, 24 * 60 - 1));
      s.set_value(value);
      if (!feature.empty()) s.set_feature(feature);
      out.push_back(std::move(s));
      return &out.back();
    };
    const bool weekend = absl::GetWeekday(day) == absl::Weekday::saturday ||
                         absl::GetWeekday(day) == absl::Weekday::sunday;
    // Use falls faster than the level (u = h^2): a struggling account stops logging in
    // long before it stops paying. About 20 logins a week at full health (the default
    // scorecard's 100).
    const double u = h * h;
    const double login_rate = 3.2 * u * (weekend ? 0.5 : 1.15);
    const int logins = std::poisson_distribution<int>(login_rate)(rng);
    for (int i = 0; i < logins; ++i) add(hv1::SIGNAL_KIND_LOGIN, 1, "", UniformInt(rng, 420, 1140));
    if (logins > 0) {
      add(hv1::SIGNAL_KIND_SESSION_MINUTES, std::round(logins * Uniform(rng, 10, 40)), "", 1150);
      // Adoption: a healthier account uses more of its features.
      const int breadth = std::max(1, static_cast<int>(std::lround(features * h)));
      const int uses = UniformInt(rng, 1, 2);
      for (int i = 0; i < uses; ++i) {
        add(hv1::SIGNAL_KIND_FEATURE_USED, 1, absl::StrCat("feature-", UniformInt(rng, 1, breadth)), 1160 + i);
      }
    }
    // Support: 1 ticket a month when healthy, up to 11 when not.
    if (Uniform(rng, 0, 1) < (1 + 10 * (1 - h)) / 30.0) {
      add(hv1::SIGNAL_KIND_TICKET_OPENED, 1, "", 600);
      hv1::Signal* resolved = add(hv1::SIGNAL_KIND_TICKET_RESOLVED, std::round(Uniform(rng, 2, 48 * (1.5 - h))), "", 1300);
      resolved->set_csat(std::clamp(std::round(1 + 4 * h + Uniform(rng, -1, 1)), 1.0, 5.0));
    }
    // Payments: monthly on the billing day; struggling accounts pay late or fail.
    if (day.day() == a.billing_day) {
      const double r = Uniform(rng, 0, 1);
      hv1::SignalKind kind = hv1::SIGNAL_KIND_PAYMENT_SUCCEEDED;
      if (h < 0.55 && r < 0.5) kind = hv1::SIGNAL_KIND_PAYMENT_FAILED;
      else if (h < 0.75 && r < 0.4) kind = hv1::SIGNAL_KIND_PAYMENT_LATE;
      add(kind, 1, "", 300);
    }
    // Engagement: about 12 touches a month at full health.
    if (Uniform(rng, 0, 1) < 0.42 * u) {
      static const hv1::SignalKind kKinds[] = {hv1::SIGNAL_KIND_EMAIL_OPEN, hv1::SIGNAL_KIND_EMAIL_OPEN,
                                               hv1::SIGNAL_KIND_EMAIL_CLICK, hv1::SIGNAL_KIND_WEBINAR_ATTENDED,
                                               hv1::SIGNAL_KIND_COMMUNITY_POST, hv1::SIGNAL_KIND_SURVEY_RESPONSE};
      add(kKinds[UniformInt(rng, 0, 5)], 1, "", 840);
    }
    // NPS once a quarter.
    if ((d + a.index) % 90 == 0) {
      add(hv1::SIGNAL_KIND_NPS_RESPONSE, std::clamp(std::round(10 * h + Uniform(rng, -1.5, 1)), 0.0, 10.0), "", 900);
    }
    // Expansion interest: frequent for the expanding cohort, occasional otherwise.
    const double interest = a.cohort == Cohort::kExpanding ? 0.12 : 0.02 * h;
    if (Uniform(rng, 0, 1) < interest) {
      static const hv1::SignalKind kKinds[] = {hv1::SIGNAL_KIND_UPSELL_INTEREST, hv1::SIGNAL_KIND_FEATURE_REQUEST,
                                               hv1::SIGNAL_KIND_INTEGRATION_REQUEST, hv1::SIGNAL_KIND_REFERRAL};
      const int k = UniformInt(rng, 0, 3);
      add(kKinds[k], 1, k == 1 ? "advanced-analytics" : (k == 2 ? "salesforce" : ""), 960);
    }
  }
  return out;
}

struct Totals {
  std::atomic<int64_t> signals{0}, accepted{0}, duplicates{0}, rejected{0};
  std::atomic<int> accounts_done{0};
};

class Progress {
 public:
  Progress(bool on, int total) : on_(on), total_(total) {}
  void Show(int done, int64_t signals) {
    if (!on_) return;
    std::lock_guard<std::mutex> lock(mu_);
    const int width = 40;
    const int filled = total_ == 0 ? width : done * width / total_;
    std::fprintf(stderr, "\r  signals [%s%s] %d/%d accounts, %lld signals", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), done, total_, static_cast<long long>(signals));
    std::fflush(stderr);
  }
  void Done() {
    if (on_) std::fprintf(stderr, "\n");
  }

 private:
  bool on_;
  int total_;
  std::mutex mu_;
};

absl::Status Fail(absl::string_view what, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
}

// Sends the accounts [begin, end) of `accounts` (a worker's share), batching up to
// 1000 signals per RecordSignals call; a batch holds whole accounts where it can, so
// each account is rescored once or twice rather than in every batch.
absl::Status LoadSignals(const Options& o, const std::vector<DemoAccount>& accounts, int worker,
                         absl::CivilDay first, Totals* totals, Progress* progress) {
  client::ClientOptions co;
  co.target = o.health_addr;
  co.deadline = absl::Seconds(120);
  auto health = HealthClient::Create(co);
  if (!health.ok()) return health.status();
  hv1::RecordSignalsRequest request;
  auto flush = [&]() -> absl::Status {
    if (request.signals_size() == 0) return absl::OkStatus();
    // No request id: the event ids are the idempotency key, and a re-run then reports
    // each signal as a duplicate instead of replaying a stored answer.
    absl::StatusOr<hv1::RecordSignalsResponse> r = (*health)->Call(&hv1::AccountHealthService::Stub::RecordSignals, request);
    if (!r.ok()) return Fail("RecordSignals", r.status());
    totals->signals += request.signals_size();
    totals->accepted += r->accepted();
    totals->duplicates += r->duplicates();
    totals->rejected += r->rejected();
    if (r->rejected() > 0) {
      for (const hv1::RecordAck& ack : r->acks()) {
        if (ack.outcome() == hv1::RECORD_OUTCOME_REJECTED) {
          return absl::InternalError(absl::StrCat("RecordSignals rejected ", ack.event_id(), ": ", ack.reason()));
        }
      }
    }
    request.clear_signals();
    return absl::OkStatus();
  };
  for (size_t i = worker; i < accounts.size(); i += o.parallel) {
    std::vector<hv1::Signal> signals = SignalsFor(o, accounts[i], first);
    if (request.signals_size() + signals.size() > 1000) {
      if (absl::Status s = flush(); !s.ok()) return s;
    }
    for (hv1::Signal& s : signals) {
      *request.add_signals() = std::move(s);
      if (request.signals_size() == 1000) {
        if (absl::Status st = flush(); !st.ok()) return st;
      }
    }
    const int done = ++totals->accounts_done;
    progress->Show(done, totals->signals.load());
  }
  return flush();
}

absl::Status Run(const Options& o) {
  const absl::Time started = absl::Now();
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  const absl::CivilDay first = today - (o.days - 1);
  const bool progress_on = o.progress && isatty(STDERR_FILENO);
  client::ClientOptions hopt;
  hopt.target = o.health_addr;
  client::ClientOptions eopt;
  eopt.target = o.expansion_addr;
  auto health = HealthClient::Create(hopt);
  if (!health.ok()) return health.status();
  auto expansion = ExpansionClient::Create(eopt);
  if (!expansion.ok()) return expansion.status();

  std::vector<DemoAccount> accounts;
  int cohort_count[5] = {0, 0, 0, 0, 0};
  for (int i = 0; i < o.accounts; ++i) {
    accounts.push_back(MakeAccount(o, i));
    ++cohort_count[static_cast<int>(accounts.back().cohort)];
  }
  const std::string rid = absl::StrCat("demo-", o.seed, "-");
  if (o.plan) {
    for (const DemoAccount& a : accounts) {
      std::cout << absl::StrFormat("%s\t%s\t%s\t%s\tlevel %.2f -> %.2f\n", a.id, hv1::Tier_Name(a.tier), a.name,
                                   CohortName(a.cohort), a.start_level, a.end_level);
    }
    return absl::OkStatus();
  }

  // 1. Accounts.
  int created = 0;
  Progress account_progress(progress_on, o.accounts);
  for (const DemoAccount& a : accounts) {
    hv1::UpsertAccountRequest r;
    r.set_request_id(absl::StrCat(rid, "account-", a.index));
    hv1::Account* acc = r.mutable_account();
    acc->set_account_id(a.id);
    acc->set_name(a.name);
    acc->set_tier(a.tier);
    acc->set_employee_count(a.employees);
    acc->set_industry(a.industry);
    acc->set_owner_id(a.owner);
    const absl::CivilDay start = today - a.contract_age_days;
    absl::CivilDay renewal(start.year() + 1, start.month(), std::min(start.day(), 28));
    while (renewal < today) renewal = absl::CivilDay(renewal.year() + 1, renewal.month(), renewal.day());
    acc->set_lifecycle(renewal - today < 90 ? hv1::LIFECYCLE_RENEWING : hv1::LIFECYCLE_ADOPTING);
    *acc->mutable_contract_start() = DateOf(start);
    *acc->mutable_renewal_date() = DateOf(renewal);
    acc->mutable_arr()->set_minor_units(a.arr_cents);
    acc->mutable_arr()->set_currency_code("USD");
    auto resp = (*health)->Call(&hv1::AccountHealthService::Stub::UpsertAccount, r);
    if (!resp.ok()) return Fail(absl::StrCat("UpsertAccount ", a.id), resp.status());
    if (resp->created()) ++created;
    account_progress.Show(a.index + 1, 0);
  }
  account_progress.Done();
  std::cout << "accounts: " << o.accounts << " upserted (healthy " << cohort_count[0] << ", expanding "
            << cohort_count[1] << ", declining " << cohort_count[2] << ", recovering " << cohort_count[3]
            << ", churning " << cohort_count[4] << ")" << std::endl;

  // 2. Signals, in parallel workers over disjoint accounts.
  Totals totals;
  Progress progress(progress_on, o.accounts);
  std::vector<absl::Status> results(o.parallel);
  {
    std::vector<std::thread> workers;
    for (int w = 0; w < o.parallel; ++w) {
      workers.emplace_back([&, w] { results[w] = LoadSignals(o, accounts, w, first, &totals, &progress); });
    }
    for (std::thread& t : workers) t.join();
  }
  progress.Show(totals.accounts_done.load(), totals.signals.load());  // the last batches' signals too
  progress.Done();
  for (const absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  std::cout << "signals: " << totals.signals << " sent, " << totals.accepted << " accepted, " << totals.duplicates
            << " duplicates, " << totals.rejected << " rejected" << std::endl;

  // 3. Churn: after the signals, since a churned account takes no more.
  int churned = 0;
  for (const DemoAccount& a : accounts) {
    if (a.cohort != Cohort::kChurning) continue;
    hv1::MarkChurnedRequest r;
    r.set_request_id(absl::StrCat(rid, "churn-", a.index));
    r.set_account_id(a.id);
    *r.mutable_churned_on() = DateOf(first + (a.churn_day + 1));
    static const char* kReasons[] = {"budget cut", "moved to a competitor", "product fit: missing features",
                                     "acquired; tools consolidated", "champion left"};
    r.set_reason(kReasons[a.index % 5]);
    auto resp = (*health)->Call(&hv1::AccountHealthService::Stub::MarkChurned, r);
    if (!resp.ok()) return Fail(absl::StrCat("MarkChurned ", a.id), resp.status());
    ++churned;
  }
  std::cout << "churned: " << churned << " accounts marked" << std::endl;

  // 4. Revenue ledger: one MRR row per account and month of the window.
  const absl::CivilMonth first_month(first);
  const absl::CivilMonth last_month(today);
  ev1::ImportSubscriptionsRequest ledger;
  int64_t months = 0, movements = 0;
  int ledger_batch = 0;
  auto flush_ledger = [&]() -> absl::Status {
    if (ledger.subscriptions_size() == 0) return absl::OkStatus();
    ledger.set_request_id(absl::StrCat(rid, "ledger-", first_month.year(), "-", first_month.month(), "-", ledger_batch++));
    auto resp = (*expansion)->Call(&ev1::ExpansionService::Stub::ImportSubscriptions, ledger);
    if (!resp.ok()) return Fail("ImportSubscriptions", resp.status());
    months += resp->months_changed();
    movements += resp->movements_added();
    ledger.clear_subscriptions();
    return absl::OkStatus();
  };
  for (const DemoAccount& a : accounts) {
    std::mt19937_64 rng(Mix(o.seed ^ 0x1ED6E7ULL, a.index));
    const int64_t base = a.arr_cents / 12;
    const int grow_at = UniformInt(rng, 1, 5);
    for (absl::CivilMonth m = first_month; m <= last_month; ++m) {
      const int k = static_cast<int>(m - first_month);
      int64_t mrr = base;
      if (a.cohort == Cohort::kExpanding && k >= grow_at) mrr = base + base * UniformInt(rng, 15, 35) / 100;
      if (a.cohort == Cohort::kDeclining && absl::CivilMonth(first + a.turn_day) < m && a.end_level < 0.4) {
        mrr = base * 85 / 100;  // a contraction: seats cut back
      }
      if (a.cohort == Cohort::kChurning && absl::CivilMonth(first + a.churn_day) < m) mrr = 0;
      ev1::SubscriptionMonth* row = ledger.add_subscriptions();
      row->set_account_id(a.id);
      *row->mutable_month() = DateOf(absl::CivilDay(m));
      row->mutable_mrr()->set_minor_units(mrr);
      row->mutable_mrr()->set_currency_code("USD");
      row->set_tier(static_cast<ev1::Tier>(a.tier));
    }
    if (ledger.subscriptions_size() > 5000) {
      if (absl::Status s = flush_ledger(); !s.ok()) return s;
    }
  }
  if (absl::Status s = flush_ledger(); !s.ok()) return s;
  std::cout << "ledger: " << months << " subscription months changed, " << movements << " movements added"
            << std::endl;

  // 5. Opportunities for the expanding accounts and some healthy ones, moved through
  // the stages (after the signals, so the health guard sees the scores).
  int opportunities = 0, moves = 0, refused = 0;
  for (const DemoAccount& a : accounts) {
    std::mt19937_64 rng(Mix(o.seed ^ 0x0CC0ULL, a.index));
    const bool wants = a.cohort == Cohort::kExpanding || (a.cohort == Cohort::kHealthy && Uniform(rng, 0, 1) < 0.15);
    if (!wants) continue;
    static const ev1::OpportunityKind kKinds[] = {ev1::OPPORTUNITY_KIND_SEAT_EXPANSION, ev1::OPPORTUNITY_KIND_FEATURE_UPSELL,
                                                  ev1::OPPORTUNITY_KIND_PLAN_UPGRADE, ev1::OPPORTUNITY_KIND_ADD_ON,
                                                  ev1::OPPORTUNITY_KIND_INTEGRATION_EXPANSION, ev1::OPPORTUNITY_KIND_CROSS_SELL};
    const int count = a.cohort == Cohort::kExpanding ? UniformInt(rng, 1, 2) : 1;
    for (int n = 0; n < count; ++n) {
      ev1::CreateOpportunityRequest r;
      r.set_request_id(absl::StrCat(rid, "opp-", a.index, "-", n));
      ev1::Opportunity* op = r.mutable_opportunity();
      op->set_account_id(a.id);
      op->set_kind(kKinds[UniformInt(rng, 0, 5)]);
      op->set_owner_id(a.owner);
      op->mutable_amount()->set_minor_units(std::max<int64_t>(100000, a.arr_cents * UniformInt(rng, 10, 40) / 100 / 100 * 100));
      op->mutable_amount()->set_currency_code("USD");
      op->set_source(ev1::OPPORTUNITY_SOURCE_MANUAL);
      op->set_tier(static_cast<ev1::Tier>(a.tier));
      op->set_title(absl::StrCat(a.name, ": ", ev1::OpportunityKind_Name(op->kind()).substr(17)));
      *op->mutable_expected_close_date() = DateOf(today + UniformInt(rng, 14, 200));
      auto created_op = (*expansion)->Call(&ev1::ExpansionService::Stub::CreateOpportunity, r);
      if (!created_op.ok()) return Fail(absl::StrCat("CreateOpportunity ", a.id), created_op.status());
      ++opportunities;
      // How far it goes: most stay early in the funnel; some close, won or lost.
      const int target = UniformInt(rng, 1, 6);  // 1 IDENTIFIED .. 5 CLOSED_WON, 6 CLOSED_LOST
      const int last_open = std::min(target, 4);
      for (int stage = 2; stage <= (target >= 5 ? 5 : last_open); ++stage) {
        const ev1::Stage to = (stage == 5 && target == 6) ? ev1::STAGE_CLOSED_LOST : static_cast<ev1::Stage>(stage);
        ev1::AdvanceStageRequest adv;
        adv.set_request_id(absl::StrCat(rid, "opp-", a.index, "-", n, "-stage-", stage));
        adv.set_opportunity_id(created_op->opportunity().opportunity_id());
        adv.set_to_stage(to);
        adv.set_actor_id(a.owner);
        if (to == ev1::STAGE_CLOSED_LOST) adv.set_loss_reason("budget moved to next year");
        auto moved = (*expansion)->Call(&ev1::ExpansionService::Stub::AdvanceStage, adv);
        if (moved.ok()) {
          ++moves;
        } else if (moved.status().code() == absl::StatusCode::kFailedPrecondition) {
          ++refused;  // the health guard or the stage rules said no: a real outcome, not an error
          break;
        } else {
          return Fail(absl::StrCat("AdvanceStage ", adv.opportunity_id()), moved.status());
        }
      }
    }
  }
  std::cout << "opportunities: " << opportunities << " created, " << moves << " stage moves, " << refused
            << " refused by the service" << std::endl;
  const absl::Duration took = absl::Now() - started;
  std::cout << absl::StrFormat("demo portfolio loaded: %d accounts x %d days (seed %d) in %.1f s\n", o.accounts,
                               o.days, o.seed, absl::ToDoubleSeconds(took));
  return absl::OkStatus();
}

int Usage(const std::string& error) {
  if (!error.empty()) std::cerr << "demo-load: " << error << "\n";
  std::cerr << "usage: demo-load [--accounts N (1000)] [--days D (180)] [--seed S (1)]\n"
               "                 [--health-addr HOST:PORT] [--expansion-addr HOST:PORT]\n"
               "                 [--parallel N (2)] [--no-progress] [--plan]\n"
               "  --plan prints the generated accounts and their cohorts and sends nothing.\n";
  return 2;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") return Usage("");
    if (arg == "--no-progress") { o.progress = false; continue; }
    if (arg == "--plan") { o.plan = true; continue; }
    if (!value(&v)) return Usage(absl::StrCat("unknown or incomplete option ", arg));
    if (arg == "--accounts") {
      if (!absl::SimpleAtoi(v, &o.accounts) || o.accounts < 1 || o.accounts > 100000) return Usage("--accounts: must be 1-100000");
    } else if (arg == "--days") {
      if (!absl::SimpleAtoi(v, &o.days) || o.days < 30 || o.days > 730) return Usage("--days: must be 30-730");
    } else if (arg == "--seed") {
      if (!absl::SimpleAtoi(v, &o.seed)) return Usage("--seed: must be a non-negative integer");
    } else if (arg == "--parallel") {
      if (!absl::SimpleAtoi(v, &o.parallel) || o.parallel < 1 || o.parallel > 16) return Usage("--parallel: must be 1-16");
    } else if (arg == "--health-addr") {
      o.health_addr = v;
    } else if (arg == "--expansion-addr") {
      o.expansion_addr = v;
    } else {
      return Usage(absl::StrCat("unknown option ", arg));
    }
  }
  absl::Status s = Run(o);
  if (!s.ok()) {
    std::cerr << "demo-load: " << s << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace cs::demo

int main(int argc, char** argv) { return cs::demo::Main(argc, argv); }
