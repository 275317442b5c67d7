-- Signals, scorecards, scores, alerts, overrides, the event map, the dead-letter
-- list and background rescore jobs.

-- Raw signals, kept for explanations and audits; (account_id, event_id) makes a
-- re-sent signal a duplicate.
CREATE TABLE signals (
  account_id VARCHAR(128) NOT NULL,
  event_id VARCHAR(128) NOT NULL,
  kind VARCHAR(32) NOT NULL,
  occurred_at DATETIME(6) NOT NULL,
  recorded_at DATETIME(6) NOT NULL,
  value DOUBLE NOT NULL,
  feature VARCHAR(64) NOT NULL DEFAULT '',
  csat DOUBLE NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, event_id),
  KEY signals_time (account_id, occurred_at)
) ENGINE=InnoDB;

-- What scoring reads: per account, day and counter, the sum of the signals.
CREATE TABLE signal_daily (
  account_id VARCHAR(128) NOT NULL,
  day DATE NOT NULL,
  counter VARCHAR(80) NOT NULL,
  value DOUBLE NOT NULL,
  PRIMARY KEY (account_id, day, counter)
) ENGINE=InnoDB;

CREATE TABLE scorecards (
  scorecard_id VARCHAR(64) NOT NULL,
  score_name VARCHAR(64) NOT NULL,
  current_version INT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (scorecard_id)
) ENGINE=InnoDB;

-- Every version ever stored; a score names the version that produced it.
CREATE TABLE scorecard_versions (
  scorecard_id VARCHAR(64) NOT NULL,
  version INT NOT NULL,
  definition TEXT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (scorecard_id, version)
) ENGINE=InnoDB;

-- The current score of each account and score name.
CREATE TABLE account_scores (
  account_id VARCHAR(128) NOT NULL,
  score_name VARCHAR(64) NOT NULL,
  scorecard_id VARCHAR(64) NOT NULL,
  scorecard_version INT NOT NULL,
  score DOUBLE NOT NULL,
  band VARCHAR(8) NOT NULL,
  components TEXT NOT NULL,
  computed_at DATETIME(6) NOT NULL,
  published_score DOUBLE NOT NULL,
  PRIMARY KEY (account_id, score_name),
  KEY account_scores_band (score_name, band, score, account_id)
) ENGINE=InnoDB;

-- Every change of a score, for as_of reads and explanations.
CREATE TABLE score_history (
  id BIGINT NOT NULL AUTO_INCREMENT,
  account_id VARCHAR(128) NOT NULL,
  score_name VARCHAR(64) NOT NULL,
  computed_at DATETIME(6) NOT NULL,
  scorecard_id VARCHAR(64) NOT NULL,
  scorecard_version INT NOT NULL,
  score DOUBLE NOT NULL,
  band VARCHAR(8) NOT NULL,
  components TEXT NOT NULL,
  PRIMARY KEY (id),
  KEY score_history_account (account_id, score_name, computed_at)
) ENGINE=InnoDB;

-- The last score of each day: trends and history.
CREATE TABLE score_daily (
  account_id VARCHAR(128) NOT NULL,
  score_name VARCHAR(64) NOT NULL,
  day DATE NOT NULL,
  score DOUBLE NOT NULL,
  band VARCHAR(8) NOT NULL,
  scorecard_version INT NOT NULL,
  PRIMARY KEY (account_id, score_name, day),
  KEY score_daily_day (score_name, day)
) ENGINE=InnoDB;

-- open_flag is 1 while open and NULL once resolved, so the unique key allows one
-- open alert per account and kind and any number of resolved ones.
CREATE TABLE alerts (
  alert_id BIGINT NOT NULL AUTO_INCREMENT,
  account_id VARCHAR(128) NOT NULL,
  kind VARCHAR(32) NOT NULL,
  severity VARCHAR(16) NOT NULL,
  summary VARCHAR(1000) NOT NULL,
  evidence TEXT NOT NULL,
  opened_at DATETIME(6) NOT NULL,
  resolved_at DATETIME(6) NULL,
  open_flag TINYINT NULL,
  PRIMARY KEY (alert_id),
  UNIQUE KEY alerts_one_open (account_id, kind, open_flag),
  KEY alerts_open (open_flag, alert_id)
) ENGINE=InnoDB;

CREATE TABLE alert_settings (
  id TINYINT NOT NULL,
  period_days INT NOT NULL,
  usage_decline_pct DOUBLE NOT NULL,
  engagement_drop_pct DOUBLE NOT NULL,
  ticket_increase_pct DOUBLE NOT NULL,
  communication_drop_pct DOUBLE NOT NULL,
  score_threshold DOUBLE NOT NULL,
  min_baseline DOUBLE NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB;
INSERT INTO alert_settings VALUES (1, 30, 20, 30, 50, 50, 50, 5, '2026-01-01 00:00:00');

-- Append-only: the audit trail of manual scores.
CREATE TABLE score_overrides (
  override_id BIGINT NOT NULL AUTO_INCREMENT,
  account_id VARCHAR(128) NOT NULL,
  score_name VARCHAR(64) NOT NULL,
  score DOUBLE NOT NULL,
  reason VARCHAR(1000) NOT NULL,
  set_by VARCHAR(128) NOT NULL,
  set_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  PRIMARY KEY (override_id),
  KEY score_overrides_account (account_id, score_name, override_id)
) ENGINE=InnoDB;

CREATE TABLE event_mappings (
  event_name VARCHAR(128) NOT NULL,
  kind VARCHAR(32) NOT NULL,
  value_property VARCHAR(128) NOT NULL,
  feature_property VARCHAR(128) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (event_name)
) ENGINE=InnoDB;

CREATE TABLE rejected_records (
  id BIGINT NOT NULL AUTO_INCREMENT,
  source VARCHAR(32) NOT NULL,
  event_id VARCHAR(255) NOT NULL,
  account_id VARCHAR(255) NOT NULL,
  reason VARCHAR(1000) NOT NULL,
  record_json MEDIUMTEXT NOT NULL,
  received_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  KEY rejected_source (source, id),
  KEY rejected_account (account_id, id)
) ENGINE=InnoDB;

-- Background rescoring: one DAILY job per day, one SCORECARD job per scorecard
-- change. A worker locks a job row (SKIP LOCKED), rescores the next accounts after
-- the cursor and moves the cursor in the same transaction, so no account is
-- rescored twice by one job and a crash loses nothing.
CREATE TABLE rescore_jobs (
  job_id BIGINT NOT NULL AUTO_INCREMENT,
  kind VARCHAR(16) NOT NULL,
  day DATE NULL,
  reason VARCHAR(255) NOT NULL,
  cursor_account_id VARCHAR(128) NOT NULL DEFAULT '',
  accounts_done BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL,
  finished_at DATETIME(6) NULL,
  PRIMARY KEY (job_id),
  UNIQUE KEY rescore_jobs_daily (kind, day),
  KEY rescore_jobs_pending (finished_at, job_id)
) ENGINE=InnoDB;
