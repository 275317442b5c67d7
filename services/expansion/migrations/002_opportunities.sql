-- How a movement entered the ledger. Movements derived from a subscription import
-- carry the month they were derived for, unique per account, so a re-import finds
-- and corrects its own movements instead of adding new ones; a won opportunity posts
-- at most one movement.
ALTER TABLE revenue_movements
  ADD COLUMN source VARCHAR(24) NOT NULL DEFAULT 'MANUAL',
  ADD COLUMN opportunity_id BIGINT NULL,
  ADD COLUMN import_month DATE NULL,
  ADD UNIQUE KEY revenue_movements_import (account_id, import_month),
  ADD UNIQUE KEY revenue_movements_opportunity (opportunity_id);

-- Monthly MRR per account as imported; the movements are derived from it.
CREATE TABLE subscription_months (
  account_id VARCHAR(128) NOT NULL,
  month DATE NOT NULL,
  mrr_minor BIGINT NOT NULL,
  currency CHAR(3) NOT NULL,
  PRIMARY KEY (account_id, month)
) ENGINE=InnoDB;

CREATE TABLE opportunities (
  opportunity_id BIGINT NOT NULL AUTO_INCREMENT,
  account_id VARCHAR(128) NOT NULL,
  kind VARCHAR(32) NOT NULL,
  stage VARCHAR(16) NOT NULL,
  owner_id VARCHAR(128) NOT NULL,
  amount_minor BIGINT NOT NULL,
  currency CHAR(3) NOT NULL,
  probability_percent INT NOT NULL,
  expected_close_date DATE NOT NULL,
  source VARCHAR(16) NOT NULL,
  source_ref VARCHAR(128) NOT NULL,
  title VARCHAR(200) NOT NULL,
  description TEXT NOT NULL,
  tier VARCHAR(16) NOT NULL,
  loss_reason VARCHAR(500) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  closed_at DATETIME(6) NULL,
  version BIGINT NOT NULL,
  won_movement_id BIGINT NULL,
  PRIMARY KEY (opportunity_id),
  KEY opportunities_account (account_id, opportunity_id),
  KEY opportunities_owner (owner_id, opportunity_id),
  KEY opportunities_stage (stage, currency),
  KEY opportunities_closed (closed_at)
) ENGINE=InnoDB;

-- Every stage move with its time, append-only; seq 1 is the creation (IDENTIFIED).
CREATE TABLE stage_changes (
  opportunity_id BIGINT NOT NULL,
  seq INT NOT NULL,
  from_stage VARCHAR(16) NOT NULL,
  to_stage VARCHAR(16) NOT NULL,
  changed_at DATETIME(6) NOT NULL,
  actor_id VARCHAR(128) NOT NULL,
  loss_reason VARCHAR(500) NOT NULL,
  health_override_reason VARCHAR(500) NOT NULL,
  health_band VARCHAR(16) NOT NULL,
  probability_percent INT NOT NULL,
  PRIMARY KEY (opportunity_id, seq)
) ENGINE=InnoDB;

-- Default win probability per stage; changed through SetStageProbabilities.
CREATE TABLE stage_probabilities (
  stage VARCHAR(16) NOT NULL,
  probability_percent INT NOT NULL,
  PRIMARY KEY (stage)
) ENGINE=InnoDB;

INSERT INTO stage_probabilities (stage, probability_percent) VALUES
  ('IDENTIFIED', 10), ('QUALIFIED', 25), ('PROPOSAL', 50), ('NEGOTIATION', 75),
  ('CLOSED_WON', 100), ('CLOSED_LOST', 0);

-- What expansion knows of an account: its tier (for "by tier" metrics without
-- asking health) and the facts the suggestion rules read. Requests are stored one
-- per line.
CREATE TABLE account_profiles (
  account_id VARCHAR(128) NOT NULL,
  tier VARCHAR(16) NOT NULL,
  seats_licensed BIGINT NOT NULL,
  seats_used BIGINT NOT NULL,
  usage_units BIGINT NOT NULL,
  usage_limit BIGINT NOT NULL,
  plan VARCHAR(64) NOT NULL,
  feature_requests TEXT NOT NULL,
  integration_requests TEXT NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (account_id)
) ENGINE=InnoDB;

CREATE TABLE forecast_snapshots (
  snapshot_id BIGINT NOT NULL AUTO_INCREMENT,
  taken_at DATETIME(6) NOT NULL,
  currency CHAR(3) NOT NULL,
  scheduled TINYINT NOT NULL,
  PRIMARY KEY (snapshot_id)
) ENGINE=InnoDB;

CREATE TABLE forecast_snapshot_quarters (
  snapshot_id BIGINT NOT NULL,
  year INT NOT NULL,
  quarter INT NOT NULL,
  total_minor BIGINT NOT NULL,
  weighted_minor BIGINT NOT NULL,
  opportunities INT NOT NULL,
  PRIMARY KEY (snapshot_id, year, quarter)
) ENGINE=InnoDB;

-- One row per scheduled slot (a day) and currency: the replica that locks it with
-- SKIP LOCKED takes the snapshot; snapshot_id is set in the same commit.
CREATE TABLE forecast_schedule (
  slot DATE NOT NULL,
  currency CHAR(3) NOT NULL,
  snapshot_id BIGINT NULL,
  PRIMARY KEY (slot, currency)
) ENGINE=InnoDB;
