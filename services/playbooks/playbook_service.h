#ifndef CS_SERVICES_PLAYBOOKS_PLAYBOOK_SERVICE_H_
#define CS_SERVICES_PLAYBOOKS_PLAYBOOK_SERVICE_H_

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "services/playbooks/peers.h"
#include "services/playbooks/playbook_repository.h"

namespace cs::playbooks {

struct ProgramMetrics {
  std::string tier;  // empty: the whole program
  int64_t risk_runs = 0;
  int64_t risk_runs_succeeded = 0;
  int64_t risk_runs_failed = 0;
  double intervention_success_rate = 0;
  double time_to_intervention_median_hours = 0;
  double time_to_intervention_mean_hours = 0;
  int64_t yellow_runs = 0;
  int64_t yellow_runs_recovered = 0;
  double yellow_recovery_rate = 0;
  int64_t tasks_completed = 0;
  int64_t tasks_within_sla = 0;
  double sla_attainment = 0;
  std::map<int, int64_t> open_escalations_by_level;
};

struct ProgramReport {
  ProgramMetrics overall;
  std::vector<ProgramMetrics> by_tier;  // tiers with any data, in tier order
};

// The program measures of DOMAIN §3 from the raw facts (pure; unit-tested).
ProgramReport ComputeProgramMetrics(const MetricsFacts& facts);

struct PlaybookLift {
  std::string playbook_id;
  int holdout_percent = 0;
  CohortArm treated;
  CohortArm held_out;
  Difference recovery;
  Difference churn;
};

// The rules of playbooks, runs and tasks: validation naming the field, then the
// repository. Knows nothing of gRPC.
class PlaybookService {
 public:
  struct Options {
    // How far ahead cadence touchpoints are created.
    absl::Duration cadence_horizon = absl::Hours(24 * 14);
    int sweep_batch = 200;
    // WatchTasks polling and heartbeats.
    absl::Duration poll_interval = absl::Milliseconds(100);
    absl::Duration default_heartbeat = absl::Seconds(5);
    absl::Duration min_heartbeat = absl::Milliseconds(100);
    // Health events read and applied per transaction by ConsumeHealthEvents.
    int consume_page_size = 500;
  };

  PlaybookService(PlaybookRepository* repository, HealthFeed* health, ExpansionClient* expansion,
                  const Clock* clock, Options options)
      : repository_(repository),
        health_(health),
        expansion_(expansion),
        clock_(clock),
        options_(options) {}

  absl::StatusOr<Playbook> CreatePlaybook(const db::WriteKey& key,
                                          const db::ResultCodec<Playbook>& codec,
                                          const Playbook& playbook);
  absl::StatusOr<Playbook> UpdatePlaybook(const db::WriteKey& key,
                                          const db::ResultCodec<Playbook>& codec,
                                          const Playbook& playbook);
  absl::StatusOr<Playbook> GetPlaybook(const std::string& playbook_id, int version);
  absl::StatusOr<std::vector<Playbook>> ListPlaybooks();
  absl::Status EnsureDefaultPlaybooks();

  absl::StatusOr<StartResult> StartPlaybook(const db::WriteKey& key,
                                            const db::ResultCodec<StartResult>& codec,
                                            const std::string& playbook_id,
                                            const std::string& account_id);
  absl::StatusOr<std::pair<Run, std::vector<Task>>> GetRun(const std::string& run_id);
  absl::StatusOr<RunPage> ListRuns(const RunFilter& filter);
  absl::StatusOr<Run> CancelRun(const db::WriteKey& key, const db::ResultCodec<Run>& codec,
                                const std::string& run_id, const std::string& reason);

  absl::StatusOr<TaskPage> ListTasks(const TaskFilter& filter);
  absl::StatusOr<Task> GetTask(const std::string& task_id);
  absl::StatusOr<Task> CompleteTask(const db::WriteKey& key, const db::ResultCodec<Task>& codec,
                                    const std::string& task_id, const std::string& outcome,
                                    const std::string& note);
  absl::StatusOr<Task> SnoozeTask(const db::WriteKey& key, const db::ResultCodec<Task>& codec,
                                  const std::string& task_id, absl::Time until,
                                  const std::string& reason);
  absl::StatusOr<Task> ReassignTask(const db::WriteKey& key, const db::ResultCodec<Task>& codec,
                                    const std::string& task_id, const std::string& assignee_id,
                                    const std::string& reason);
  absl::StatusOr<std::vector<Escalation>> ListEscalations(const std::string& task_id);

  struct EventPage {
    std::vector<TaskEvent> events;
    int64_t last_sequence = 0;
  };
  absl::StatusOr<EventPage> ListTaskEvents(int64_t after_sequence, int page_size);
  struct WatchSink {
    std::function<bool(const TaskEvent&)> event;
    std::function<bool(int64_t last_sequence, absl::Time at)> heartbeat;
  };
  // Sends the events after `after_sequence`, then new ones as they commit, with
  // heartbeats while idle; UNAVAILABLE when the service is stopping.
  absl::Status WatchTasks(int64_t after_sequence, absl::Duration heartbeat, const WatchSink& sink);
  void Stop() { stopping_.store(true); }

  absl::StatusOr<ProgramReport> GetProgramMetrics(std::optional<absl::Time> from,
                                                  std::optional<absl::Time> to);
  absl::StatusOr<PlaybookLift> GetPlaybookLift(const std::string& playbook_id);

  // One round of the health stream consumer: reads the page after the cursor,
  // fetches account context and applies it. Returns the events applied (0 when
  // caught up or another replica holds the claim).
  // One page of at most `page_size` events (0: Options::consume_page_size).
  absl::StatusOr<int> ConsumeHealthEvents(int page_size = 0);
  // One round of the sweeper: SLA escalations, recovered runs, cadence and renewal
  // scheduling, opportunities for the expansion service. Returns the work done.
  absl::StatusOr<int> Sweep();

 private:
  // Opens the opportunity of an expansion request, or names the open one it joins.
  absl::StatusOr<std::string> OpenOrJoin(const OpportunityRequest& r);

  PlaybookRepository* repository_;
  HealthFeed* health_;
  ExpansionClient* expansion_;
  const Clock* clock_;
  Options options_;
  std::atomic<bool> stopping_{false};
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_PLAYBOOK_SERVICE_H_
