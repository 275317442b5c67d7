-- Escalation chains and their levels, lowest first.
CREATE TABLE escalation_chains (
  chain_id VARCHAR(128) NOT NULL,
  version BIGINT NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (chain_id)
) ENGINE=InnoDB;

CREATE TABLE escalation_levels (
  chain_id VARCHAR(128) NOT NULL,
  level_index INT NOT NULL,
  role VARCHAR(32) NOT NULL,
  assignee_id VARCHAR(128) NOT NULL,
  PRIMARY KEY (chain_id, level_index),
  CONSTRAINT escalation_levels_chain FOREIGN KEY (chain_id) REFERENCES escalation_chains (chain_id)
) ENGINE=InnoDB;

-- DOMAIN §3: CSM -> CS manager -> director -> VP of customer success.
INSERT INTO escalation_chains (chain_id, version, updated_at) VALUES ('default', 1, UTC_TIMESTAMP(6));
INSERT INTO escalation_levels (chain_id, level_index, role, assignee_id) VALUES
  ('default', 0, 'CSM', ''),
  ('default', 1, 'CS_MANAGER', ''),
  ('default', 2, 'DIRECTOR', ''),
  ('default', 3, 'VP_CUSTOMER_SUCCESS', '');
