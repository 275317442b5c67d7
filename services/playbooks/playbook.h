#ifndef CS_SERVICES_PLAYBOOKS_PLAYBOOK_H_
#define CS_SERVICES_PLAYBOOKS_PLAYBOOK_H_

// Playbook definitions, runs, tasks and escalations as plain values, and the pure
// rules over them (validation, assignees, escalation steps, cadence dates,
// hold-out draws, lift). No proto, gRPC or SQL types.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/playbooks/escalation.h"

namespace cs::playbooks {

// Values match cs.playbooks.v1.TriggerKind.
enum class TriggerKind {
  kUnspecified = 0,
  kBandEntered = 1,
  kAlertOpened = 2,
  kAccountCreated = 3,
  kRenewalDue = 4,
  kAccountChurned = 5,
  kCadence = 6,
  kManual = 7,
};

// Values match cs.playbooks.v1.StepKind.
enum class StepKind {
  kUnspecified = 0,
  kCall = 1,
  kEmail = 2,
  kMeeting = 3,
  kQbr = 4,
  kSurvey = 5,
  kInternalTask = 6,
  kEscalation = 7,
};

// Values match cs.playbooks.v1.RunState.
enum class RunState { kUnspecified = 0, kActive = 1, kSucceeded = 2, kFailed = 3, kCancelled = 4 };

// Values match cs.playbooks.v1.TaskStatus.
enum class TaskStatus { kUnspecified = 0, kOpen = 1, kSnoozed = 2, kCompleted = 3, kCancelled = 4 };

absl::string_view TriggerKindName(TriggerKind k);
std::optional<TriggerKind> TriggerKindFromName(absl::string_view name);
absl::string_view StepKindName(StepKind k);
std::optional<StepKind> StepKindFromName(absl::string_view name);
absl::string_view RunStateName(RunState s);
std::optional<RunState> RunStateFromName(absl::string_view name);
absl::string_view TaskStatusName(TaskStatus s);
std::optional<TaskStatus> TaskStatusFromName(absl::string_view name);

// Tiers, industries, bands and alert kinds travel as the health service's names
// without their prefix ("ENTERPRISE", "SAAS", "RED", "USAGE_DECLINE").
bool IsTierName(absl::string_view name);
bool IsIndustryName(absl::string_view name);
bool IsBandName(absl::string_view name);
bool IsAlertKindName(absl::string_view name);

struct Trigger {
  TriggerKind kind = TriggerKind::kUnspecified;
  std::string band;        // kBandEntered
  std::string alert_kind;  // kAlertOpened
  int renewal_days_before = 0;
  int cadence_months = 0;
  bool operator==(const Trigger&) const = default;
};

struct Step {
  std::string title;
  StepKind kind = StepKind::kUnspecified;
  absl::Duration due_offset;
  Role role = Role::kUnspecified;
  // How long past its due time the task may stay open before it escalates one
  // level (and then again after each further `sla`); zero: never escalates.
  absl::Duration sla;
  bool operator==(const Step&) const = default;
};

struct ExitCriteria {
  int green_days = 0;
  bool fail_on_churn = false;
  bool operator==(const ExitCriteria&) const = default;
};

struct Playbook {
  std::string playbook_id;
  int version = 0;
  std::string name;
  std::string description;
  Trigger trigger;
  std::vector<std::string> tiers;
  std::vector<std::string> industries;
  std::vector<Step> steps;
  ExitCriteria exit;
  int holdout_percent = 0;
  std::string escalation_chain_id;  // empty: "default"
  bool disabled = false;
  absl::Time updated_at;
};

inline constexpr int kMaxSteps = 50;
inline constexpr int kMaxHoldoutPercent = 50;
inline constexpr absl::Duration kMaxDueOffset = absl::Hours(24 * 366);

// A free text of at most `max` bytes; INVALID_ARGUMENT naming `field`.
absl::Status ValidateText(absl::string_view field, const std::string& text, size_t max,
                          bool required);

// Errors name the field ("playbook.steps[2].due_offset: must not be negative").
absl::Status ValidatePlaybook(const Playbook& playbook);

// DOMAIN §3's playbooks: RED emergency, YELLOW recovery, GREEN expansion planning,
// onboarding per tier, renewal, win-back and the per-tier engagement cadences.
std::vector<Playbook> DefaultPlaybooks();

// What the service knows of an account (from health's events and GetAccount).
struct AccountProfile {
  std::string account_id;
  std::string tier;
  std::string industry;
  std::string owner_id;
  std::string lifecycle;  // ONBOARDING, ADOPTING, RENEWING, CHURNED
  std::optional<absl::CivilDay> contract_start;
  std::optional<absl::CivilDay> renewal_date;

  bool operator==(const AccountProfile&) const = default;
};

// Does the playbook cover an account of this tier and industry?
bool Applies(const Playbook& playbook, absl::string_view tier, absl::string_view industry);

struct Run {
  std::string run_id;
  std::string playbook_id;
  int playbook_version = 0;
  std::string account_id;
  RunState state = RunState::kUnspecified;
  std::string tier;
  std::string owner_id;
  std::string trigger_key;
  absl::Time triggered_at;
  int trigger_count = 0;
  absl::Time last_triggered_at;
  std::optional<absl::Time> ended_at;
  std::string end_reason;
};

struct Task {
  std::string task_id;
  std::string run_id;
  std::string playbook_id;
  std::string account_id;
  int step_index = 0;
  std::string title;
  StepKind kind = StepKind::kUnspecified;
  Role role = Role::kUnspecified;
  std::string assignee_id;
  TaskStatus status = TaskStatus::kUnspecified;
  absl::Time due_at;
  std::optional<absl::Time> escalate_at;
  int escalation_level = 0;
  absl::Time created_at;
  std::optional<absl::Time> completed_at;
  std::string outcome;
  std::string note;
  bool sla_met = false;
  std::optional<absl::Time> snoozed_until;
  // Kept for escalation: the step's SLA, the chain it climbs and the account's tier.
  absl::Duration sla;
  std::string escalation_chain_id;
  std::string tier;
};

struct Escalation {
  std::string task_id;
  int level = 0;
  std::string from_assignee_id;
  std::string to_assignee_id;
  Role to_role = Role::kUnspecified;
  std::string reason;
  absl::Time escalated_at;
  std::string account_id;
};

// Values match cs.playbooks.v1.TaskEventKind.
enum class TaskEventKind {
  kUnspecified = 0,
  kCreated = 1,
  kCompleted = 2,
  kSnoozed = 3,
  kReassigned = 4,
  kEscalated = 5,
  kCancelled = 6,
  kMilestoneOverdue = 7,
};
absl::string_view TaskEventKindName(TaskEventKind k);
std::optional<TaskEventKind> TaskEventKindFromName(absl::string_view name);

// A success plan milestone that passed its due time uncompleted (success_plan.h).
struct MilestoneAlert {
  std::string plan_id;
  std::string account_id;
  std::string objective_id;
  std::string milestone_id;
  std::string title;
  std::string owner_id;
  absl::Time due_at;
};

// One entry of the playbooks outbox.
struct TaskEvent {
  int64_t sequence = 0;
  TaskEventKind kind = TaskEventKind::kUnspecified;
  absl::Time occurred_at;
  Task task;
  std::optional<Escalation> escalation;
  // For kMilestoneOverdue (then `task` is empty).
  std::optional<MilestoneAlert> milestone = std::nullopt;
};

// The assignee for `role` on an account owned by `owner_id`: a CSM step goes to
// the owner; other roles to the chain's person for the role; otherwise the role's
// queue "role:<ROLE>". Automated steps go to "automated".
std::string ResolveAssignee(Role role, const std::string& owner_id, const EscalationChain& chain);

// The chain level a task holding `role` climbs to, or nullopt at the top (or for
// automated work). A role outside the chain climbs to the level above the CSM's.
std::optional<int> NextEscalationLevel(const EscalationChain& chain, Role role);

// The i-th touchpoint date (i >= 1) of a cadence every `months` months from
// `anchor`; a day past the month's end falls on its last day.
absl::CivilDay CadenceDate(absl::CivilDay anchor, int months, int i);

// A deterministic draw in [0, 1) per playbook and account: the same account always
// lands in the same arm, on every replica and every replay.
double HoldoutDraw(absl::string_view playbook_id, absl::string_view account_id);

// Median of the values (0 for none).
double Median(std::vector<double> values);

// Difference of two proportions a/n - b/m and its 95 % interval (normal
// approximation); zeros when either group is empty.
struct Difference {
  double estimate = 0;
  double low = 0;
  double high = 0;
};
Difference ProportionDifference(int64_t a, int64_t n, int64_t b, int64_t m);

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_PLAYBOOK_H_
