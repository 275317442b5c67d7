-- Playbook definitions: one row per playbook (its current version) and one per version.
CREATE TABLE playbooks (
  playbook_id VARCHAR(128) NOT NULL,
  current_version INT NOT NULL,
  trigger_kind VARCHAR(32) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (playbook_id),
  KEY playbooks_by_trigger (trigger_kind)
) ENGINE=InnoDB;

CREATE TABLE playbook_versions (
  playbook_id VARCHAR(128) NOT NULL,
  version INT NOT NULL,
  name VARCHAR(200) NOT NULL,
  description TEXT NOT NULL,
  trigger_kind VARCHAR(32) NOT NULL,
  trigger_band VARCHAR(16) NOT NULL,
  trigger_alert_kind VARCHAR(64) NOT NULL,
  renewal_days_before INT NOT NULL,
  cadence_months INT NOT NULL,
  -- Comma-separated names; empty means every tier / industry.
  tiers VARCHAR(255) NOT NULL,
  industries VARCHAR(255) NOT NULL,
  exit_green_days INT NOT NULL,
  fail_on_churn BOOLEAN NOT NULL,
  holdout_percent INT NOT NULL,
  escalation_chain_id VARCHAR(128) NOT NULL,
  disabled BOOLEAN NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (playbook_id, version)
) ENGINE=InnoDB;

CREATE TABLE playbook_steps (
  playbook_id VARCHAR(128) NOT NULL,
  version INT NOT NULL,
  step_index INT NOT NULL,
  title VARCHAR(200) NOT NULL,
  kind VARCHAR(32) NOT NULL,
  due_offset_seconds BIGINT NOT NULL,
  role VARCHAR(32) NOT NULL,
  sla_seconds BIGINT NOT NULL,
  PRIMARY KEY (playbook_id, version, step_index)
) ENGINE=InnoDB;

-- What the service knows of each account, kept from health's event stream.
CREATE TABLE accounts (
  account_id VARCHAR(128) NOT NULL,
  tier VARCHAR(32) NOT NULL,
  industry VARCHAR(32) NOT NULL,
  owner_id VARCHAR(128) NOT NULL,
  lifecycle VARCHAR(32) NOT NULL,
  contract_start DATE NULL,
  renewal_date DATE NULL,
  band VARCHAR(16) NOT NULL,
  churned_at DATETIME(6) NULL,
  first_seen_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  -- When the scheduler should look at the account's cadences and renewal next.
  next_schedule_at DATETIME(6) NOT NULL,
  PRIMARY KEY (account_id),
  KEY accounts_by_schedule (next_schedule_at)
) ENGINE=InnoDB;

CREATE TABLE runs (
  run_id VARCHAR(64) NOT NULL,
  playbook_id VARCHAR(128) NOT NULL,
  playbook_version INT NOT NULL,
  account_id VARCHAR(128) NOT NULL,
  state VARCHAR(16) NOT NULL,
  tier VARCHAR(32) NOT NULL,
  owner_id VARCHAR(128) NOT NULL,
  trigger_kind VARCHAR(32) NOT NULL,
  trigger_band VARCHAR(16) NOT NULL,
  trigger_key VARCHAR(200) NOT NULL,
  triggered_at DATETIME(6) NOT NULL,
  trigger_count INT NOT NULL,
  last_triggered_at DATETIME(6) NOT NULL,
  -- Since when the account has been GREEN while the run is active (exit criteria).
  green_since DATETIME(6) NULL,
  -- Copied from the playbook version: GREEN days to succeed, and fail on churn.
  exit_green_days INT NOT NULL,
  fail_on_churn BOOLEAN NOT NULL,
  ended_at DATETIME(6) NULL,
  end_reason VARCHAR(500) NOT NULL,
  -- 1 while active, NULL once ended: one active run per account and playbook.
  active_flag TINYINT NULL,
  PRIMARY KEY (run_id),
  UNIQUE KEY runs_one_active (account_id, playbook_id, active_flag),
  KEY runs_by_time (triggered_at, run_id),
  KEY runs_by_state (state, green_since)
) ENGINE=InnoDB;

-- Every trigger that reached a run (or was held out): a replayed event finds its
-- key and changes nothing.
CREATE TABLE run_triggers (
  playbook_id VARCHAR(128) NOT NULL,
  account_id VARCHAR(128) NOT NULL,
  trigger_key VARCHAR(200) NOT NULL,
  run_id VARCHAR(64) NOT NULL,
  applied_at DATETIME(6) NOT NULL,
  PRIMARY KEY (playbook_id, account_id, trigger_key)
) ENGINE=InnoDB;

CREATE TABLE tasks (
  task_id VARCHAR(100) NOT NULL,
  run_id VARCHAR(64) NOT NULL,
  playbook_id VARCHAR(128) NOT NULL,
  account_id VARCHAR(128) NOT NULL,
  tier VARCHAR(32) NOT NULL,
  step_index INT NOT NULL,
  title VARCHAR(200) NOT NULL,
  kind VARCHAR(32) NOT NULL,
  role VARCHAR(32) NOT NULL,
  assignee_id VARCHAR(140) NOT NULL,
  status VARCHAR(16) NOT NULL,
  due_at DATETIME(6) NOT NULL,
  sla_seconds BIGINT NOT NULL,
  escalate_at DATETIME(6) NULL,
  escalation_level INT NOT NULL,
  escalation_chain_id VARCHAR(128) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  completed_at DATETIME(6) NULL,
  outcome VARCHAR(200) NOT NULL,
  note TEXT NOT NULL,
  sla_met BOOLEAN NOT NULL,
  snoozed_until DATETIME(6) NULL,
  PRIMARY KEY (task_id),
  KEY tasks_by_run (run_id),
  KEY tasks_by_account (account_id, due_at),
  KEY tasks_by_assignee (assignee_id, due_at),
  KEY tasks_by_escalation (status, escalate_at),
  KEY tasks_by_due (due_at, task_id)
) ENGINE=InnoDB;

CREATE TABLE escalations (
  escalation_id BIGINT NOT NULL AUTO_INCREMENT,
  task_id VARCHAR(100) NOT NULL,
  account_id VARCHAR(128) NOT NULL,
  level INT NOT NULL,
  from_assignee_id VARCHAR(140) NOT NULL,
  to_assignee_id VARCHAR(140) NOT NULL,
  to_role VARCHAR(32) NOT NULL,
  reason VARCHAR(500) NOT NULL,
  escalated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (escalation_id),
  KEY escalations_by_task (task_id, escalation_id)
) ENGINE=InnoDB;

-- Where each consumer of another service's event stream stands.
CREATE TABLE consumer_cursors (
  consumer VARCHAR(64) NOT NULL,
  last_sequence BIGINT NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (consumer)
) ENGINE=InnoDB;
INSERT INTO consumer_cursors (consumer, last_sequence, updated_at)
  VALUES ('health', 0, UTC_TIMESTAMP(6));

-- Treated and held-out accounts per playbook, with their outcomes (for lift).
CREATE TABLE cohort (
  playbook_id VARCHAR(128) NOT NULL,
  account_id VARCHAR(128) NOT NULL,
  arm VARCHAR(16) NOT NULL,
  draw DOUBLE NOT NULL,
  holdout_percent INT NOT NULL,
  entered_at DATETIME(6) NOT NULL,
  recovered_at DATETIME(6) NULL,
  churned_at DATETIME(6) NULL,
  PRIMARY KEY (playbook_id, account_id),
  KEY cohort_by_account (account_id)
) ENGINE=InnoDB;

-- Opportunities to open in the expansion service (an outbox: sent by the sweeper
-- with request_id, so a retry never opens two).
CREATE TABLE expansion_requests (
  request_id VARCHAR(64) NOT NULL,
  account_id VARCHAR(128) NOT NULL,
  signal_event_id VARCHAR(128) NOT NULL,
  signal_kind VARCHAR(64) NOT NULL,
  feature VARCHAR(200) NOT NULL,
  tier VARCHAR(32) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  next_attempt_at DATETIME(6) NOT NULL,
  attempts INT NOT NULL,
  sent_at DATETIME(6) NULL,
  opportunity_id VARCHAR(128) NOT NULL,
  last_error VARCHAR(500) NOT NULL,
  PRIMARY KEY (request_id),
  KEY expansion_pending (sent_at, next_attempt_at)
) ENGINE=InnoDB;
