#include "services/playbooks/playbook.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/enum_names.h"
#include "common/hash.h"
#include "common/status.h"
#include "common/validation.h"

namespace cs::playbooks {
namespace {

constexpr EnumNames<TriggerKind, 8> kTriggerKinds({{
    {TriggerKind::kUnspecified, "UNSPECIFIED"},
    {TriggerKind::kBandEntered, "BAND_ENTERED"},
    {TriggerKind::kAlertOpened, "ALERT_OPENED"},
    {TriggerKind::kAccountCreated, "ACCOUNT_CREATED"},
    {TriggerKind::kRenewalDue, "RENEWAL_DUE"},
    {TriggerKind::kAccountChurned, "ACCOUNT_CHURNED"},
    {TriggerKind::kCadence, "CADENCE"},
    {TriggerKind::kManual, "MANUAL"},
}});

constexpr EnumNames<StepKind, 8> kStepKinds({{
    {StepKind::kUnspecified, "UNSPECIFIED"},
    {StepKind::kCall, "CALL"},
    {StepKind::kEmail, "EMAIL"},
    {StepKind::kMeeting, "MEETING"},
    {StepKind::kQbr, "QBR"},
    {StepKind::kSurvey, "SURVEY"},
    {StepKind::kInternalTask, "INTERNAL_TASK"},
    {StepKind::kEscalation, "ESCALATION"},
}});

constexpr EnumNames<RunState, 5> kRunStates({{
    {RunState::kUnspecified, "UNSPECIFIED"},
    {RunState::kActive, "ACTIVE"},
    {RunState::kSucceeded, "SUCCEEDED"},
    {RunState::kFailed, "FAILED"},
    {RunState::kCancelled, "CANCELLED"},
}});

constexpr EnumNames<TaskStatus, 5> kTaskStatuses({{
    {TaskStatus::kUnspecified, "UNSPECIFIED"},
    {TaskStatus::kOpen, "OPEN"},
    {TaskStatus::kSnoozed, "SNOOZED"},
    {TaskStatus::kCompleted, "COMPLETED"},
    {TaskStatus::kCancelled, "CANCELLED"},
}});

constexpr EnumNames<TaskEventKind, 8> kTaskEventKinds({{
    {TaskEventKind::kUnspecified, "UNSPECIFIED"},
    {TaskEventKind::kCreated, "TASK_CREATED"},
    {TaskEventKind::kCompleted, "TASK_COMPLETED"},
    {TaskEventKind::kSnoozed, "TASK_SNOOZED"},
    {TaskEventKind::kReassigned, "TASK_REASSIGNED"},
    {TaskEventKind::kEscalated, "TASK_ESCALATED"},
    {TaskEventKind::kCancelled, "TASK_CANCELLED"},
    {TaskEventKind::kMilestoneOverdue, "MILESTONE_OVERDUE"},
}});

constexpr absl::string_view kTiers[] = {"ENTERPRISE", "MID_MARKET", "SMB", "SOLO"};
constexpr absl::string_view kIndustries[] = {"HEALTHCARE", "FINANCIAL_SERVICES", "ECOMMERCE",
                                             "PROFESSIONAL_SERVICES", "SAAS", "OTHER"};
constexpr absl::string_view kBands[] = {"GREEN", "YELLOW", "RED"};
constexpr absl::string_view kAlertKinds[] = {
    "USAGE_DECLINE",           "ENGAGEMENT_DROP", "TICKET_SURGE",
    "PAYMENT_FAILURE",         "FEATURE_ABANDONMENT", "COMMUNICATION_BREAKDOWN",
    "BAND_WORSENED",           "SCORE_BELOW_THRESHOLD"};

template <size_t N>
bool In(const absl::string_view (&names)[N], absl::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status ValidateTrigger(const Trigger& t) {
  switch (t.kind) {
    case TriggerKind::kBandEntered:
      if (!IsBandName(t.band)) return Invalid("playbook.trigger.band", "must be GREEN, YELLOW or RED");
      break;
    case TriggerKind::kAlertOpened:
      if (!IsAlertKindName(t.alert_kind)) {
        return Invalid("playbook.trigger.alert_kind", absl::StrCat("unknown alert kind '", t.alert_kind, "'"));
      }
      break;
    case TriggerKind::kRenewalDue:
      if (t.renewal_days_before < 1 || t.renewal_days_before > 365) {
        return Invalid("playbook.trigger.renewal_days_before", "must be in 1-365");
      }
      break;
    case TriggerKind::kCadence:
      if (t.cadence_months < 1 || t.cadence_months > 24) {
        return Invalid("playbook.trigger.cadence_months", "must be in 1-24");
      }
      break;
    case TriggerKind::kAccountCreated:
    case TriggerKind::kAccountChurned:
    case TriggerKind::kManual:
      break;
    default:
      return Invalid("playbook.trigger.kind", "must be set");
  }
  return absl::OkStatus();
}

Step MakeStep(std::string title, StepKind kind, absl::Duration due, Role role, absl::Duration sla) {
  return Step{std::move(title), kind, due, role, sla};
}

absl::Duration Days(int n) { return absl::Hours(24 * n); }

Trigger MakeTrigger(TriggerKind kind, std::string band = "") {
  Trigger t;
  t.kind = kind;
  t.band = std::move(band);
  return t;
}

Playbook Make(std::string id, std::string name, std::string description, Trigger trigger,
              std::vector<std::string> tiers, std::vector<Step> steps, ExitCriteria exit) {
  Playbook p;
  p.playbook_id = std::move(id);
  p.name = std::move(name);
  p.description = std::move(description);
  p.trigger = std::move(trigger);
  p.tiers = std::move(tiers);
  p.steps = std::move(steps);
  p.exit = exit;
  return p;
}

// DOMAIN §1 milestones (days since start) and what each is for.
struct Milestone {
  int day;
  const char* title;
};
constexpr Milestone kMilestones[] = {
    {0, "Welcome and setup"},         {1, "Product tour"},
    {3, "First quick win"},           {7, "Progress check"},
    {14, "Advanced features"},        {30, "Success review"},
    {60, "Advanced training"},        {90, "Success celebration and expansion"},
};

Playbook Onboarding(const std::string& tier, int last_day, bool automated) {
  std::vector<Step> steps;
  for (const Milestone& m : kMilestones) {
    if (m.day > last_day) break;
    steps.push_back(MakeStep(absl::StrCat("Onboarding day ", m.day, ": ", m.title),
                             automated ? StepKind::kEmail : StepKind::kMeeting, Days(m.day),
                             automated ? Role::kAutomated : Role::kCsm,
                             automated ? absl::ZeroDuration() : Days(2)));
  }
  std::string id = tier;
  std::transform(id.begin(), id.end(), id.begin(), [](char c) { return c == '_' ? '-' : std::tolower(c); });
  return Make(absl::StrCat("onboarding-", id), absl::StrCat("Onboarding (", tier, ")"),
              absl::StrCat("DOMAIN §1 milestones up to day ", last_day,
                           ", the tier's onboarding length"),
              MakeTrigger(TriggerKind::kAccountCreated), {tier}, std::move(steps), {0, true});
}

Playbook Cadence(std::string id, std::string name, const std::string& tier, int months,
                 std::vector<Step> steps) {
  Trigger t;
  t.kind = TriggerKind::kCadence;
  t.cadence_months = months;
  return Make(std::move(id), std::move(name), "DOMAIN §1 engagement cadence", t, {tier},
              std::move(steps), {0, false});
}

}  // namespace

absl::string_view TriggerKindName(TriggerKind k) { return kTriggerKinds.Name(k); }
std::optional<TriggerKind> TriggerKindFromName(absl::string_view n) { return kTriggerKinds.Parse(n); }
absl::string_view StepKindName(StepKind k) { return kStepKinds.Name(k); }
std::optional<StepKind> StepKindFromName(absl::string_view n) { return kStepKinds.Parse(n); }
absl::string_view RunStateName(RunState s) { return kRunStates.Name(s); }
std::optional<RunState> RunStateFromName(absl::string_view n) { return kRunStates.Parse(n); }
absl::string_view TaskStatusName(TaskStatus s) { return kTaskStatuses.Name(s); }
std::optional<TaskStatus> TaskStatusFromName(absl::string_view n) { return kTaskStatuses.Parse(n); }
absl::string_view TaskEventKindName(TaskEventKind k) { return kTaskEventKinds.Name(k); }
std::optional<TaskEventKind> TaskEventKindFromName(absl::string_view n) {
  return kTaskEventKinds.Parse(n);
}

bool IsTierName(absl::string_view name) { return In(kTiers, name); }
bool IsIndustryName(absl::string_view name) { return In(kIndustries, name); }
bool IsBandName(absl::string_view name) { return In(kBands, name); }
bool IsAlertKindName(absl::string_view name) { return In(kAlertKinds, name); }

absl::Status ValidateText(absl::string_view field, const std::string& text, size_t max,
                          bool required) {
  if (required && text.empty()) return Invalid(field, "must not be empty");
  if (text.size() > max) return Invalid(field, absl::StrCat("longer than ", max, " characters"));
  return absl::OkStatus();
}

absl::Status ValidatePlaybook(const Playbook& p) {
  RETURN_IF_ERROR(ValidateId("playbook.playbook_id", p.playbook_id));
  RETURN_IF_ERROR(ValidateText("playbook.name", p.name, 200, /*required=*/true));
  RETURN_IF_ERROR(ValidateText("playbook.description", p.description, 2000, /*required=*/false));
  RETURN_IF_ERROR(ValidateTrigger(p.trigger));
  for (size_t i = 0; i < p.tiers.size(); ++i) {
    if (!IsTierName(p.tiers[i])) {
      return Invalid(absl::StrCat("playbook.tiers[", i, "]"), "unknown tier");
    }
  }
  for (size_t i = 0; i < p.industries.size(); ++i) {
    if (!IsIndustryName(p.industries[i])) {
      return Invalid(absl::StrCat("playbook.industries[", i, "]"), "unknown industry");
    }
  }
  if (p.steps.empty()) return Invalid("playbook.steps", "at least one step is required");
  if (p.steps.size() > kMaxSteps) {
    return Invalid("playbook.steps", absl::StrCat("at most ", kMaxSteps, " steps"));
  }
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const Step& s = p.steps[i];
    const std::string field = absl::StrCat("playbook.steps[", i, "]");
    RETURN_IF_ERROR(ValidateText(absl::StrCat(field, ".title"), s.title, 200, /*required=*/true));
    if (s.kind == StepKind::kUnspecified) return Invalid(absl::StrCat(field, ".kind"), "must be set");
    if (s.due_offset < absl::ZeroDuration()) {
      return Invalid(absl::StrCat(field, ".due_offset"), "must not be negative");
    }
    if (s.due_offset > kMaxDueOffset) {
      return Invalid(absl::StrCat(field, ".due_offset"), "at most 366 days");
    }
    if (s.role == Role::kUnspecified) return Invalid(absl::StrCat(field, ".role"), "must be set");
    if (s.sla < absl::ZeroDuration()) {
      return Invalid(absl::StrCat(field, ".sla"), "must not be negative");
    }
    if (s.sla > kMaxDueOffset) return Invalid(absl::StrCat(field, ".sla"), "at most 366 days");
    // Seconds are allowed (drills and tests watch a task climb live); less would
    // escalate faster than the sweeper runs.
    if (s.sla > absl::ZeroDuration() && s.sla < absl::Seconds(1)) {
      return Invalid(absl::StrCat(field, ".sla"), "at least one second when set");
    }
  }
  if (p.exit.green_days < 0 || p.exit.green_days > 365) {
    return Invalid("playbook.exit_criteria.green_days", "must be in 0-365");
  }
  if (p.holdout_percent < 0 || p.holdout_percent > kMaxHoldoutPercent) {
    return Invalid("playbook.holdout_percent", absl::StrCat("must be in 0-", kMaxHoldoutPercent));
  }
  RETURN_IF_ERROR(ValidateId("playbook.escalation_chain_id", p.escalation_chain_id,
                             /*required=*/false));
  return absl::OkStatus();
}

std::vector<Playbook> DefaultPlaybooks() {
  std::vector<Playbook> out;
  const Trigger red = MakeTrigger(TriggerKind::kBandEntered, "RED");
  out.push_back(Make(
      "red-emergency-response", "RED emergency response",
      "DOMAIN §3 high risk: executive escalation within 24 h, critical-issue resolution, value "
      "recovery, strategic review, retention specialist",
      red, {},
      {MakeStep("Executive escalation with the customer's sponsor", StepKind::kEscalation,
                absl::ZeroDuration(), Role::kCsm, absl::Hours(24)),
       MakeStep("Critical-issue resolution plan", StepKind::kInternalTask, Days(3),
                Role::kRetentionSpecialist, Days(1)),
       MakeStep("Value recovery: re-demonstrate ROI", StepKind::kMeeting, Days(7), Role::kCsm,
                Days(2)),
       MakeStep("Strategic review", StepKind::kMeeting, Days(14), Role::kCsManager, Days(3))},
      {14, true}));
  const Trigger yellow = MakeTrigger(TriggerKind::kBandEntered, "YELLOW");
  out.push_back(Make(
      "yellow-recovery", "YELLOW recovery",
      "DOMAIN §3 medium risk: CSM intervention within 48 h, root cause, recovery plan, enhanced "
      "support; VP engagement when not recovered in 30 days",
      yellow, {},
      {MakeStep("CSM intervention call", StepKind::kCall, absl::ZeroDuration(), Role::kCsm,
                absl::Hours(48)),
       MakeStep("Root-cause analysis", StepKind::kInternalTask, Days(5), Role::kCsm, Days(2)),
       MakeStep("Recovery plan with milestones", StepKind::kMeeting, Days(7), Role::kCsm, Days(2)),
       MakeStep("Enhanced support and training", StepKind::kMeeting, Days(14), Role::kCsm,
                Days(3)),
       MakeStep("VP engagement: not recovered yet", StepKind::kEscalation, Days(30),
                Role::kVpCustomerSuccess, Days(3))},
      {14, true}));
  const Trigger green = MakeTrigger(TriggerKind::kBandEntered, "GREEN");
  out.push_back(Make("green-expansion-planning", "GREEN expansion planning",
                     "DOMAIN §3 low risk: relationship deepening, expansion planning, advocacy",
                     green, {},
                     {MakeStep("Expansion planning review", StepKind::kMeeting, Days(14),
                               Role::kCsm, Days(7)),
                      MakeStep("Reference or advocacy ask", StepKind::kEmail, Days(30),
                               Role::kCsm, Days(7))},
                     {0, true}));
  // Onboarding length per tier (DOMAIN §1): 30-60, 14-30, 7-14, 1-7 days; the
  // milestones that fall inside the longer end, the enterprise plan through day 90.
  out.push_back(Onboarding("ENTERPRISE", 90, false));
  out.push_back(Onboarding("MID_MARKET", 30, false));
  out.push_back(Onboarding("SMB", 14, false));
  out.push_back(Onboarding("SOLO", 7, true));
  Trigger renewal;
  renewal.kind = TriggerKind::kRenewalDue;
  renewal.renewal_days_before = 90;
  out.push_back(Make("renewal-value-review", "Renewal",
                     "DOMAIN §3: renewal conversations start before the renewal date with a "
                     "value review",
                     renewal, {},
                     {MakeStep("Value review", StepKind::kMeeting, Days(0), Role::kCsm, Days(7)),
                      MakeStep("Renewal proposal", StepKind::kEmail, Days(30), Role::kCsm, Days(7)),
                      MakeStep("Renewal decision call", StepKind::kCall, Days(60),
                               Role::kCsManager, Days(7))},
                     {0, true}));
  out.push_back(Make("win-back", "Win-back after churn",
                     "DOMAIN §3 reactive retention: churn analysis with a reason, feedback, "
                     "win-back offer",
                     MakeTrigger(TriggerKind::kAccountChurned), {},
                     {MakeStep("Churn analysis interview", StepKind::kCall, Days(7),
                               Role::kRetentionSpecialist, Days(7)),
                      MakeStep("Feedback survey", StepKind::kSurvey, Days(14), Role::kAutomated,
                               absl::ZeroDuration()),
                      MakeStep("Win-back offer", StepKind::kEmail, Days(60),
                               Role::kRetentionSpecialist, Days(14))},
                     {0, false}));
  out.push_back(Cadence("cadence-enterprise-qbr", "Enterprise QBR", "ENTERPRISE", 3,
                        {MakeStep("Quarterly business review", StepKind::kQbr, Days(0),
                                  Role::kCsm, Days(7)),
                         MakeStep("Quarterly expansion review", StepKind::kMeeting, Days(0),
                                  Role::kCsm, Days(7))}));
  out.push_back(Cadence("cadence-mid-market-checkin", "Mid-market monthly check-in", "MID_MARKET",
                        1,
                        {MakeStep("Monthly check-in", StepKind::kCall, Days(0), Role::kCsm,
                                  Days(7))}));
  out.push_back(Cadence("cadence-smb-checkin", "SMB quarterly check-in", "SMB", 3,
                        {MakeStep("Quarterly check-in", StepKind::kCall, Days(0), Role::kCsm,
                                  Days(14))}));
  out.push_back(Cadence("cadence-solo-survey", "Solo quarterly survey", "SOLO", 3,
                        {MakeStep("Quarterly satisfaction survey", StepKind::kSurvey, Days(0),
                                  Role::kAutomated, absl::ZeroDuration())}));
  return out;
}

bool Applies(const Playbook& p, absl::string_view tier, absl::string_view industry) {
  if (!p.tiers.empty() && std::find(p.tiers.begin(), p.tiers.end(), tier) == p.tiers.end()) {
    return false;
  }
  if (!p.industries.empty() &&
      std::find(p.industries.begin(), p.industries.end(), industry) == p.industries.end()) {
    return false;
  }
  return true;
}

std::string ResolveAssignee(Role role, const std::string& owner_id, const EscalationChain& chain) {
  if (role == Role::kAutomated) return "automated";
  if (role == Role::kCsm && !owner_id.empty()) return owner_id;
  for (const EscalationLevel& level : chain.levels) {
    if (level.role == role && !level.assignee_id.empty()) return level.assignee_id;
  }
  return absl::StrCat("role:", RoleName(role));
}

std::optional<int> NextEscalationLevel(const EscalationChain& chain, Role role) {
  if (role == Role::kAutomated || chain.levels.empty()) return std::nullopt;
  int at = -1;
  for (size_t i = 0; i < chain.levels.size(); ++i) {
    if (chain.levels[i].role == role) at = static_cast<int>(i);
  }
  // Someone outside the chain (a retention specialist) hands over to the level
  // above the account's CSM.
  const int next = at >= 0 ? at + 1 : 1;
  if (next >= static_cast<int>(chain.levels.size())) return std::nullopt;
  return next;
}

absl::CivilDay CadenceDate(absl::CivilDay anchor, int months, int i) {
  const absl::CivilMonth month = absl::CivilMonth(anchor) + static_cast<int64_t>(months) * i;
  const absl::CivilDay last = absl::CivilDay(month + 1) - 1;
  const int day = std::min<int>(anchor.day(), last.day());
  return absl::CivilDay(month.year(), month.month(), day);
}

double HoldoutDraw(absl::string_view playbook_id, absl::string_view account_id) {
  uint64_t h = Fingerprint64(absl::StrCat(playbook_id, "\n", account_id));
  // FNV-1a's high bits barely move between similar ids ("acct-1", "acct-2"); the
  // SplitMix64 finaliser spreads every input bit over the whole word.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  // The top 53 bits make an exact double in [0, 1).
  return static_cast<double>(h >> 11) / static_cast<double>(uint64_t{1} << 53);
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

Difference ProportionDifference(int64_t a, int64_t n, int64_t b, int64_t m) {
  if (n <= 0 || m <= 0) return {};
  const double p = static_cast<double>(a) / n;
  const double q = static_cast<double>(b) / m;
  const double se = std::sqrt(p * (1 - p) / n + q * (1 - q) / m);
  return {p - q, p - q - 1.96 * se, p - q + 1.96 * se};
}

}  // namespace cs::playbooks
