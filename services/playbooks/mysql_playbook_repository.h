#ifndef CS_SERVICES_PLAYBOOKS_MYSQL_PLAYBOOK_REPOSITORY_H_
#define CS_SERVICES_PLAYBOOKS_MYSQL_PLAYBOOK_REPOSITORY_H_

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "common/clock.h"
#include "common/db/pool.h"
#include "services/playbooks/playbook_repository.h"

namespace cs::playbooks {

class MySqlPlaybookRepository final : public PlaybookRepository {
 public:
  MySqlPlaybookRepository(db::Pool* pool, const Clock* clock, TaskEventCodec events)
      : pool_(pool), clock_(clock), events_(std::move(events)) {}

  absl::StatusOr<Playbook> CreatePlaybook(const db::WriteKey& key,
                                          const db::ResultCodec<Playbook>& codec,
                                          const Playbook& playbook, absl::Time now) override;
  absl::StatusOr<Playbook> UpdatePlaybook(const db::WriteKey& key,
                                          const db::ResultCodec<Playbook>& codec,
                                          const Playbook& playbook, absl::Time now) override;
  absl::StatusOr<Playbook> GetPlaybook(const std::string& playbook_id, int version) override;
  absl::StatusOr<std::vector<Playbook>> ListPlaybooks() override;
  absl::Status EnsurePlaybooks(const std::vector<Playbook>& playbooks, absl::Time now) override;

  absl::StatusOr<StartResult> StartRun(const db::WriteKey& key,
                                       const db::ResultCodec<StartResult>& codec,
                                       const std::string& playbook_id,
                                       const AccountProfile& account,
                                       const std::string& trigger_key, absl::Time now) override;
  absl::StatusOr<Run> GetRun(const std::string& run_id) override;
  absl::StatusOr<RunPage> ListRuns(const RunFilter& filter) override;
  absl::StatusOr<Run> CancelRun(const db::WriteKey& key, const db::ResultCodec<Run>& codec,
                                const std::string& run_id, const std::string& reason,
                                absl::Time now) override;

  absl::StatusOr<TaskPage> ListTasks(const TaskFilter& filter, absl::Time now) override;
  absl::StatusOr<Task> GetTask(const std::string& task_id) override;
  absl::StatusOr<Task> CompleteTask(const db::WriteKey& key, const db::ResultCodec<Task>& codec,
                                    const std::string& task_id, const std::string& outcome,
                                    const std::string& note, absl::Time now) override;
  absl::StatusOr<Task> SnoozeTask(const db::WriteKey& key, const db::ResultCodec<Task>& codec,
                                  const std::string& task_id, absl::Time until,
                                  absl::Time now) override;
  absl::StatusOr<Task> ReassignTask(const db::WriteKey& key, const db::ResultCodec<Task>& codec,
                                    const std::string& task_id, const std::string& assignee_id,
                                    absl::Time now) override;
  absl::StatusOr<std::vector<Escalation>> ListEscalations(const std::string& task_id) override;

  absl::StatusOr<int64_t> Cursor(const std::string& consumer) override;
  absl::StatusOr<std::set<std::string>> KnownAccounts(
      const std::vector<std::string>& account_ids) override;
  absl::StatusOr<int> ApplyHealthEvents(const std::string& consumer,
                                        const std::vector<HealthEvent>& events,
                                        const std::map<std::string, AccountProfile>& context,
                                        absl::Time now) override;

  absl::StatusOr<bool> SkipHealthEvent(const std::string& consumer, const HealthEvent& event,
                                       const std::string& reason, absl::Time now) override;
  absl::StatusOr<int> EscalateOverdue(absl::Time now, int limit) override;
  absl::StatusOr<int> CloseRecoveredRuns(absl::Time now, int limit) override;
  absl::StatusOr<int> ScheduleAccounts(absl::Time now, absl::Duration horizon, int limit) override;
  absl::StatusOr<std::vector<OpportunityRequest>> ClaimExpansionRequests(absl::Time now,
                                                                         absl::Duration lease,
                                                                         int limit) override;
  absl::Status FinishExpansionRequest(const std::string& request_id,
                                      const absl::StatusOr<std::string>& outcome, absl::Time now,
                                      absl::Time retry_at) override;

  absl::StatusOr<std::vector<TaskEvent>> TaskEventsAfter(int64_t after, int limit) override;
  absl::StatusOr<int64_t> LastTaskEventSequence() override;

  absl::StatusOr<MetricsFacts> LoadMetricsFacts(absl::Time from, absl::Time to) override;
  absl::StatusOr<CohortCounts> LoadCohort(const std::string& playbook_id) override;

 private:
  db::Pool* pool_;
  const Clock* clock_;
  TaskEventCodec events_;
  // Consumers whose cursor row this replica has made sure of (a page that finds the
  // row gone forgets the consumer, so the next page makes it again).
  std::mutex cursors_mu_;
  std::set<std::string> cursor_rows_;

  // Accounts this replica has seen a row of (found by KnownAccounts, or read or
  // inserted by a page that committed), with the tier the row had. Rows are never
  // deleted, so KnownAccounts answers these without a read: during a rescore that is
  // every account of every page. Held as 64-bit hashes of the id (absl::Hash, seeded
  // per process) mapping to a 32-bit one of the tier, 16 bytes a slot, 18 to 43
  // bytes an account with the table's slack (about 72 MiB at the bound); two ids
  // sharing one (about one in 10^13 lookups at a million accounts) would leave the
  // newer without the profile health would have given it, and without a row while
  // only its scores move, until its next other event.
  // Bounded: past kKnownAccountsMax it starts again.
  static constexpr size_t kKnownAccountsMax = 2'000'000;
  struct KnownRow {
    std::string account_id;
    std::string tier;
  };
  void RememberKnown(const std::vector<KnownRow>& rows);
  // The accounts of a page (events after `cursor`) whose every event there is a
  // SCORE_CHANGED naming the tier their row had when this replica last saw it. Such
  // an event moves only the account's standing (ApplyOutcomeEvent): it fires no
  // playbook and its profile (the tier) is the row's, so the page neither reads nor
  // locks their rows. In a rescore that is most accounts of most pages: a 100k
  // scorecard change read 941 account rows per 1,000 accounts for nothing, 7.1 us of
  // statement time an account.
  std::set<std::string> ScoreOnlyKnownAccounts(const std::vector<HealthEvent>& events,
                                               int64_t cursor);
  std::mutex known_mu_;
  absl::flat_hash_map<uint64_t, uint32_t> known_accounts_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_MYSQL_PLAYBOOK_REPOSITORY_H_
