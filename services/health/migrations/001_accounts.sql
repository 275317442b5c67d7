-- Accounts, keyed by the CRM's id. Never hard-deleted while history refers to them.
CREATE TABLE accounts (
  account_id VARCHAR(128) NOT NULL,
  name VARCHAR(255) NOT NULL,
  tier VARCHAR(16) NOT NULL,
  employee_count INT NOT NULL,
  industry VARCHAR(32) NOT NULL,
  owner_id VARCHAR(128) NOT NULL,
  lifecycle VARCHAR(16) NOT NULL,
  contract_start DATE NULL,
  renewal_date DATE NULL,
  arr_minor BIGINT NOT NULL,
  arr_currency CHAR(3) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (account_id),
  KEY accounts_tier (tier, account_id),
  KEY accounts_owner (owner_id, account_id),
  KEY accounts_industry (industry, account_id),
  KEY accounts_lifecycle (lifecycle, account_id)
) ENGINE=InnoDB;
