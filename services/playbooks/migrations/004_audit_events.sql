-- The audit trail (issue 10): every write, and every read of an account in a
-- regulated industry, with who, what, when and from where. Appended by the server's
-- audit interceptor, read by ListAuditEvents (admin scope); rows are never updated.
CREATE TABLE audit_events (
  event_id BIGINT NOT NULL AUTO_INCREMENT,
  occurred_at DATETIME(6) NOT NULL,
  principal VARCHAR(255) NOT NULL,
  method VARCHAR(255) NOT NULL,
  access VARCHAR(8) NOT NULL,
  account_id VARCHAR(128) NOT NULL,
  resource_type VARCHAR(64) NOT NULL,
  resource_id VARCHAR(255) NOT NULL,
  status_code INT NOT NULL,
  request_id VARCHAR(128) NOT NULL,
  peer VARCHAR(255) NOT NULL,
  client_subject VARCHAR(512) NOT NULL,
  PRIMARY KEY (event_id),
  KEY audit_events_account (account_id, event_id),
  KEY audit_events_principal (principal, event_id),
  KEY audit_events_time (occurred_at)
) ENGINE=InnoDB;
