-- Movements of monthly recurring revenue, append-only.
CREATE TABLE revenue_movements (
  movement_id BIGINT NOT NULL AUTO_INCREMENT,
  account_id VARCHAR(128) NOT NULL,
  month DATE NOT NULL,
  kind VARCHAR(16) NOT NULL,
  mrr_change_minor BIGINT NOT NULL,
  currency CHAR(3) NOT NULL,
  recorded_at DATETIME(6) NOT NULL,
  PRIMARY KEY (movement_id),
  KEY revenue_movements_account (account_id, movement_id),
  KEY revenue_movements_month (month, kind)
) ENGINE=InnoDB;

-- One row per account: its ledger currency, and the row a writer locks so that
-- two first movements of one account cannot pick different currencies.
CREATE TABLE ledger_accounts (
  account_id VARCHAR(128) NOT NULL,
  currency CHAR(3) NOT NULL,
  PRIMARY KEY (account_id)
) ENGINE=InnoDB;
