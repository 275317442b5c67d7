#include "services/playbooks/playbook_service.h"

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/status.h"
#include "common/validation.h"

namespace cs::playbooks {
namespace {

constexpr int kMaxPageSize = 1000;
constexpr char kHealthConsumer[] = "health";
constexpr absl::Duration kMaxSnooze = absl::Hours(24 * 90);

absl::Status ValidatePageSize(int* page_size) {
  if (*page_size < 0 || *page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: must be in 0-", kMaxPageSize));
  }
  if (*page_size == 0) *page_size = 50;
  return absl::OkStatus();
}

double Rate(int64_t part, int64_t whole) {
  return whole == 0 ? 0 : static_cast<double>(part) / static_cast<double>(whole);
}

// Worth trying again as it is: the peer or the database is away, or a write conflicted.
bool IsRetryable(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

bool IsRiskRun(const RunFact& r) {
  return (r.trigger_kind == TriggerKind::kBandEntered &&
          (r.trigger_band == "RED" || r.trigger_band == "YELLOW")) ||
         r.trigger_kind == TriggerKind::kAlertOpened;
}

}  // namespace

ProgramReport ComputeProgramMetrics(const MetricsFacts& facts) {
  struct Acc {
    ProgramMetrics m;
    std::vector<double> hours;
  };
  std::map<std::string, Acc> by_tier;
  Acc overall;
  auto each = [&](const std::string& tier, const std::function<void(Acc&)>& fn) {
    fn(overall);
    if (!tier.empty()) fn(by_tier[tier]);
  };
  for (const RunFact& r : facts.runs) {
    if (!IsRiskRun(r)) continue;
    each(r.tier, [&](Acc& a) {
      ++a.m.risk_runs;
      if (r.state == RunState::kSucceeded) ++a.m.risk_runs_succeeded;
      if (r.state == RunState::kFailed) ++a.m.risk_runs_failed;
      if (r.first_completed_at.has_value()) {
        a.hours.push_back(absl::ToDoubleHours(*r.first_completed_at - r.triggered_at));
      }
      if (r.trigger_kind == TriggerKind::kBandEntered && r.trigger_band == "YELLOW") {
        ++a.m.yellow_runs;
        if (r.state == RunState::kSucceeded) ++a.m.yellow_runs_recovered;
      }
    });
  }
  for (const CompletedTaskFact& t : facts.completed_tasks) {
    each(t.tier, [&](Acc& a) {
      ++a.m.tasks_completed;
      if (t.sla_met) ++a.m.tasks_within_sla;
    });
  }
  for (const auto& [tier, levels] : facts.open_escalations) {
    for (const auto& [level_key, level_count] : levels) {
      // Named copies: clang 14 cannot capture structured bindings in a lambda.
      const auto level = level_key;
      const auto count = level_count;
      each(tier, [&](Acc& a) { a.m.open_escalations_by_level[level] += count; });
    }
  }
  auto finish = [](Acc& a) {
    ProgramMetrics& m = a.m;
    // Success among the runs that reached an outcome (active ones have not yet).
    m.intervention_success_rate =
        Rate(m.risk_runs_succeeded, m.risk_runs_succeeded + m.risk_runs_failed);
    m.yellow_recovery_rate = Rate(m.yellow_runs_recovered, m.yellow_runs);
    m.sla_attainment = Rate(m.tasks_within_sla, m.tasks_completed);
    if (!a.hours.empty()) {
      double sum = 0;
      for (double h : a.hours) sum += h;
      m.time_to_intervention_mean_hours = sum / static_cast<double>(a.hours.size());
      m.time_to_intervention_median_hours = Median(a.hours);
    }
  };
  ProgramReport report;
  finish(overall);
  report.overall = overall.m;
  for (const char* tier : {"ENTERPRISE", "MID_MARKET", "SMB", "SOLO"}) {
    auto it = by_tier.find(tier);
    if (it == by_tier.end()) continue;
    finish(it->second);
    it->second.m.tier = tier;
    report.by_tier.push_back(it->second.m);
  }
  return report;
}

absl::StatusOr<Playbook> PlaybookService::CreatePlaybook(const db::WriteKey& key,
                                                         const db::ResultCodec<Playbook>& codec,
                                                         const Playbook& playbook) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidatePlaybook(playbook));
  return repository_->CreatePlaybook(key, codec, playbook, clock_->Now());
}

absl::StatusOr<Playbook> PlaybookService::UpdatePlaybook(const db::WriteKey& key,
                                                         const db::ResultCodec<Playbook>& codec,
                                                         const Playbook& playbook) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidatePlaybook(playbook));
  if (playbook.version < 1) {
    return absl::InvalidArgumentError("playbook.version: must be the current version");
  }
  return repository_->UpdatePlaybook(key, codec, playbook, clock_->Now());
}

absl::StatusOr<Playbook> PlaybookService::GetPlaybook(const std::string& playbook_id,
                                                      int version) {
  RETURN_IF_ERROR(ValidateId("playbook_id", playbook_id));
  if (version < 0) return absl::InvalidArgumentError("version: must not be negative");
  return repository_->GetPlaybook(playbook_id, version);
}

absl::StatusOr<std::vector<Playbook>> PlaybookService::ListPlaybooks() {
  return repository_->ListPlaybooks();
}

absl::Status PlaybookService::EnsureDefaultPlaybooks() {
  return repository_->EnsurePlaybooks(DefaultPlaybooks(), clock_->Now());
}

absl::StatusOr<StartResult> PlaybookService::StartPlaybook(
    const db::WriteKey& key, const db::ResultCodec<StartResult>& codec,
    const std::string& playbook_id, const std::string& account_id) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("playbook_id", playbook_id));
  RETURN_IF_ERROR(ValidateId("account_id", account_id));
  RETURN_IF_ERROR(repository_->GetPlaybook(playbook_id, 0).status());
  // The account's tier and owner come from health (cached briefly).
  ASSIGN_OR_RETURN(AccountProfile account, health_->GetAccount(account_id));
  const absl::Time now = clock_->Now();
  // A request id makes the trigger (and so the run id) the same on every retry.
  const std::string trigger_key =
      key.request_id.empty()
          ? absl::StrCat("manual:", absl::FormatTime("%Y%m%dT%H%M%E6S", now, absl::UTCTimeZone()))
          : absl::StrCat("manual:", key.request_id);
  return repository_->StartRun(key, codec, playbook_id, account, trigger_key, now);
}

absl::StatusOr<std::pair<Run, std::vector<Task>>> PlaybookService::GetRun(
    const std::string& run_id) {
  RETURN_IF_ERROR(ValidateId("run_id", run_id));
  ASSIGN_OR_RETURN(Run run, repository_->GetRun(run_id));
  TaskFilter filter;
  filter.run_id = run_id;
  filter.page_size = kMaxPageSize;
  ASSIGN_OR_RETURN(TaskPage tasks, repository_->ListTasks(filter, clock_->Now()));
  return std::make_pair(std::move(run), std::move(tasks.tasks));
}

absl::StatusOr<RunPage> PlaybookService::ListRuns(const RunFilter& filter) {
  RunFilter f = filter;
  RETURN_IF_ERROR(ValidateId("account_id", f.account_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("playbook_id", f.playbook_id, /*required=*/false));
  RETURN_IF_ERROR(ValidatePageSize(&f.page_size));
  return repository_->ListRuns(f);
}

absl::StatusOr<Run> PlaybookService::CancelRun(const db::WriteKey& key,
                                               const db::ResultCodec<Run>& codec,
                                               const std::string& run_id,
                                               const std::string& reason) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("run_id", run_id));
  RETURN_IF_ERROR(ValidateText("reason", reason, 500, /*required=*/true));
  return repository_->CancelRun(key, codec, run_id, reason, clock_->Now());
}

absl::StatusOr<TaskPage> PlaybookService::ListTasks(const TaskFilter& filter) {
  TaskFilter f = filter;
  RETURN_IF_ERROR(ValidateId("assignee_id", f.assignee_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("account_id", f.account_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("run_id", f.run_id, /*required=*/false));
  RETURN_IF_ERROR(ValidatePageSize(&f.page_size));
  return repository_->ListTasks(f, clock_->Now());
}

absl::StatusOr<Task> PlaybookService::GetTask(const std::string& task_id) {
  RETURN_IF_ERROR(ValidateId("task_id", task_id));
  return repository_->GetTask(task_id);
}

absl::StatusOr<Task> PlaybookService::CompleteTask(const db::WriteKey& key,
                                                   const db::ResultCodec<Task>& codec,
                                                   const std::string& task_id,
                                                   const std::string& outcome,
                                                   const std::string& note) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("task_id", task_id));
  RETURN_IF_ERROR(ValidateText("outcome", outcome, 200, /*required=*/true));
  RETURN_IF_ERROR(ValidateText("note", note, 2000, /*required=*/false));
  return repository_->CompleteTask(key, codec, task_id, outcome, note, clock_->Now());
}

absl::StatusOr<Task> PlaybookService::SnoozeTask(const db::WriteKey& key,
                                                 const db::ResultCodec<Task>& codec,
                                                 const std::string& task_id, absl::Time until,
                                                 const std::string& reason) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("task_id", task_id));
  RETURN_IF_ERROR(ValidateText("reason", reason, 500, /*required=*/false));
  const absl::Time now = clock_->Now();
  if (until <= now) return absl::InvalidArgumentError("until: must be in the future");
  if (until > now + kMaxSnooze) {
    return absl::InvalidArgumentError("until: at most 90 days ahead");
  }
  return repository_->SnoozeTask(key, codec, task_id, until, now);
}

absl::StatusOr<Task> PlaybookService::ReassignTask(const db::WriteKey& key,
                                                   const db::ResultCodec<Task>& codec,
                                                   const std::string& task_id,
                                                   const std::string& assignee_id,
                                                   const std::string& reason) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("task_id", task_id));
  RETURN_IF_ERROR(ValidateId("assignee_id", assignee_id));
  RETURN_IF_ERROR(ValidateText("reason", reason, 500, /*required=*/false));
  return repository_->ReassignTask(key, codec, task_id, assignee_id, clock_->Now());
}

absl::StatusOr<std::vector<Escalation>> PlaybookService::ListEscalations(
    const std::string& task_id) {
  RETURN_IF_ERROR(ValidateId("task_id", task_id));
  return repository_->ListEscalations(task_id);
}

absl::StatusOr<PlaybookService::EventPage> PlaybookService::ListTaskEvents(int64_t after_sequence,
                                                                           int page_size) {
  if (after_sequence < 0) {
    return absl::InvalidArgumentError("after_sequence: must not be negative");
  }
  if (page_size < 0 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: must be in 0-", kMaxPageSize));
  }
  EventPage page;
  // The head first: everything up to it is committed.
  ASSIGN_OR_RETURN(page.last_sequence, repository_->LastTaskEventSequence());
  ASSIGN_OR_RETURN(page.events,
                   repository_->TaskEventsAfter(after_sequence, page_size == 0 ? 100 : page_size));
  return page;
}

absl::Status PlaybookService::WatchTasks(int64_t after_sequence, absl::Duration heartbeat,
                                         const WatchSink& sink) {
  if (after_sequence < 0) {
    return absl::InvalidArgumentError("after_sequence: must not be negative");
  }
  if (heartbeat < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("heartbeat_interval: must not be negative");
  }
  if (heartbeat == absl::ZeroDuration()) heartbeat = options_.default_heartbeat;
  if (heartbeat < options_.min_heartbeat) {
    return absl::InvalidArgumentError(absl::StrCat(
        "heartbeat_interval: must be at least ", absl::FormatDuration(options_.min_heartbeat)));
  }
  constexpr int kBatch = 500;
  int64_t cursor = after_sequence;
  absl::Time last_sent = absl::Now();
  int failures = 0;
  while (!stopping_.load()) {
    absl::StatusOr<std::vector<TaskEvent>> batch = repository_->TaskEventsAfter(cursor, kBatch);
    if (!batch.ok()) {
      // A short database outage should not end every notification adapter's stream.
      if (++failures >= 50) return batch.status();
      absl::SleepFor(options_.poll_interval);
      continue;
    }
    failures = 0;
    for (const TaskEvent& e : *batch) {
      if (!sink.event(e)) return absl::OkStatus();
      cursor = e.sequence;
      last_sent = absl::Now();
    }
    if (static_cast<int>(batch->size()) == kBatch) continue;
    if (absl::Now() - last_sent >= heartbeat) {
      if (!sink.heartbeat(cursor, absl::Now())) return absl::OkStatus();
      last_sent = absl::Now();
    }
    absl::SleepFor(options_.poll_interval);
  }
  return absl::UnavailableError("server shutting down; resume from the last sequence received");
}

absl::StatusOr<ProgramReport> PlaybookService::GetProgramMetrics(std::optional<absl::Time> from,
                                                                 std::optional<absl::Time> to) {
  const absl::Time end = to.value_or(clock_->Now());
  const absl::Time start = from.value_or(end - absl::Hours(24 * 30));
  if (start >= end) return absl::InvalidArgumentError("from: must be before to");
  ASSIGN_OR_RETURN(MetricsFacts facts, repository_->LoadMetricsFacts(start, end));
  return ComputeProgramMetrics(facts);
}

absl::StatusOr<PlaybookLift> PlaybookService::GetPlaybookLift(const std::string& playbook_id) {
  RETURN_IF_ERROR(ValidateId("playbook_id", playbook_id));
  ASSIGN_OR_RETURN(Playbook playbook, repository_->GetPlaybook(playbook_id, 0));
  ASSIGN_OR_RETURN(CohortCounts cohort, repository_->LoadCohort(playbook_id));
  PlaybookLift lift;
  lift.playbook_id = playbook_id;
  lift.holdout_percent = playbook.holdout_percent;
  lift.treated = cohort.treated;
  lift.held_out = cohort.held_out;
  lift.recovery = ProportionDifference(cohort.treated.recovered, cohort.treated.accounts,
                                       cohort.held_out.recovered, cohort.held_out.accounts);
  lift.churn = ProportionDifference(cohort.treated.churned, cohort.treated.accounts,
                                    cohort.held_out.churned, cohort.held_out.accounts);
  return lift;
}

absl::StatusOr<int> PlaybookService::ConsumeHealthEvents(int page_size) {
  if (page_size <= 0) page_size = options_.consume_page_size;
  ASSIGN_OR_RETURN(int64_t cursor, repository_->Cursor(kHealthConsumer));
  ASSIGN_OR_RETURN(HealthEventPage page, health_->ListEvents(cursor, page_size));
  if (page.events.empty()) return 0;
  // Health is asked for the profiles of the page's accounts that have no row here
  // and whose first event in the page carries none; the others take theirs from
  // the stream, where every change of a profile arrives as an event that carries
  // it (ACCOUNT_UPSERTED, ACCOUNT_CHURNED), in its place among the account's events.
  std::set<std::string> seen;
  std::vector<std::string> unprofiled;
  for (const HealthEvent& e : page.events) {
    if (e.account_id.empty() || !seen.insert(e.account_id).second) continue;
    if (!e.account.has_value()) unprofiled.push_back(e.account_id);
  }
  std::map<std::string, AccountProfile> context;
  if (!unprofiled.empty()) {
    ASSIGN_OR_RETURN(std::set<std::string> known, repository_->KnownAccounts(unprofiled));
    std::vector<std::string> asked;
    for (const std::string& id : unprofiled) {
      if (known.count(id) == 0) asked.push_back(id);
    }
    // In one read (an account health no longer has gets no context). Health down:
    // the cursor stays and the page is tried again later.
    if (!asked.empty()) {
      ASSIGN_OR_RETURN(context, health_->GetAccounts(asked));
    }
  }
  absl::StatusOr<int> applied =
      repository_->ApplyHealthEvents(kHealthConsumer, page.events, context, clock_->Now());
  if (applied.ok() || IsRetryable(applied.status())) return applied;
  // An error a retry cannot fix: find the event that causes it (the page rolled
  // back whole), apply the ones before it, record it as skipped with the reason
  // and go on, rather than stop the stream for every account behind it.
  for (const HealthEvent& e : page.events) {
    if (e.sequence <= cursor) continue;
    absl::StatusOr<int> one =
        repository_->ApplyHealthEvents(kHealthConsumer, {e}, context, clock_->Now());
    if (one.ok()) continue;
    if (IsRetryable(one.status())) return one.status();
    log::Error("health event skipped: it cannot be applied",
               {{"sequence", e.sequence},
                {"account_id", e.account_id},
                {"error", std::string(one.status().message())}});
    ASSIGN_OR_RETURN(bool skipped, repository_->SkipHealthEvent(
                                       kHealthConsumer, e, std::string(one.status().message()),
                                       clock_->Now()));
    if (!skipped) return 0;  // another replica is on it
    return 1;
  }
  return applied;
}

absl::StatusOr<int> PlaybookService::Sweep() {
  const absl::Time now = clock_->Now();
  int work = 0;
  ASSIGN_OR_RETURN(int escalated, repository_->EscalateOverdue(now, options_.sweep_batch));
  work += escalated;
  ASSIGN_OR_RETURN(int closed, repository_->CloseRecoveredRuns(now, options_.sweep_batch));
  work += closed;
  ASSIGN_OR_RETURN(int scheduled,
                   repository_->ScheduleAccounts(now, options_.cadence_horizon, options_.sweep_batch));
  work += scheduled;
  if (expansion_ != nullptr) {
    ASSIGN_OR_RETURN(std::vector<OpportunityRequest> pending,
                     repository_->ClaimExpansionRequests(now, absl::Minutes(1), 20));
    // Interests this sweep opened: a second signal of one in the same claim joins it.
    std::map<std::tuple<std::string, std::string, std::string>, std::string> opened_now;
    for (const OpportunityRequest& r : pending) {
      const auto interest = std::make_tuple(r.account_id, r.signal_kind, r.feature);
      auto same = opened_now.find(interest);
      absl::StatusOr<std::string> opened =
          same != opened_now.end() ? absl::StatusOr<std::string>(same->second) : OpenOrJoin(r);
      if (opened.ok()) opened_now[interest] = *opened;
      // A refusal that a retry cannot fix is recorded and not retried for a day.
      const absl::Duration retry =
          !opened.ok() && opened.status().code() == absl::StatusCode::kUnavailable
              ? absl::Minutes(1)
              : absl::Hours(24);
      RETURN_IF_ERROR(repository_->FinishExpansionRequest(r.request_id, opened, clock_->Now(),
                                                          clock_->Now() + retry));
      if (opened.ok()) ++work;
    }
  }
  return work;
}

absl::StatusOr<std::string> PlaybookService::OpenOrJoin(const OpportunityRequest& r) {
  // An interest already in the pipeline is not opened twice: the signal joins the
  // open opportunity. Once that one is won or lost, the next signal opens a new one.
  if (!r.earlier_opportunity_id.empty()) {
    ASSIGN_OR_RETURN(bool open, expansion_->IsOpen(r.earlier_opportunity_id));
    if (open) return r.earlier_opportunity_id;
  }
  // Asked under the interest and the opportunity it follows, not this request: two
  // replicas sweeping signals of one interest at the same moment (neither has seen
  // the other's opportunity yet) send the same request id, and expansion opens one
  // opportunity and answers both with it. A retry of this request sends it again.
  OpportunityRequest create = r;
  create.request_id = absl::StrCat(
      "interest-", Fingerprint64Hex(absl::StrCat(r.account_id, "\x1f", r.signal_kind, "\x1f",
                                                 r.feature, "\x1f", r.earlier_opportunity_id)));
  return expansion_->CreateOpportunity(create);
}

}  // namespace cs::playbooks
