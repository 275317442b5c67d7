#ifndef CS_SERVICES_PLAYBOOKS_MYSQL_SUCCESS_PLAN_REPOSITORY_H_
#define CS_SERVICES_PLAYBOOKS_MYSQL_SUCCESS_PLAN_REPOSITORY_H_

#include "common/clock.h"
#include "common/db/pool.h"
#include "services/playbooks/playbook_repository.h"
#include "services/playbooks/success_plan_repository.h"

namespace cs::playbooks {

class MySqlSuccessPlanRepository final : public SuccessPlanRepository {
 public:
  // `events` writes the outbox payloads; `templates` stores a template's body.
  MySqlSuccessPlanRepository(db::Pool* pool, const Clock* clock, TaskEventCodec events,
                             db::ResultCodec<PlanTemplate> templates)
      : pool_(pool), clock_(clock), events_(std::move(events)), templates_(std::move(templates)) {}

  absl::StatusOr<SuccessPlan> CreatePlan(const db::WriteKey& key,
                                         const db::ResultCodec<SuccessPlan>& codec,
                                         const SuccessPlan& plan, absl::Time now) override;
  absl::StatusOr<SuccessPlan> GetPlan(const std::string& plan_id) override;
  absl::StatusOr<PlanPage> ListPlans(const PlanFilter& filter) override;
  absl::StatusOr<SuccessPlan> UpdatePlan(const db::WriteKey& key,
                                         const db::ResultCodec<SuccessPlan>& codec,
                                         const SuccessPlan& plan, absl::Time now) override;
  absl::StatusOr<SuccessPlan> CompleteMilestone(const db::WriteKey& key,
                                                const db::ResultCodec<SuccessPlan>& codec,
                                                const std::string& plan_id,
                                                const std::string& milestone_id,
                                                absl::Time now) override;

  absl::StatusOr<PlanTemplate> CreateTemplate(const db::WriteKey& key,
                                              const db::ResultCodec<PlanTemplate>& codec,
                                              const PlanTemplate& t, absl::Time now) override;
  absl::StatusOr<PlanTemplate> GetTemplate(const std::string& template_id) override;
  absl::StatusOr<std::vector<PlanTemplate>> ListTemplates(const std::string& tier,
                                                          const std::string& industry) override;
  absl::Status EnsureTemplates(const std::vector<PlanTemplate>& templates,
                               absl::Time now) override;

  absl::StatusOr<int> AlertOverdueMilestones(absl::Time now, int limit) override;

  absl::StatusOr<int64_t> Cursor(const std::string& consumer) override;
  absl::StatusOr<int> ApplyScoreEvents(const std::string& consumer,
                                       const std::vector<HealthEvent>& events,
                                       absl::Time now) override;
  absl::StatusOr<std::vector<CriterionCheck>> ClaimCriteriaChecks(absl::Time now,
                                                                  absl::Duration lease,
                                                                  int limit) override;
  absl::Status RecordCriteriaChecks(const std::vector<CriterionResult>& results, absl::Time now,
                                    absl::Time next_check) override;

  absl::StatusOr<std::optional<std::string>> PlanReviewedBy(const std::string& account_id,
                                                            absl::Time task_created_at,
                                                            absl::Time task_due_at) override;

 private:
  db::Pool* pool_;
  const Clock* clock_;
  TaskEventCodec events_;
  db::ResultCodec<PlanTemplate> templates_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_MYSQL_SUCCESS_PLAN_REPOSITORY_H_
