#include "services/playbooks/proto_mapping.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/server/proto_util.h"
#include "services/playbooks/success_plan_mapping.h"

namespace cs::playbooks {

namespace {

void ToDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

void OptTime(const std::optional<absl::Time>& t, google::protobuf::Timestamp* out) {
  if (t.has_value()) ToTimestamp(*t, out);
}

std::optional<absl::Time> OptFromProto(bool has, const google::protobuf::Timestamp& ts) {
  if (!has) return std::nullopt;
  return FromTimestamp(ts);
}

absl::Status Unknown(absl::string_view field, int value) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": unknown value ", value));
}

}  // namespace

std::string EnumSuffix(const std::string& name, absl::string_view prefix) {
  std::string out = absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name;
  return out == "UNSPECIFIED" ? "" : out;
}

absl::Duration FromDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

std::string TierName(v1::Tier tier) { return EnumSuffix(v1::Tier_Name(tier), "TIER_"); }

v1::Tier TierFromName(const std::string& name) {
  v1::Tier tier = v1::TIER_UNSPECIFIED;
  if (!name.empty()) v1::Tier_Parse(absl::StrCat("TIER_", name), &tier);
  return tier;
}

absl::StatusOr<EscalationChain> ChainFromProto(const v1::EscalationChain& p) {
  EscalationChain c;
  c.chain_id = p.chain_id();
  for (int i = 0; i < p.levels_size(); ++i) {
    const v1::EscalationLevel& level = p.levels(i);
    if (!v1::Role_IsValid(level.role())) {
      return Unknown(absl::StrCat("chain.levels[", i, "].role"), level.role());
    }
    c.levels.push_back({static_cast<Role>(level.role()), level.assignee_id()});
  }
  c.version = p.version();
  if (p.has_updated_at()) c.updated_at = FromTimestamp(p.updated_at());
  return c;
}

void ChainToProto(const EscalationChain& c, v1::EscalationChain* out) {
  out->set_chain_id(c.chain_id);
  for (const EscalationLevel& level : c.levels) {
    v1::EscalationLevel* l = out->add_levels();
    l->set_role(static_cast<v1::Role>(level.role));
    l->set_assignee_id(level.assignee_id);
  }
  out->set_version(c.version);
  ToTimestamp(c.updated_at, out->mutable_updated_at());
}

absl::StatusOr<Playbook> PlaybookFromProto(const v1::Playbook& p) {
  Playbook out;
  out.playbook_id = p.playbook_id();
  out.version = p.version();
  out.name = p.name();
  out.description = p.description();
  const v1::Trigger& t = p.trigger();
  if (!v1::TriggerKind_IsValid(t.kind())) return Unknown("playbook.trigger.kind", t.kind());
  out.trigger.kind = static_cast<TriggerKind>(t.kind());
  if (!v1::Band_IsValid(t.band())) return Unknown("playbook.trigger.band", t.band());
  out.trigger.band = EnumSuffix(v1::Band_Name(t.band()), "BAND_");
  out.trigger.alert_kind = t.alert_kind();
  out.trigger.renewal_days_before = t.renewal_days_before();
  out.trigger.cadence_months = t.cadence_months();
  for (int i = 0; i < p.tiers_size(); ++i) {
    if (!v1::Tier_IsValid(p.tiers(i)) || p.tiers(i) == v1::TIER_UNSPECIFIED) {
      return Unknown(absl::StrCat("playbook.tiers[", i, "]"), p.tiers(i));
    }
    out.tiers.push_back(TierName(p.tiers(i)));
  }
  for (int i = 0; i < p.industries_size(); ++i) {
    if (!v1::Industry_IsValid(p.industries(i)) || p.industries(i) == v1::INDUSTRY_UNSPECIFIED) {
      return Unknown(absl::StrCat("playbook.industries[", i, "]"), p.industries(i));
    }
    out.industries.push_back(EnumSuffix(v1::Industry_Name(p.industries(i)), "INDUSTRY_"));
  }
  for (int i = 0; i < p.steps_size(); ++i) {
    const v1::Step& s = p.steps(i);
    if (!v1::StepKind_IsValid(s.kind())) {
      return Unknown(absl::StrCat("playbook.steps[", i, "].kind"), s.kind());
    }
    if (!v1::Role_IsValid(s.role())) {
      return Unknown(absl::StrCat("playbook.steps[", i, "].role"), s.role());
    }
    out.steps.push_back({s.title(), static_cast<StepKind>(s.kind()), FromDuration(s.due_offset()),
                         static_cast<Role>(s.role()), FromDuration(s.sla())});
  }
  out.exit.green_days = p.exit_criteria().green_days();
  out.exit.fail_on_churn = p.exit_criteria().fail_on_churn();
  out.holdout_percent = p.holdout_percent();
  out.escalation_chain_id = p.escalation_chain_id();
  out.disabled = p.disabled();
  if (p.has_updated_at()) out.updated_at = FromTimestamp(p.updated_at());
  return out;
}

void PlaybookToProto(const Playbook& p, v1::Playbook* out) {
  out->set_playbook_id(p.playbook_id);
  out->set_version(p.version);
  out->set_name(p.name);
  out->set_description(p.description);
  v1::Trigger* t = out->mutable_trigger();
  t->set_kind(static_cast<v1::TriggerKind>(p.trigger.kind));
  v1::Band band = v1::BAND_UNSPECIFIED;
  if (!p.trigger.band.empty()) v1::Band_Parse(absl::StrCat("BAND_", p.trigger.band), &band);
  t->set_band(band);
  t->set_alert_kind(p.trigger.alert_kind);
  t->set_renewal_days_before(p.trigger.renewal_days_before);
  t->set_cadence_months(p.trigger.cadence_months);
  for (const std::string& tier : p.tiers) out->add_tiers(TierFromName(tier));
  for (const std::string& industry : p.industries) {
    v1::Industry i = v1::INDUSTRY_UNSPECIFIED;
    v1::Industry_Parse(absl::StrCat("INDUSTRY_", industry), &i);
    out->add_industries(i);
  }
  for (const Step& s : p.steps) {
    v1::Step* step = out->add_steps();
    step->set_title(s.title);
    step->set_kind(static_cast<v1::StepKind>(s.kind));
    ToDuration(s.due_offset, step->mutable_due_offset());
    step->set_role(static_cast<v1::Role>(s.role));
    ToDuration(s.sla, step->mutable_sla());
  }
  out->mutable_exit_criteria()->set_green_days(p.exit.green_days);
  out->mutable_exit_criteria()->set_fail_on_churn(p.exit.fail_on_churn);
  out->set_holdout_percent(p.holdout_percent);
  out->set_escalation_chain_id(p.escalation_chain_id);
  out->set_disabled(p.disabled);
  ToTimestamp(p.updated_at, out->mutable_updated_at());
}

void RunToProto(const Run& r, v1::Run* out) {
  out->set_run_id(r.run_id);
  out->set_playbook_id(r.playbook_id);
  out->set_playbook_version(r.playbook_version);
  out->set_account_id(r.account_id);
  out->set_state(static_cast<v1::RunState>(r.state));
  out->set_tier(TierFromName(r.tier));
  out->set_owner_id(r.owner_id);
  out->set_trigger_key(r.trigger_key);
  ToTimestamp(r.triggered_at, out->mutable_triggered_at());
  out->set_trigger_count(r.trigger_count);
  ToTimestamp(r.last_triggered_at, out->mutable_last_triggered_at());
  OptTime(r.ended_at, out->mutable_ended_at());
  out->set_end_reason(r.end_reason);
}

absl::StatusOr<Run> RunFromProto(const v1::Run& p) {
  Run r;
  r.run_id = p.run_id();
  r.playbook_id = p.playbook_id();
  r.playbook_version = p.playbook_version();
  r.account_id = p.account_id();
  r.state = static_cast<RunState>(p.state());
  r.tier = TierName(p.tier());
  r.owner_id = p.owner_id();
  r.trigger_key = p.trigger_key();
  r.triggered_at = FromTimestamp(p.triggered_at());
  r.trigger_count = p.trigger_count();
  r.last_triggered_at = FromTimestamp(p.last_triggered_at());
  r.ended_at = OptFromProto(p.has_ended_at(), p.ended_at());
  r.end_reason = p.end_reason();
  return r;
}

void TaskToProto(const Task& t, v1::Task* out) {
  out->set_task_id(t.task_id);
  out->set_run_id(t.run_id);
  out->set_playbook_id(t.playbook_id);
  out->set_account_id(t.account_id);
  out->set_step_index(t.step_index);
  out->set_title(t.title);
  out->set_kind(static_cast<v1::StepKind>(t.kind));
  out->set_role(static_cast<v1::Role>(t.role));
  out->set_assignee_id(t.assignee_id);
  out->set_status(static_cast<v1::TaskStatus>(t.status));
  ToTimestamp(t.due_at, out->mutable_due_at());
  OptTime(t.escalate_at, out->mutable_escalate_at());
  out->set_escalation_level(t.escalation_level);
  ToTimestamp(t.created_at, out->mutable_created_at());
  OptTime(t.completed_at, out->mutable_completed_at());
  out->set_outcome(t.outcome);
  out->set_note(t.note);
  out->set_sla_met(t.sla_met);
  OptTime(t.snoozed_until, out->mutable_snoozed_until());
}

absl::StatusOr<Task> TaskFromProto(const v1::Task& p) {
  Task t;
  t.task_id = p.task_id();
  t.run_id = p.run_id();
  t.playbook_id = p.playbook_id();
  t.account_id = p.account_id();
  t.step_index = p.step_index();
  t.title = p.title();
  t.kind = static_cast<StepKind>(p.kind());
  t.role = static_cast<Role>(p.role());
  t.assignee_id = p.assignee_id();
  t.status = static_cast<TaskStatus>(p.status());
  t.due_at = FromTimestamp(p.due_at());
  t.escalate_at = OptFromProto(p.has_escalate_at(), p.escalate_at());
  t.escalation_level = p.escalation_level();
  t.created_at = FromTimestamp(p.created_at());
  t.completed_at = OptFromProto(p.has_completed_at(), p.completed_at());
  t.outcome = p.outcome();
  t.note = p.note();
  t.sla_met = p.sla_met();
  t.snoozed_until = OptFromProto(p.has_snoozed_until(), p.snoozed_until());
  return t;
}

void EscalationToProto(const Escalation& e, v1::Escalation* out) {
  out->set_task_id(e.task_id);
  out->set_level(e.level);
  out->set_from_assignee_id(e.from_assignee_id);
  out->set_to_assignee_id(e.to_assignee_id);
  out->set_to_role(static_cast<v1::Role>(e.to_role));
  out->set_reason(e.reason);
  ToTimestamp(e.escalated_at, out->mutable_escalated_at());
  out->set_account_id(e.account_id);
}

void TaskEventToProto(const TaskEvent& e, v1::TaskEvent* out) {
  out->set_sequence(e.sequence);
  out->set_kind(static_cast<v1::TaskEventKind>(e.kind));
  out->set_account_id(e.task.account_id);
  ToTimestamp(e.occurred_at, out->mutable_occurred_at());
  if (e.milestone.has_value()) {
    MilestoneAlertToProto(*e.milestone, out->mutable_milestone_overdue());
    return;
  }
  TaskToProto(e.task, out->mutable_task());
  if (e.escalation.has_value()) EscalationToProto(*e.escalation, out->mutable_escalation());
}

std::string EncodeTaskEvent(const TaskEvent& e) {
  v1::TaskEvent p;
  TaskEventToProto(e, &p);
  return p.SerializeAsString();
}

absl::StatusOr<TaskEvent> DecodeTaskEvent(const std::string& bytes) {
  v1::TaskEvent p;
  if (!p.ParseFromString(bytes)) return absl::InternalError("stored task event is corrupt");
  TaskEvent e;
  e.sequence = p.sequence();
  e.kind = static_cast<TaskEventKind>(p.kind());
  e.occurred_at = FromTimestamp(p.occurred_at());
  if (p.has_milestone_overdue()) {
    e.task.account_id = p.account_id();
    e.milestone = MilestoneAlertFromProto(p.milestone_overdue());
    return e;
  }
  absl::StatusOr<Task> task = TaskFromProto(p.task());
  if (!task.ok()) return task.status();
  e.task = *std::move(task);
  if (p.has_escalation()) {
    const v1::Escalation& x = p.escalation();
    e.escalation = Escalation{x.task_id(),
                              x.level(),
                              x.from_assignee_id(),
                              x.to_assignee_id(),
                              static_cast<Role>(x.to_role()),
                              x.reason(),
                              FromTimestamp(x.escalated_at()),
                              x.account_id()};
  }
  return e;
}

TaskEventCodec TaskEventCodecForOutbox() { return {EncodeTaskEvent, DecodeTaskEvent}; }

void StartResultToProto(const StartResult& r, v1::StartPlaybookResponse* out) {
  RunToProto(r.run, out->mutable_run());
  out->set_created(r.created);
}

absl::StatusOr<StartResult> StartResultFromProto(const v1::StartPlaybookResponse& p) {
  absl::StatusOr<Run> run = RunFromProto(p.run());
  if (!run.ok()) return run.status();
  return StartResult{*std::move(run), p.created()};
}

void ProgramMetricsToProto(const ProgramMetrics& m, v1::ProgramMetrics* out) {
  out->set_tier(TierFromName(m.tier));
  out->set_risk_runs(m.risk_runs);
  out->set_risk_runs_succeeded(m.risk_runs_succeeded);
  out->set_risk_runs_failed(m.risk_runs_failed);
  out->set_intervention_success_rate(m.intervention_success_rate);
  out->set_time_to_intervention_median_hours(m.time_to_intervention_median_hours);
  out->set_time_to_intervention_mean_hours(m.time_to_intervention_mean_hours);
  out->set_yellow_runs(m.yellow_runs);
  out->set_yellow_runs_recovered(m.yellow_runs_recovered);
  out->set_yellow_recovery_rate(m.yellow_recovery_rate);
  out->set_tasks_completed(m.tasks_completed);
  out->set_tasks_within_sla(m.tasks_within_sla);
  out->set_sla_attainment(m.sla_attainment);
  for (const auto& [level, count] : m.open_escalations_by_level) {
    (*out->mutable_open_escalations_by_level())[level] = count;
  }
}

namespace {

void ArmToProto(const CohortArm& a, v1::ArmOutcome* out) {
  out->set_accounts(a.accounts);
  out->set_recovered(a.recovered);
  out->set_churned(a.churned);
  if (a.accounts > 0) {
    out->set_recovery_rate(static_cast<double>(a.recovered) / a.accounts);
    out->set_churn_rate(static_cast<double>(a.churned) / a.accounts);
  }
}

}  // namespace

void LiftToProto(const PlaybookLift& l, v1::GetPlaybookLiftResponse* out) {
  out->set_playbook_id(l.playbook_id);
  out->set_holdout_percent(l.holdout_percent);
  ArmToProto(l.treated, out->mutable_treated());
  ArmToProto(l.held_out, out->mutable_held_out());
  out->set_recovery_lift(l.recovery.estimate);
  out->set_recovery_lift_low(l.recovery.low);
  out->set_recovery_lift_high(l.recovery.high);
  out->set_churn_lift(l.churn.estimate);
  out->set_churn_lift_low(l.churn.low);
  out->set_churn_lift_high(l.churn.high);
}

}  // namespace cs::playbooks
