-- Time to first value: what counts as first value per tier (versioned like the
-- scorecards: the current definition and every version ever stored), and when
-- each account reached it.

CREATE TABLE first_value_definitions (
  tier VARCHAR(16) NOT NULL,
  version INT NOT NULL,
  signal_kind VARCHAR(32) NOT NULL,
  feature VARCHAR(64) NOT NULL,
  event_name VARCHAR(128) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (tier)
) ENGINE=InnoDB;

CREATE TABLE first_value_definition_versions (
  tier VARCHAR(16) NOT NULL,
  version INT NOT NULL,
  signal_kind VARCHAR(32) NOT NULL,
  feature VARCHAR(64) NOT NULL,
  event_name VARCHAR(128) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (tier, version)
) ENGINE=InnoDB;

-- Default (version 1) for every tier: the first use of any feature, the earliest
-- sign in the signal catalogue that the product did something for the customer.
INSERT INTO first_value_definitions VALUES
  ('ENTERPRISE', 1, 'FEATURE_USED', '', '', '2026-01-01 00:00:00'),
  ('MID_MARKET', 1, 'FEATURE_USED', '', '', '2026-01-01 00:00:00'),
  ('SMB', 1, 'FEATURE_USED', '', '', '2026-01-01 00:00:00'),
  ('SOLO', 1, 'FEATURE_USED', '', '', '2026-01-01 00:00:00');
INSERT INTO first_value_definition_versions
  SELECT tier, version, signal_kind, feature, event_name, updated_at FROM first_value_definitions;

-- Set once, by the ingest transaction that stored the first matching signal.
ALTER TABLE accounts ADD COLUMN first_value_at DATETIME(6) NULL;
