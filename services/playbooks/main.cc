// The playbook service: playbook definitions, runs, tasks, SLAs and escalation.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>

#include "absl/flags/flag.h"
#include "common/server/flags.h"
#include "common/server/metrics.h"
#include "common/server/service_main.h"
#include "services/playbooks/advocacy_store.h"
#include "services/playbooks/escalation_service.h"
#include "services/playbooks/grpc_handler.h"
#include "services/playbooks/grpc_peers.h"
#include "services/playbooks/mysql_escalation_repository.h"
#include "services/playbooks/mysql_playbook_repository.h"
#include "services/playbooks/playbook_service.h"
#include "services/playbooks/proto_mapping.h"
#include "services/playbooks/shared_event_feed.h"
#include "services/playbooks/success_plan_wiring.h"
#include "services/playbooks/worker.h"

ABSL_FLAG(std::string, health_addr, "127.0.0.1:50051",
          "host:port of the health service (event stream and account context)");
ABSL_FLAG(std::string, expansion_addr, "127.0.0.1:50053",
          "host:port of the expansion service (opportunities from GREEN expansion signals)");
ABSL_FLAG(absl::Duration, peer_timeout, absl::Seconds(5),
          "deadline of one call to health or expansion (retries included)");
ABSL_FLAG(absl::Duration, consume_interval, absl::Milliseconds(500),
          "how often the health event consumer polls once caught up (or after a failure)");
ABSL_FLAG(int, consume_page_size, 500,
          "health events the consumers read and apply per transaction (1-1000)");
ABSL_FLAG(absl::Duration, sweep_interval, absl::Seconds(10),
          "how often SLA escalation, run exits, cadences and renewals are checked when idle");
ABSL_FLAG(absl::Duration, cadence_horizon, absl::Hours(24 * 14),
          "how far ahead cadence touchpoint tasks are created");
ABSL_FLAG(absl::Duration, business_metrics_interval, absl::Seconds(30),
          "how often the business gauges of /metrics (open escalations by level) are recomputed");
ABSL_FLAG(absl::Duration, success_plan_interval, absl::Seconds(1),
          "how often success plans look for score events, overdue milestones and due "
          "criteria checks when idle");
ABSL_FLAG(absl::Duration, success_criteria_check_interval, absl::Hours(6),
          "how often an unmet success criterion is checked against health without a score event");
ABSL_FLAG(int64_t, expansion_default_amount, 120000,
          "minor units (USD) an opportunity opened from an expansion signal starts with");

namespace {

struct PlaybooksSettings {
  std::string health_addr;
  std::string expansion_addr;
  absl::Duration peer_timeout;
  absl::Duration consume_interval;
  int consume_page_size;
  absl::Duration sweep_interval;
  absl::Duration cadence_horizon;
  int64_t expansion_amount;
  absl::Duration business_interval;
  cs::PeerTlsConfig peer_tls;
  absl::Duration success_plan_interval;
  absl::Duration criteria_check_interval;
};

absl::StatusOr<PlaybooksSettings> LoadSettings() {
  PlaybooksSettings s;
  s.health_addr = absl::GetFlag(FLAGS_health_addr);
  if (s.health_addr.empty()) {
    return absl::InvalidArgumentError("--health_addr (CS_HEALTH_ADDR): must be host:port");
  }
  s.expansion_addr = absl::GetFlag(FLAGS_expansion_addr);
  if (s.expansion_addr.empty()) {
    return absl::InvalidArgumentError("--expansion_addr (CS_EXPANSION_ADDR): must be host:port");
  }
  s.peer_timeout = absl::GetFlag(FLAGS_peer_timeout);
  s.consume_interval = absl::GetFlag(FLAGS_consume_interval);
  s.sweep_interval = absl::GetFlag(FLAGS_sweep_interval);
  if (s.peer_timeout <= absl::ZeroDuration() || s.consume_interval <= absl::ZeroDuration() ||
      s.sweep_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--peer_timeout, --consume_interval, --sweep_interval (CS_PEER_TIMEOUT, "
        "CS_CONSUME_INTERVAL, CS_SWEEP_INTERVAL): must be positive");
  }
  s.consume_page_size = absl::GetFlag(FLAGS_consume_page_size);
  if (s.consume_page_size < 1 || s.consume_page_size > 1000) {
    return absl::InvalidArgumentError(
        "--consume_page_size (CS_CONSUME_PAGE_SIZE): must be 1 to 1000");
  }
  s.cadence_horizon = absl::GetFlag(FLAGS_cadence_horizon);
  if (s.cadence_horizon < absl::ZeroDuration() || s.cadence_horizon > absl::Hours(24 * 366)) {
    return absl::InvalidArgumentError(
        "--cadence_horizon (CS_CADENCE_HORIZON): must be between 0 and 366 days");
  }
  s.business_interval = absl::GetFlag(FLAGS_business_metrics_interval);
  if (s.business_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--business_metrics_interval (CS_BUSINESS_METRICS_INTERVAL): must be positive");
  }
  s.success_plan_interval = absl::GetFlag(FLAGS_success_plan_interval);
  s.criteria_check_interval = absl::GetFlag(FLAGS_success_criteria_check_interval);
  if (s.success_plan_interval <= absl::ZeroDuration() ||
      s.criteria_check_interval < absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        "--success_plan_interval (CS_SUCCESS_PLAN_INTERVAL): must be positive;"
        " --success_criteria_check_interval (CS_SUCCESS_CRITERIA_CHECK_INTERVAL): at least 1m");
  }
  s.expansion_amount = absl::GetFlag(FLAGS_expansion_default_amount);
  if (s.expansion_amount <= 0) {
    return absl::InvalidArgumentError(
        "--expansion_default_amount (CS_EXPANSION_DEFAULT_AMOUNT): must be positive");
  }
  return s;
}

cs::playbooks::PlaybookService::Options ServiceOptions(const PlaybooksSettings& s) {
  cs::playbooks::PlaybookService::Options o;
  o.cadence_horizon = s.cadence_horizon;
  o.consume_page_size = s.consume_page_size;
  return o;
}

cs::playbooks::GrpcHealthFeed::Options HealthOptions(const PlaybooksSettings& s) {
  cs::playbooks::GrpcHealthFeed::Options o;
  o.call_timeout = s.peer_timeout;
  o.channel.tls = s.peer_tls;
  return o;
}

cs::playbooks::SuccessPlanService::Options PlanOptions(const PlaybooksSettings& s) {
  cs::playbooks::SuccessPlanService::Options o;
  o.check_interval = s.criteria_check_interval;
  o.consume_page_size = s.consume_page_size;
  return o;
}

cs::playbooks::GrpcHealthReader::Options HealthReaderOptions(const PlaybooksSettings& s) {
  cs::playbooks::GrpcHealthReader::Options o;
  o.call_timeout = s.peer_timeout;
  o.channel.tls = s.peer_tls;
  return o;
}

cs::playbooks::GrpcExpansionClient::Options ExpansionOptions(const PlaybooksSettings& s) {
  cs::playbooks::GrpcExpansionClient::Options o;
  o.call_timeout = s.peer_timeout;
  o.default_amount_minor_units = s.expansion_amount;
  o.channel.tls = s.peer_tls;
  return o;
}

// The decorators below restate the repository interface's signatures.
namespace db = cs::db;
using cs::playbooks::AccountProfile;
using cs::playbooks::CohortCounts;
using cs::playbooks::Escalation;
using cs::playbooks::HealthEvent;
using cs::playbooks::MetricsFacts;
using cs::playbooks::OpportunityRequest;
using cs::playbooks::Playbook;
using cs::playbooks::Run;
using cs::playbooks::RunFilter;
using cs::playbooks::RunPage;
using cs::playbooks::StartResult;
using cs::playbooks::Task;
using cs::playbooks::TaskEvent;
using cs::playbooks::TaskFilter;
using cs::playbooks::TaskPage;

// The name under which the playbook service keeps its health stream cursor.
constexpr char kHealthConsumer[] = "health";

// Counts the tasks the sweeper escalates (each one a task whose SLA expired before it
// was done) on their way to the database; everything else passes through.
class SlaCountingRepository final : public cs::playbooks::PlaybookRepository {
 public:
  SlaCountingRepository(cs::playbooks::PlaybookRepository* base, prometheus::Counter* sla_breaches)
      : base_(base), sla_breaches_(sla_breaches) {}

  // clang-format off
  absl::StatusOr<Playbook> CreatePlaybook(const db::WriteKey& key, const db::ResultCodec<Playbook>& codec, const Playbook& playbook, absl::Time now) override { return base_->CreatePlaybook(key, codec, playbook, now); }
  absl::StatusOr<Playbook> UpdatePlaybook(const db::WriteKey& key, const db::ResultCodec<Playbook>& codec, const Playbook& playbook, absl::Time now) override { return base_->UpdatePlaybook(key, codec, playbook, now); }
  absl::StatusOr<Playbook> GetPlaybook(const std::string& playbook_id, int version) override { return base_->GetPlaybook(playbook_id, version); }
  absl::StatusOr<std::vector<Playbook>> ListPlaybooks() override { return base_->ListPlaybooks(); }
  absl::Status EnsurePlaybooks(const std::vector<Playbook>& playbooks, absl::Time now) override { return base_->EnsurePlaybooks(playbooks, now); }
  absl::StatusOr<StartResult> StartRun(const db::WriteKey& key, const db::ResultCodec<StartResult>& codec, const std::string& playbook_id, const AccountProfile& account, const std::string& trigger_key, absl::Time now) override { return base_->StartRun(key, codec, playbook_id, account, trigger_key, now); }
  absl::StatusOr<Run> GetRun(const std::string& run_id) override { return base_->GetRun(run_id); }
  absl::StatusOr<RunPage> ListRuns(const RunFilter& filter) override { return base_->ListRuns(filter); }
  absl::StatusOr<Run> CancelRun(const db::WriteKey& key, const db::ResultCodec<Run>& codec, const std::string& run_id, const std::string& reason, absl::Time now) override { return base_->CancelRun(key, codec, run_id, reason, now); }
  absl::StatusOr<TaskPage> ListTasks(const TaskFilter& filter, absl::Time now) override { return base_->ListTasks(filter, now); }
  absl::StatusOr<Task> GetTask(const std::string& task_id) override { return base_->GetTask(task_id); }
  absl::StatusOr<Task> CompleteTask(const db::WriteKey& key, const db::ResultCodec<Task>& codec, const std::string& task_id, const std::string& outcome, const std::string& note, absl::Time now) override { return base_->CompleteTask(key, codec, task_id, outcome, note, now); }
  absl::StatusOr<Task> SnoozeTask(const db::WriteKey& key, const db::ResultCodec<Task>& codec, const std::string& task_id, absl::Time until, absl::Time now) override { return base_->SnoozeTask(key, codec, task_id, until, now); }
  absl::StatusOr<Task> ReassignTask(const db::WriteKey& key, const db::ResultCodec<Task>& codec, const std::string& task_id, const std::string& assignee_id, absl::Time now) override { return base_->ReassignTask(key, codec, task_id, assignee_id, now); }
  absl::StatusOr<std::vector<Escalation>> ListEscalations(const std::string& task_id) override { return base_->ListEscalations(task_id); }
  absl::StatusOr<int64_t> Cursor(const std::string& consumer) override { return base_->Cursor(consumer); }
  absl::StatusOr<std::set<std::string>> KnownAccounts(const std::vector<std::string>& account_ids) override { return base_->KnownAccounts(account_ids); }
  absl::StatusOr<int> ApplyHealthEvents(const std::string& consumer, const std::vector<HealthEvent>& events, const std::map<std::string, AccountProfile>& context, absl::Time now) override { return base_->ApplyHealthEvents(consumer, events, context, now); }
  absl::StatusOr<bool> SkipHealthEvent(const std::string& consumer, const HealthEvent& event, const std::string& reason, absl::Time now) override { return base_->SkipHealthEvent(consumer, event, reason, now); }
  absl::StatusOr<int> EscalateOverdue(absl::Time now, int limit) override {
    absl::StatusOr<int> escalated = base_->EscalateOverdue(now, limit);
    if (escalated.ok() && *escalated > 0) sla_breaches_->Increment(*escalated);
    return escalated;
  }
  absl::StatusOr<int> CloseRecoveredRuns(absl::Time now, int limit) override { return base_->CloseRecoveredRuns(now, limit); }
  absl::StatusOr<int> ScheduleAccounts(absl::Time now, absl::Duration horizon, int limit) override { return base_->ScheduleAccounts(now, horizon, limit); }
  absl::StatusOr<std::vector<OpportunityRequest>> ClaimExpansionRequests(absl::Time now, absl::Duration lease, int limit) override { return base_->ClaimExpansionRequests(now, lease, limit); }
  absl::Status FinishExpansionRequest(const std::string& request_id, const absl::StatusOr<std::string>& outcome, absl::Time now, absl::Time retry_at) override { return base_->FinishExpansionRequest(request_id, outcome, now, retry_at); }
  absl::StatusOr<std::vector<TaskEvent>> TaskEventsAfter(int64_t after, int limit) override { return base_->TaskEventsAfter(after, limit); }
  absl::StatusOr<int64_t> LastTaskEventSequence() override { return base_->LastTaskEventSequence(); }
  absl::StatusOr<MetricsFacts> LoadMetricsFacts(absl::Time from, absl::Time to) override { return base_->LoadMetricsFacts(from, to); }
  absl::StatusOr<CohortCounts> LoadCohort(const std::string& playbook_id) override { return base_->LoadCohort(playbook_id); }
  // clang-format on

 private:
  cs::playbooks::PlaybookRepository* base_;
  prometheus::Counter* sla_breaches_;
};

// Remembers health's last sequence from each page of events the consumer reads, and
// sets the lag against the cursor the page was read after: a round that then waits
// (on a row lock, a slow database) already shows how far behind it is.
class HeadTrackingFeed final : public cs::playbooks::HealthFeed {
 public:
  HeadTrackingFeed(cs::playbooks::HealthFeed* base, prometheus::Gauge* lag)
      : base_(base), lag_(lag) {}
  absl::StatusOr<cs::playbooks::HealthEventPage> ListEvents(int64_t after, int limit) override {
    absl::StatusOr<cs::playbooks::HealthEventPage> page = base_->ListEvents(after, limit);
    if (page.ok()) {
      head_.store(page->last_sequence);
      lag_->Set(static_cast<double>(std::max<int64_t>(0, page->last_sequence - after)));
    }
    return page;
  }
  absl::StatusOr<cs::playbooks::AccountProfile> GetAccount(const std::string& account_id) override {
    return base_->GetAccount(account_id);
  }
  absl::StatusOr<std::map<std::string, cs::playbooks::AccountProfile>> GetAccounts(
      const std::vector<std::string>& account_ids) override {
    return base_->GetAccounts(account_ids);
  }
  // -1 until health has answered once.
  int64_t head() const { return head_.load(); }

 private:
  cs::playbooks::HealthFeed* base_;
  prometheus::Gauge* lag_;
  std::atomic<int64_t> head_{-1};
};

struct PlaybookMetrics {
  explicit PlaybookMetrics(prometheus::Registry& registry)
      : sla_breaches(&prometheus::BuildCounter()
                          .Name("cs_playbook_sla_breaches_total")
                          .Help("Playbook tasks escalated by this replica because their SLA expired")
                          .Register(registry)
                          .Add({})),
        consumer_lag(&prometheus::BuildGauge()
                          .Name("cs_events_consumer_lag_events")
                          .Help("Events of health's stream not yet applied by the consumer "
                                "(health's last sequence minus the consumer's cursor)")
                          .Register(registry)
                          .Add({{"consumer", kHealthConsumer}})) {}
  prometheus::Counter* sla_breaches;
  prometheus::Gauge* consumer_lag;
};

// Open tasks (open or snoozed) that have been escalated at least once, by how far up
// the chain they are; the (status, escalate_at) index narrows it to open tasks.
cs::QueryGauge::Spec EscalationSpec() {
  return {"cs_playbook_open_escalations",
          "Open playbook tasks escalated past their owner, by escalation level",
          {"level"},
          "SELECT CAST(escalation_level AS CHAR), COUNT(*) FROM tasks"
          " WHERE status IN ('OPEN', 'SNOOZED') AND escalation_level > 0"
          " GROUP BY escalation_level",
          {}};
}

struct PlaybooksWiring : cs::ServiceWiring {
  PlaybooksWiring(cs::db::Pool* pool, const PlaybooksSettings& s, prometheus::Registry& registry)
      : clock(&cs::RealClock::Instance()),
        metrics(registry),
        repository(pool, clock),
        escalations(&repository, clock),
        playbook_repository(pool, clock, cs::playbooks::TaskEventCodecForOutbox()),
        counted_repository(&playbook_repository, metrics.sla_breaches),
        health(s.health_addr, clock, HealthOptions(s)),
        // The playbook consumer leads; success plans follow what it read (shared_event_feed.h).
        shared_health(&health, clock, 4 * static_cast<size_t>(s.consume_page_size),
                      std::max(absl::Seconds(10), 4 * s.consume_interval)),
        tracked_health(&shared_health, metrics.consumer_lag),
        expansion(s.expansion_addr, clock, ExpansionOptions(s)),
        playbooks(&counted_repository, &tracked_health, &expansion, clock, ServiceOptions(s)),
        outcome_repository(pool, clock),
        onboarding(&outcome_repository, clock),
        advocacy(&outcome_repository, clock),
        handler(&escalations, &playbooks),
        open_escalations(registry, pool, EscalationSpec()),
        business_metrics("business metrics", s.business_interval,
                         [this] { return open_escalations.Refresh(); }),
        consumer("health event consumer",
                 [this]() -> absl::StatusOr<int> {
                   absl::StatusOr<int> applied = playbooks.ConsumeHealthEvents();
                   UpdateLag();
                   return applied;
                 },
                 s.consume_interval),
        sweeper("playbooks sweeper",
                [this]() -> absl::StatusOr<int> {
                  // Seeds DOMAIN's playbooks once the database answers (it may be
                  // down at start); existing ones are never touched.
                  if (!seeded) {
                    if (absl::Status s = playbooks.EnsureDefaultPlaybooks(); !s.ok()) return s;
                    seeded = true;
                  }
                  return playbooks.Sweep();
                },
                s.sweep_interval),
        success_plans(pool, clock, shared_health.follower(), s.health_addr,
                      HealthReaderOptions(s), PlanOptions(s), s.success_plan_interval) {
    // The follower takes each page the leader reads from memory as soon as it is read.
    shared_health.OnKept([this] { success_plans.worker.Wake(); });
  }

  // After each consumer round: health's last sequence (from the page just read)
  // minus the cursor as committed now, so other replicas' progress counts too.
  void UpdateLag() {
    const int64_t head = tracked_health.head();
    if (head < 0) return;
    absl::StatusOr<int64_t> cursor = playbook_repository.Cursor(kHealthConsumer);
    if (!cursor.ok()) return;
    metrics.consumer_lag->Set(static_cast<double>(std::max<int64_t>(0, head - *cursor)));
  }

  const cs::Clock* clock;
  PlaybookMetrics metrics;
  cs::playbooks::MySqlEscalationRepository repository;
  cs::playbooks::EscalationService escalations;
  cs::playbooks::MySqlPlaybookRepository playbook_repository;
  SlaCountingRepository counted_repository;
  cs::playbooks::GrpcHealthFeed health;
  cs::playbooks::SharedEventFeed shared_health;
  HeadTrackingFeed tracked_health;
  cs::playbooks::GrpcExpansionClient expansion;
  cs::playbooks::PlaybookService playbooks;
  cs::playbooks::MySqlOutcomeRepository outcome_repository;
  cs::playbooks::OnboardingService onboarding;
  cs::playbooks::AdvocacyService advocacy;
  cs::playbooks::PlaybookHandler handler;
  cs::QueryGauge open_escalations;
  cs::PeriodicRefresher business_metrics;
  cs::playbooks::Worker consumer;
  cs::playbooks::Worker sweeper;
  bool seeded = false;  // touched only by the sweeper's thread
  cs::playbooks::SuccessPlanWiring success_plans;
};

}  // namespace

int main(int argc, char** argv) {
  cs::BlockShutdownSignals();
  absl::StatusOr<cs::ServerConfig> config = cs::LoadServerConfig(
      argc, argv, {"playbooks", "127.0.0.1:50052", "127.0.0.1:9102", "cs_playbooks"});
  if (!config.ok()) {
    std::fprintf(stderr, "playbooks: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<PlaybooksSettings> settings = LoadSettings();
  if (!settings.ok()) {
    std::fprintf(stderr, "playbooks: %s\n", std::string(settings.status().message()).c_str());
    return 2;
  }
  settings->peer_tls = config->peer;
  return cs::RunServiceMain(
      *config, {{"common", &common_migrations()}, {"playbooks", &playbooks_migrations()}},
      [&settings](cs::ServiceRuntime& runtime,
                  cs::db::Pool& pool) -> absl::StatusOr<std::unique_ptr<cs::ServiceWiring>> {
        auto wiring = std::make_unique<PlaybooksWiring>(&pool, *settings, runtime.registry());
        wiring->handler.AttachOutcomes(&wiring->onboarding, &wiring->advocacy);
        wiring->handler.AttachSuccessPlans(&wiring->success_plans.service);
        runtime.AddService(&wiring->handler);
        wiring->handler.AttachAuditLog(runtime.audit_log());
        // Reads are audited for accounts whose industry (kept in this schema) is regulated.
        runtime.SetRegulatedAccounts([p = &pool](const std::vector<std::string>& ids) {
          return cs::db::RegulatedAccountsIn(*p, ids);
        });
        // Task streams end at shutdown so the drain does not wait on them.
        runtime.AddShutdownHook([w = wiring.get()] {
          w->playbooks.Stop();
          w->consumer.Stop();
          w->sweeper.Stop();
          w->success_plans.worker.Stop();
          w->business_metrics.Stop();
        });
        // Both loops retry in the background: health or the database being away
        // never blocks start-up or readiness.
        wiring->consumer.Start();
        wiring->sweeper.Start();
        wiring->success_plans.worker.Start();
        wiring->business_metrics.Start();
        return std::unique_ptr<cs::ServiceWiring>(std::move(wiring));
      });
}
