-- Time to first value and advocacy.

-- When the onboarding run's account reached first value (health's
-- FIRST_VALUE_REACHED); onboarding metrics read the onboarding runs of a period.
ALTER TABLE runs ADD COLUMN reached_value_at DATETIME(6) NULL,
  ADD KEY runs_by_trigger (trigger_kind, triggered_at);

-- The latest standing of each account as health's stream reported it: the
-- "health" score and band (and since when GREEN without a break), the latest NPS
-- answer, ARR and first value. Advocate candidates are one indexed read of it.
CREATE TABLE account_standing (
  account_id VARCHAR(128) NOT NULL,
  score DOUBLE NULL,
  band VARCHAR(16) NOT NULL,
  green_since DATETIME(6) NULL,
  nps DOUBLE NULL,
  nps_at DATETIME(6) NULL,
  arr_minor BIGINT NULL,
  arr_currency VARCHAR(3) NOT NULL,
  first_value_at DATETIME(6) NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (account_id),
  KEY standing_by_band (band, score)
) ENGINE=InnoDB;

CREATE TABLE advocacy_asks (
  ask_id BIGINT NOT NULL AUTO_INCREMENT,
  account_id VARCHAR(128) NOT NULL,
  kind VARCHAR(16) NOT NULL,
  status VARCHAR(16) NOT NULL,
  asked_by VARCHAR(128) NOT NULL,
  note VARCHAR(1000) NOT NULL,
  override_reason VARCHAR(500) NOT NULL,
  asked_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (ask_id),
  KEY asks_by_account (account_id, asked_at)
) ENGINE=InnoDB;
