-- Success plans: an account's objectives, their milestones and success criteria,
-- and the ROI the customer expects. `version` is the plan's etag.
CREATE TABLE success_plans (
  plan_id VARCHAR(128) NOT NULL,
  account_id VARCHAR(128) NOT NULL,
  title VARCHAR(200) NOT NULL,
  owner_id VARCHAR(128) NOT NULL,
  status VARCHAR(16) NOT NULL,
  template_id VARCHAR(128) NOT NULL,
  roi_minor_units BIGINT NOT NULL,
  roi_currency VARCHAR(3) NOT NULL,
  roi_description TEXT NOT NULL,
  version BIGINT NOT NULL,
  starts_at DATETIME(6) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  -- When the plan stopped being ACTIVE (a QBR due after it reviews another plan).
  closed_at DATETIME(6) NULL,
  PRIMARY KEY (plan_id),
  KEY success_plans_by_account (account_id, plan_id),
  KEY success_plans_by_owner (owner_id, plan_id),
  KEY success_plans_by_status (status, plan_id)
) ENGINE=InnoDB;

CREATE TABLE success_plan_objectives (
  plan_id VARCHAR(128) NOT NULL,
  objective_id VARCHAR(64) NOT NULL,
  position INT NOT NULL,
  title VARCHAR(200) NOT NULL,
  description TEXT NOT NULL,
  PRIMARY KEY (plan_id, objective_id)
) ENGINE=InnoDB;

CREATE TABLE success_plan_milestones (
  plan_id VARCHAR(128) NOT NULL,
  milestone_id VARCHAR(64) NOT NULL,
  objective_id VARCHAR(64) NOT NULL,
  position INT NOT NULL,
  account_id VARCHAR(128) NOT NULL,
  title VARCHAR(200) NOT NULL,
  due_at DATETIME(6) NOT NULL,
  owner_id VARCHAR(128) NOT NULL,
  status VARCHAR(16) NOT NULL,
  completed_at DATETIME(6) NULL,
  -- When the overdue alert for the current due time was published.
  alerted_at DATETIME(6) NULL,
  -- The due time while an alert may still be owed (plan active, milestone open,
  -- none sent yet), NULL otherwise: the overdue sweeper reads only this index.
  alert_at DATETIME(6) NULL,
  PRIMARY KEY (plan_id, milestone_id),
  KEY success_plan_milestones_alert (alert_at)
) ENGINE=InnoDB;

CREATE TABLE success_plan_criteria (
  plan_id VARCHAR(128) NOT NULL,
  criterion_id VARCHAR(64) NOT NULL,
  objective_id VARCHAR(64) NOT NULL,
  position INT NOT NULL,
  account_id VARCHAR(128) NOT NULL,
  description VARCHAR(200) NOT NULL,
  source VARCHAR(16) NOT NULL,
  name VARCHAR(64) NOT NULL,
  comparison VARCHAR(16) NOT NULL,
  target DOUBLE NOT NULL,
  met BOOLEAN NOT NULL,
  met_at DATETIME(6) NULL,
  last_value DOUBLE NOT NULL,
  last_checked_at DATETIME(6) NULL,
  -- When the automatic check is next due; NULL for manual or met criteria and
  -- plans that are not active. A SCORE_CHANGED event of the account brings it forward.
  check_at DATETIME(6) NULL,
  PRIMARY KEY (plan_id, criterion_id),
  KEY success_plan_criteria_check (check_at),
  KEY success_plan_criteria_account (account_id)
) ENGINE=InnoDB;

-- Objectives for new plans per tier and industry ('' = any industry); the body is
-- the template as the API carries it (opaque to SQL).
CREATE TABLE success_plan_templates (
  template_id VARCHAR(128) NOT NULL,
  tier VARCHAR(32) NOT NULL,
  industry VARCHAR(32) NOT NULL,
  body BLOB NOT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (template_id),
  KEY success_plan_templates_by_segment (tier, industry)
) ENGINE=InnoDB;

-- The success-plan consumer of health's stream starts where the playbook
-- consumer stands: no plan existed before, so older events concern none.
INSERT INTO consumer_cursors (consumer, last_sequence, updated_at)
  SELECT 'success_plans', last_sequence, UTC_TIMESTAMP(6) FROM consumer_cursors
  WHERE consumer = 'health';
