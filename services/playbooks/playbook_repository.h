#ifndef CS_SERVICES_PLAYBOOKS_PLAYBOOK_REPOSITORY_H_
#define CS_SERVICES_PLAYBOOKS_PLAYBOOK_REPOSITORY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/idempotency.h"
#include "services/playbooks/peers.h"
#include "services/playbooks/playbook.h"

namespace cs::playbooks {

struct RunFilter {
  std::string account_id;
  std::string playbook_id;
  std::optional<RunState> state;
  int page_size = 50;
  // Decoded page token: the position after which to continue.
  std::string after;
};

struct RunPage {
  std::vector<Run> runs;
  std::string next;  // empty on the last page
};

struct TaskFilter {
  std::string assignee_id;
  std::string account_id;
  std::string run_id;
  std::optional<TaskStatus> status;
  bool overdue_only = false;
  int page_size = 50;
  std::string after;
};

struct TaskPage {
  std::vector<Task> tasks;
  std::string next;
};

struct StartResult {
  Run run;
  bool created = false;
};

// What the program metrics are computed from.
struct RunFact {
  std::string tier;
  TriggerKind trigger_kind = TriggerKind::kUnspecified;
  std::string trigger_band;
  RunState state = RunState::kUnspecified;
  absl::Time triggered_at;
  std::optional<absl::Time> first_completed_at;
};
struct CompletedTaskFact {
  std::string tier;
  bool sla_met = false;
};
struct MetricsFacts {
  std::vector<RunFact> runs;
  std::vector<CompletedTaskFact> completed_tasks;
  // tier -> escalation level -> open tasks.
  std::map<std::string, std::map<int, int64_t>> open_escalations;
};

struct CohortArm {
  int64_t accounts = 0;
  int64_t recovered = 0;
  int64_t churned = 0;
};
struct CohortCounts {
  CohortArm treated;
  CohortArm held_out;
};

// How outbox payloads are written and read (the handler layer supplies it).
struct TaskEventCodec {
  std::function<std::string(const TaskEvent&)> encode;
  std::function<absl::StatusOr<TaskEvent>(const std::string&)> decode;
};

class PlaybookRepository {
 public:
  virtual ~PlaybookRepository() = default;

  // Definitions. Create: ALREADY_EXISTS when taken. Update: NOT_FOUND, ABORTED
  // when playbook.version is not the current one.
  virtual absl::StatusOr<Playbook> CreatePlaybook(const db::WriteKey& key,
                                                  const db::ResultCodec<Playbook>& codec,
                                                  const Playbook& playbook, absl::Time now) = 0;
  virtual absl::StatusOr<Playbook> UpdatePlaybook(const db::WriteKey& key,
                                                  const db::ResultCodec<Playbook>& codec,
                                                  const Playbook& playbook, absl::Time now) = 0;
  // version 0: the current one.
  virtual absl::StatusOr<Playbook> GetPlaybook(const std::string& playbook_id, int version) = 0;
  virtual absl::StatusOr<std::vector<Playbook>> ListPlaybooks() = 0;
  // Creates each playbook whose id does not exist yet (never touches existing ones).
  virtual absl::Status EnsurePlaybooks(const std::vector<Playbook>& playbooks, absl::Time now) = 0;

  // Runs. StartRun by hand: FAILED_PRECONDITION for a churned account or a
  // disabled playbook; an active run is returned with created = false.
  virtual absl::StatusOr<StartResult> StartRun(const db::WriteKey& key,
                                               const db::ResultCodec<StartResult>& codec,
                                               const std::string& playbook_id,
                                               const AccountProfile& account,
                                               const std::string& trigger_key, absl::Time now) = 0;
  virtual absl::StatusOr<Run> GetRun(const std::string& run_id) = 0;
  virtual absl::StatusOr<RunPage> ListRuns(const RunFilter& filter) = 0;
  virtual absl::StatusOr<Run> CancelRun(const db::WriteKey& key, const db::ResultCodec<Run>& codec,
                                        const std::string& run_id, const std::string& reason,
                                        absl::Time now) = 0;

  // Tasks.
  virtual absl::StatusOr<TaskPage> ListTasks(const TaskFilter& filter, absl::Time now) = 0;
  virtual absl::StatusOr<Task> GetTask(const std::string& task_id) = 0;
  virtual absl::StatusOr<Task> CompleteTask(const db::WriteKey& key,
                                            const db::ResultCodec<Task>& codec,
                                            const std::string& task_id, const std::string& outcome,
                                            const std::string& note, absl::Time now) = 0;
  virtual absl::StatusOr<Task> SnoozeTask(const db::WriteKey& key,
                                          const db::ResultCodec<Task>& codec,
                                          const std::string& task_id, absl::Time until,
                                          absl::Time now) = 0;
  virtual absl::StatusOr<Task> ReassignTask(const db::WriteKey& key,
                                            const db::ResultCodec<Task>& codec,
                                            const std::string& task_id,
                                            const std::string& assignee_id, absl::Time now) = 0;
  virtual absl::StatusOr<std::vector<Escalation>> ListEscalations(const std::string& task_id) = 0;

  // The health stream consumer. The cursor row is claimed with SKIP LOCKED: while
  // another replica applies a page this returns 0 and applies nothing. Events at or
  // below the cursor are skipped; each applied event and the cursor move commit together.
  virtual absl::StatusOr<int64_t> Cursor(const std::string& consumer) = 0;
  // Which of `account_ids` have a row here (read without locks). Rows are never
  // deleted, so an id found stays found.
  virtual absl::StatusOr<std::set<std::string>> KnownAccounts(
      const std::vector<std::string>& account_ids) = 0;
  virtual absl::StatusOr<int> ApplyHealthEvents(
      const std::string& consumer, const std::vector<HealthEvent>& events,
      const std::map<std::string, AccountProfile>& context, absl::Time now) = 0;

  // Moves the cursor past `event` (which must be the next one) and records why it
  // could not be applied. Returns false when another replica moved the cursor first.
  virtual absl::StatusOr<bool> SkipHealthEvent(const std::string& consumer,
                                               const HealthEvent& event,
                                               const std::string& reason, absl::Time now) = 0;

  // Background work, each claimed with row locks (SKIP LOCKED) so replicas share it.
  virtual absl::StatusOr<int> EscalateOverdue(absl::Time now, int limit) = 0;
  virtual absl::StatusOr<int> CloseRecoveredRuns(absl::Time now, int limit) = 0;
  // Cadence touchpoints up to `horizon` ahead and renewal runs; returns tasks created.
  virtual absl::StatusOr<int> ScheduleAccounts(absl::Time now, absl::Duration horizon,
                                               int limit) = 0;
  // Pending expansion requests, leased for `lease` so other replicas skip them.
  virtual absl::StatusOr<std::vector<OpportunityRequest>> ClaimExpansionRequests(
      absl::Time now, absl::Duration lease, int limit) = 0;
  virtual absl::Status FinishExpansionRequest(const std::string& request_id,
                                              const absl::StatusOr<std::string>& outcome,
                                              absl::Time now, absl::Time retry_at) = 0;

  // The outbox.
  virtual absl::StatusOr<std::vector<TaskEvent>> TaskEventsAfter(int64_t after, int limit) = 0;
  virtual absl::StatusOr<int64_t> LastTaskEventSequence() = 0;

  // Measures.
  virtual absl::StatusOr<MetricsFacts> LoadMetricsFacts(absl::Time from, absl::Time to) = 0;
  virtual absl::StatusOr<CohortCounts> LoadCohort(const std::string& playbook_id) = 0;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_PLAYBOOK_REPOSITORY_H_
