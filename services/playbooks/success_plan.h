#ifndef CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_H_
#define CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_H_

// Success plans as plain values and the pure rules over them: validation naming
// the field, ids, progress, criteria checks against a health reading, templates
// and their instantiation. No proto, gRPC or SQL types.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/money.h"

namespace cs::playbooks {

// Values match cs.playbooks.v1.SuccessPlanStatus.
enum class PlanStatus { kUnspecified = 0, kActive = 1, kCompleted = 2, kCancelled = 3 };
// Values match cs.playbooks.v1.MilestoneStatus.
enum class MilestoneStatus {
  kUnspecified = 0,
  kPlanned = 1,
  kInProgress = 2,
  kCompleted = 3,
  kCancelled = 4,
};
// Values match cs.playbooks.v1.CriterionSource.
enum class CriterionSource {
  kUnspecified = 0,
  kHealthScore = 1,
  kComponent = 2,
  kMeasure = 3,
  kManual = 4,
};
// Values match cs.playbooks.v1.Comparison.
enum class Comparison { kUnspecified = 0, kAtLeast = 1, kAtMost = 2 };

absl::string_view PlanStatusName(PlanStatus s);
std::optional<PlanStatus> PlanStatusFromName(absl::string_view name);
absl::string_view MilestoneStatusName(MilestoneStatus s);
std::optional<MilestoneStatus> MilestoneStatusFromName(absl::string_view name);
absl::string_view CriterionSourceName(CriterionSource s);
std::optional<CriterionSource> CriterionSourceFromName(absl::string_view name);
absl::string_view ComparisonName(Comparison c);
std::optional<Comparison> ComparisonFromName(absl::string_view name);

struct Milestone {
  std::string milestone_id;
  std::string title;
  absl::Time due_at;
  std::string owner_id;  // empty: the plan's owner
  MilestoneStatus status = MilestoneStatus::kUnspecified;
  std::optional<absl::Time> completed_at;
  std::optional<absl::Time> alerted_at;
};

struct Criterion {
  std::string criterion_id;
  std::string description;
  CriterionSource source = CriterionSource::kUnspecified;
  std::string name;  // component ("FEATURE_ADOPTION") or measure ("logins_per_week")
  Comparison comparison = Comparison::kUnspecified;
  double target = 0;
  bool met = false;
  std::optional<absl::Time> met_at;
  double last_value = 0;
  std::optional<absl::Time> last_checked_at;
};

struct Objective {
  std::string objective_id;
  std::string title;
  std::string description;
  std::vector<Milestone> milestones;
  std::vector<Criterion> criteria;
};

struct SuccessPlan {
  std::string plan_id;
  std::string account_id;
  std::string title;
  std::string owner_id;
  PlanStatus status = PlanStatus::kUnspecified;
  std::string template_id;
  std::vector<Objective> objectives;
  std::optional<Money> roi_amount;
  std::string roi_description;
  int64_t version = 0;
  absl::Time starts_at = absl::InfinitePast();  // InfinitePast: unset
  absl::Time created_at;
  absl::Time updated_at;
};

inline constexpr int kMaxObjectives = 20;
inline constexpr int kMaxPlanItems = 50;  // milestones or criteria per objective
inline constexpr int kMaxTemplateDueDays = 730;

// Errors name the field ("plan.objectives[1].milestones[0].due_at: must be set").
// Ids may be empty (AssignPlanIds fills them); set ones must be unique in the plan.
absl::Status ValidatePlan(const SuccessPlan& plan);

// Fills empty ids by position ("o2", "o2-m1", "o2-c3"), skipping ids already taken.
void AssignPlanIds(SuccessPlan* plan);

// Carries into `next` (an update of `current`; an empty plan for a new one) what
// the service owns, by id: a milestone keeps its overdue alert while its due time
// is unchanged and its completion time while it stays completed (a newly
// completed one is completed `now`); an automatic criterion keeps its result while
// its definition is unchanged and starts unmet otherwise (what the client sent is
// ignored); a manual criterion is met when the client says so, since `now`.
void CarryServerState(const SuccessPlan& current, SuccessPlan* next, absl::Time now);

// A milestone is overdue once its due time has passed while it is neither
// completed nor cancelled.
bool IsOverdue(const Milestone& m, absl::Time now);

// Every criterion met; an objective without criteria is achieved when all its
// milestones that are not cancelled are completed (and it has at least one).
bool IsAchieved(const Objective& o);

struct PlanProgress {
  int objectives = 0;
  int objectives_achieved = 0;
  int milestones = 0;  // not cancelled
  int milestones_completed = 0;
  int milestones_met_on_time = 0;
  int milestones_overdue = 0;
  double on_time_share = 0;
  int criteria = 0;
  int criteria_met = 0;
};

// on_time_share = met on time / decided, where a milestone is decided once it is
// completed or its due time has passed (an open milestone not yet due could still
// be met on time, so it counts for neither side).
PlanProgress ComputeProgress(const SuccessPlan& plan, absl::Time now);

// What an automatic check reads from the health service for one account.
struct HealthReading {
  double score = 0;
  bool has_score = false;
  // Component name ("PRODUCT_USAGE") -> normalised 0-100, and measure name
  // ("logins_per_week") -> raw value; components without data are absent.
  std::map<std::string, double> components;
  std::map<std::string, double> measures;
};

// The criterion's value in the reading, or nullopt when health has none.
std::optional<double> CriterionValue(const Criterion& c, const HealthReading& reading);
bool MeetsTarget(const Criterion& c, double value);

// Templates.
struct MilestoneTemplate {
  std::string title;
  int due_after_days = 0;
};
struct ObjectiveTemplate {
  std::string title;
  std::string description;
  std::vector<MilestoneTemplate> milestones;
  std::vector<Criterion> criteria;  // definitions only
};
struct PlanTemplate {
  std::string template_id;
  std::string name;
  std::string tier;      // "ENTERPRISE", ...
  std::string industry;  // "" = any
  std::vector<ObjectiveTemplate> objectives;
  absl::Time created_at;
};

absl::Status ValidateTemplate(const PlanTemplate& t);

// Copies the template's objectives into `plan`, milestones due at
// plan->starts_at + due_after_days, every milestone PLANNED and criteria unmet.
void Instantiate(const PlanTemplate& t, SuccessPlan* plan);

// DOMAIN's defaults, one per tier (any industry): the onboarding milestones of
// seed 002 (setup, first quick win, time-to-first-value target per tier, success
// review, ROI review at 90 days), health above 80 (000) and feature adoption at
// the tier's target (80/70/60/50 %, 001).
std::vector<PlanTemplate> DefaultPlanTemplates();

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_H_
