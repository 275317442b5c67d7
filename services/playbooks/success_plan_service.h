#ifndef CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_SERVICE_H_
#define CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_SERVICE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/db/idempotency.h"
#include "services/playbooks/peers.h"
#include "services/playbooks/playbook.h"
#include "services/playbooks/success_plan.h"
#include "services/playbooks/success_plan_repository.h"

namespace cs::playbooks {

// The health service's current standing of an account, for criteria checks
// (GetHealth; the gRPC side is success_plan_health_client.h).
class HealthReader {
 public:
  virtual ~HealthReader() = default;
  // NOT_FOUND when health has no score for the account; UNAVAILABLE while it is down.
  virtual absl::StatusOr<HealthReading> ReadHealth(const std::string& account_id) = 0;
};

// The rules of success plans: validation naming the field, defaults, template
// instantiation, then the repository; and the background rounds (overdue
// milestone alerts, criteria checks driven by health's score events).
class SuccessPlanService {
 public:
  struct Options {
    // How often an unmet automatic criterion is checked without a score event.
    absl::Duration check_interval = absl::Hours(6);
    // How long a claimed check is left to the replica that claimed it.
    absl::Duration check_lease = absl::Minutes(1);
    int batch = 200;
    // Health events read per call of ConsumeHealthEvents.
    int consume_page_size = 500;
  };

  SuccessPlanService(SuccessPlanRepository* repository, HealthFeed* feed, HealthReader* reader,
                     const Clock* clock, Options options)
      : repository_(repository), feed_(feed), reader_(reader), clock_(clock), options_(options) {}

  // An empty plan id becomes "sp-<hash of account and request id>"; an unset status
  // ACTIVE, an unset milestone status PLANNED, an unset starts_at now. With a
  // template id the objectives come from the template (plan.objectives must be empty).
  absl::StatusOr<SuccessPlan> CreatePlan(const db::WriteKey& key,
                                         const db::ResultCodec<SuccessPlan>& codec,
                                         SuccessPlan plan, const std::string& template_id);
  absl::StatusOr<SuccessPlan> GetPlan(const std::string& plan_id);
  absl::StatusOr<PlanPage> ListPlans(const PlanFilter& filter);
  absl::StatusOr<SuccessPlan> UpdatePlan(const db::WriteKey& key,
                                         const db::ResultCodec<SuccessPlan>& codec,
                                         SuccessPlan plan);
  absl::StatusOr<SuccessPlan> CompleteMilestone(const db::WriteKey& key,
                                                const db::ResultCodec<SuccessPlan>& codec,
                                                const std::string& plan_id,
                                                const std::string& milestone_id);

  absl::StatusOr<PlanTemplate> CreateTemplate(const db::WriteKey& key,
                                              const db::ResultCodec<PlanTemplate>& codec,
                                              const PlanTemplate& t);
  absl::StatusOr<std::vector<PlanTemplate>> ListTemplates(const std::string& tier,
                                                          const std::string& industry);
  absl::Status EnsureDefaultTemplates();

  // The plan a QBR task reviews (nullopt for other tasks, or when the account has none).
  absl::StatusOr<std::optional<std::string>> PlanReviewedBy(const Task& task);

  // The service's clock (progress and overdue flags are reported as of now).
  absl::Time Now() const { return clock_->Now(); }

  // One round of the success-plan consumer of health's stream. Returns the events consumed.
  // One page of at most `page_size` events (0: Options::consume_page_size).
  absl::StatusOr<int> ConsumeHealthEvents(int page_size = 0);
  // One round of the sweeper: overdue milestone alerts, then due criteria checks.
  // Returns the work done.
  absl::StatusOr<int> Sweep();

 private:
  absl::StatusOr<int> CheckCriteria(absl::Time now);

  SuccessPlanRepository* repository_;
  HealthFeed* feed_;
  HealthReader* reader_;
  const Clock* clock_;
  Options options_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_SERVICE_H_
