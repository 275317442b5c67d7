#ifndef CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_REPOSITORY_H_
#define CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/idempotency.h"
#include "services/playbooks/peers.h"
#include "services/playbooks/success_plan.h"

namespace cs::playbooks {

struct PlanFilter {
  std::string account_id;
  std::string owner_id;
  std::optional<PlanStatus> status;
  int page_size = 50;
  std::string after;  // the last plan_id of the previous page
};

struct PlanPage {
  std::vector<SuccessPlan> plans;
  std::string next;  // empty on the last page
};

// One criterion whose automatic check is due, leased to the caller.
struct CriterionCheck {
  std::string plan_id;
  std::string account_id;
  Criterion criterion;
};

// What a check found: the value, or nullopt when health had none for it.
struct CriterionResult {
  std::string plan_id;
  std::string criterion_id;
  std::optional<double> value;
};

class SuccessPlanRepository {
 public:
  virtual ~SuccessPlanRepository() = default;

  // ALREADY_EXISTS when the plan id is taken.
  virtual absl::StatusOr<SuccessPlan> CreatePlan(const db::WriteKey& key,
                                                 const db::ResultCodec<SuccessPlan>& codec,
                                                 const SuccessPlan& plan, absl::Time now) = 0;
  virtual absl::StatusOr<SuccessPlan> GetPlan(const std::string& plan_id) = 0;
  virtual absl::StatusOr<PlanPage> ListPlans(const PlanFilter& filter) = 0;
  // NOT_FOUND; ABORTED when plan.version is not the current one.
  virtual absl::StatusOr<SuccessPlan> UpdatePlan(const db::WriteKey& key,
                                                 const db::ResultCodec<SuccessPlan>& codec,
                                                 const SuccessPlan& plan, absl::Time now) = 0;
  // NOT_FOUND; FAILED_PRECONDITION for a cancelled milestone or a plan that is
  // not active. Completing a completed milestone returns the plan unchanged.
  virtual absl::StatusOr<SuccessPlan> CompleteMilestone(const db::WriteKey& key,
                                                        const db::ResultCodec<SuccessPlan>& codec,
                                                        const std::string& plan_id,
                                                        const std::string& milestone_id,
                                                        absl::Time now) = 0;

  // Templates. Create: ALREADY_EXISTS when the id is taken.
  virtual absl::StatusOr<PlanTemplate> CreateTemplate(const db::WriteKey& key,
                                                      const db::ResultCodec<PlanTemplate>& codec,
                                                      const PlanTemplate& t, absl::Time now) = 0;
  virtual absl::StatusOr<PlanTemplate> GetTemplate(const std::string& template_id) = 0;
  // tier "" = all; industry "" = every industry, otherwise it and any-industry ones.
  virtual absl::StatusOr<std::vector<PlanTemplate>> ListTemplates(const std::string& tier,
                                                                  const std::string& industry) = 0;
  // Creates each template whose id does not exist yet (never touches existing ones).
  virtual absl::Status EnsureTemplates(const std::vector<PlanTemplate>& templates,
                                       absl::Time now) = 0;

  // Milestones of active plans past their due time with no alert sent yet: each
  // gets one MILESTONE_OVERDUE event on the outbox, in the transaction that marks
  // it alerted. Rows are claimed with SKIP LOCKED, so replicas never both alert.
  virtual absl::StatusOr<int> AlertOverdueMilestones(absl::Time now, int limit) = 0;

  // The success-plan consumer of health's stream: SCORE_CHANGED and BAND_CHANGED
  // events bring the account's pending criteria checks forward to `now`; the
  // cursor moves in the same transaction (claimed with SKIP LOCKED: 0 when
  // another replica holds it). Returns the events consumed.
  virtual absl::StatusOr<int64_t> Cursor(const std::string& consumer) = 0;
  virtual absl::StatusOr<int> ApplyScoreEvents(const std::string& consumer,
                                               const std::vector<HealthEvent>& events,
                                               absl::Time now) = 0;

  // Criteria checks due at `now`, leased until now + lease so that other replicas
  // skip them while the caller asks health.
  virtual absl::StatusOr<std::vector<CriterionCheck>> ClaimCriteriaChecks(absl::Time now,
                                                                          absl::Duration lease,
                                                                          int limit) = 0;
  // Stores what the checks found: a value meeting the target marks the criterion
  // met (for good); otherwise the next check is due at `next_check`.
  virtual absl::Status RecordCriteriaChecks(const std::vector<CriterionResult>& results,
                                            absl::Time now, absl::Time next_check) = 0;

  // The plan a QBR task of the account reviews: the newest plan started by the
  // task's due time that was still active when the task was created (or is).
  virtual absl::StatusOr<std::optional<std::string>> PlanReviewedBy(const std::string& account_id,
                                                                    absl::Time task_created_at,
                                                                    absl::Time task_due_at) = 0;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_REPOSITORY_H_
