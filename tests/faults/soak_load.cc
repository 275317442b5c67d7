// The steady load of scripts/soak: rounds of calls to all three services at a fixed
// rate (open loop over two lanes, so a slow call delays its own lane only) for a
// fixed time. One round is what a day of the suite looks like in miniature: a signal
// batch and a score read on health, now and then a new account (which playbooks turns
// into an onboarding run through health's event stream), task and run reads on
// playbooks, and on expansion an opportunity created and moved to PROPOSAL (which asks
// health for the band) plus a pipeline read.
//
//   soak_load --health=H:P --playbooks=H:P --expansion=H:P [--seconds=60] [--rate=4]
//             [--accounts=50] [--tag=soak]
// Prints progress every 10 s and a summary; exits 1 when more than 0.5 % of the calls
// failed unexpectedly (a guard refusal of a RED account is an answer, not a failure).

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"

namespace {

namespace hv1 = ::cs::health::v1;
namespace pv1 = ::cs::playbooks::v1;
namespace ev1 = ::cs::expansion::v1;

struct Options {
  std::string health, playbooks, expansion;
  int seconds = 60;
  double rate = 4;  // rounds per second, all lanes together
  int accounts = 50;
  std::string tag = "soak";
};

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    if (!absl::StartsWith(a, "--") || eq == std::string::npos) return false;
    const std::string key = a.substr(2, eq - 2);
    const std::string value = a.substr(eq + 1);
    bool ok = true;
    if (key == "health") {
      o->health = value;
    } else if (key == "playbooks") {
      o->playbooks = value;
    } else if (key == "expansion") {
      o->expansion = value;
    } else if (key == "seconds") {
      ok = absl::SimpleAtoi(value, &o->seconds) && o->seconds > 0;
    } else if (key == "rate") {
      ok = absl::SimpleAtod(value, &o->rate) && o->rate > 0;
    } else if (key == "accounts") {
      ok = absl::SimpleAtoi(value, &o->accounts) && o->accounts > 0;
    } else if (key == "tag") {
      o->tag = value;
    } else {
      ok = false;
    }
    if (!ok) return false;
  }
  return !o->health.empty() && !o->playbooks.empty() && !o->expansion.empty();
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

// Calls and failures by method and code, shared by the lanes.
class Tally {
 public:
  void Add(const std::string& method, const grpc::Status& s, bool expected_failure = false) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    if (s.ok() || expected_failure) return;
    ++failures_;
    ++by_code_[absl::StrCat(method, " ", s.error_code())];
    if (first_errors_.size() < 5) first_errors_.push_back(absl::StrCat(method, ": ", s.error_message()));
  }
  void Print(const char* what) {
    std::lock_guard<std::mutex> lock(mu_);
    std::printf("soak_load %s: %lld calls, %lld failed", what, static_cast<long long>(calls_),
                static_cast<long long>(failures_));
    for (const auto& [k, n] : by_code_) std::printf(" [%s: %lld]", k.c_str(), static_cast<long long>(n));
    std::printf("\n");
    std::fflush(stdout);
  }
  bool Acceptable() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& e : first_errors_) std::printf("  e.g. %s\n", e.c_str());
    return calls_ > 0 && failures_ * 200 <= calls_;
  }

 private:
  std::mutex mu_;
  int64_t calls_ = 0;
  int64_t failures_ = 0;
  std::map<std::string, int64_t> by_code_;
  std::vector<std::string> first_errors_;
};

struct Stubs {
  std::unique_ptr<hv1::AccountHealthService::Stub> health;
  std::unique_ptr<pv1::PlaybookService::Stub> playbooks;
  std::unique_ptr<ev1::ExpansionService::Stub> expansion;
};

std::string AccountId(const Options& o, int i) { return absl::StrCat(o.tag, "-acct-", i); }

grpc::Status Upsert(hv1::AccountHealthService::Stub* health, const std::string& id, int employees) {
  hv1::UpsertAccountRequest req;
  req.set_request_id(absl::StrCat("upsert-", id));
  req.mutable_account()->set_account_id(id);
  req.mutable_account()->set_name(id);
  req.mutable_account()->set_employee_count(employees);
  req.mutable_account()->set_owner_id("csm-soak");
  hv1::UpsertAccountResponse resp;
  return health->UpsertAccount(Ctx().get(), req, &resp);
}

void Round(const Options& o, Stubs& s, int lane, int64_t n, std::mt19937& rng, Tally& tally) {
  const std::string round = absl::StrCat(o.tag, "-", lane, "-", n);
  const std::string account = AccountId(o, static_cast<int>(rng() % o.accounts));
  {
    hv1::RecordSignalsRequest req;
    req.set_request_id(absl::StrCat("sig-", round));
    static const hv1::SignalKind kKinds[] = {hv1::SIGNAL_KIND_LOGIN, hv1::SIGNAL_KIND_SESSION_MINUTES,
                                             hv1::SIGNAL_KIND_EMAIL_OPEN, hv1::SIGNAL_KIND_PAYMENT_SUCCEEDED};
    for (int i = 0; i < 20; ++i) {
      hv1::Signal* sig = req.add_signals();
      sig->set_event_id(absl::StrCat(round, "-", i));
      sig->set_account_id(account);
      sig->set_kind(kKinds[i % 4]);
      sig->set_value(i % 4 == 1 ? 30 : 0);
      sig->mutable_occurred_at()->set_seconds(
          absl::ToUnixSeconds(absl::Now() - absl::Minutes(1 + rng() % (60 * 24 * 20))));
    }
    hv1::RecordSignalsResponse resp;
    tally.Add("RecordSignals", s.health->RecordSignals(Ctx().get(), req, &resp));
  }
  {
    hv1::GetHealthRequest req;
    req.set_account_id(account);
    hv1::GetHealthResponse resp;
    const grpc::Status st = s.health->GetHealth(Ctx().get(), req, &resp);
    tally.Add("GetHealth", st, st.error_code() == grpc::StatusCode::NOT_FOUND);
  }
  if (n % 10 == 0) {
    tally.Add("UpsertAccount", Upsert(s.health.get(), absl::StrCat(o.tag, "-new-", lane, "-", n), 40));
  }
  {
    pv1::ListTasksRequest req;
    req.set_account_id(account);
    req.set_page_size(50);
    pv1::ListTasksResponse resp;
    tally.Add("ListTasks", s.playbooks->ListTasks(Ctx().get(), req, &resp));
    pv1::ListRunsRequest runs;
    runs.set_page_size(20);
    pv1::ListRunsResponse listed;
    tally.Add("ListRuns", s.playbooks->ListRuns(Ctx().get(), runs, &listed));
  }
  if (n % 3 == 0) {
    ev1::CreateOpportunityRequest req;
    req.set_request_id(absl::StrCat("opp-", round));
    ev1::Opportunity* opp = req.mutable_opportunity();
    opp->set_account_id(account);
    opp->set_kind(ev1::OPPORTUNITY_KIND_SEAT_EXPANSION);
    opp->mutable_amount()->set_minor_units(100'000 + static_cast<int64_t>(rng() % 900'000));
    opp->mutable_amount()->set_currency_code("USD");
    opp->set_source(ev1::OPPORTUNITY_SOURCE_MANUAL);
    ev1::CreateOpportunityResponse created;
    grpc::Status st = s.expansion->CreateOpportunity(Ctx().get(), req, &created);
    tally.Add("CreateOpportunity", st);
    if (st.ok()) {
      for (ev1::Stage to : {ev1::STAGE_QUALIFIED, ev1::STAGE_PROPOSAL}) {
        ev1::AdvanceStageRequest adv;
        adv.set_request_id(absl::StrCat("adv-", round, "-", to));
        adv.set_opportunity_id(created.opportunity().opportunity_id());
        adv.set_to_stage(to);
        ev1::AdvanceStageResponse moved;
        st = s.expansion->AdvanceStage(Ctx().get(), adv, &moved);
        // The guard holds a RED account at QUALIFIED: an answer, not a failure.
        tally.Add("AdvanceStage", st, st.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
        if (!st.ok()) break;
      }
    }
    ev1::GetPipelineSummaryRequest pipe;
    ev1::GetPipelineSummaryResponse summary;
    tally.Add("GetPipelineSummary", s.expansion->GetPipelineSummary(Ctx().get(), pipe, &summary));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    std::fprintf(stderr,
                 "usage: soak_load --health=H:P --playbooks=H:P --expansion=H:P [--seconds=N] "
                 "[--rate=R] [--accounts=N] [--tag=T]\n");
    return 2;
  }
  auto make_stubs = [&o] {
    Stubs s;
    s.health = hv1::AccountHealthService::NewStub(
        grpc::CreateChannel(o.health, grpc::InsecureChannelCredentials()));
    s.playbooks = pv1::PlaybookService::NewStub(
        grpc::CreateChannel(o.playbooks, grpc::InsecureChannelCredentials()));
    s.expansion = ev1::ExpansionService::NewStub(
        grpc::CreateChannel(o.expansion, grpc::InsecureChannelCredentials()));
    return s;
  };
  Tally tally;
  {
    Stubs s = make_stubs();
    for (int i = 0; i < o.accounts; ++i) {
      tally.Add("UpsertAccount", Upsert(s.health.get(), AccountId(o, i), 20 + 40 * (i % 30)));
    }
  }
  constexpr int kLanes = 2;
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(o.seconds);
  const absl::Duration interval = absl::Seconds(kLanes / o.rate);
  std::atomic<int64_t> rounds{0};
  std::atomic<int64_t> late{0};
  std::vector<std::thread> lanes;
  for (int lane = 0; lane < kLanes; ++lane) {
    lanes.emplace_back([&, lane] {
      Stubs s = make_stubs();
      std::mt19937 rng(1234 + lane);
      absl::Time next = start + interval * lane / kLanes;
      for (int64_t n = 0;; ++n) {
        const absl::Time now = absl::Now();
        if (next >= end) break;
        if (next > now) absl::SleepFor(next - now);
        else if (now - next > interval) ++late;
        Round(o, s, lane, n, rng, tally);
        ++rounds;
        next += interval;
      }
    });
  }
  std::thread progress([&] {
    absl::Time report = start + absl::Seconds(10);
    while (absl::Now() < end) {
      absl::SleepFor(absl::Milliseconds(200));
      if (absl::Now() >= report) {
        tally.Print(absl::StrCat(absl::ToInt64Seconds(absl::Now() - start), " s, ", rounds.load(),
                                 " rounds").c_str());
        report += absl::Seconds(10);
      }
    }
  });
  for (std::thread& t : lanes) t.join();
  progress.join();
  tally.Print(absl::StrCat("done: ", rounds.load(), " rounds in ",
                           absl::ToInt64Seconds(absl::Now() - start), " s (", late.load(),
                           " started late)").c_str());
  return tally.Acceptable() ? 0 : 1;
}
