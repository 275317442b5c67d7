-- Events of another service's stream that could not be applied (kept with the
-- reason, never silently dropped), so one bad event does not stop the consumer.
CREATE TABLE skipped_events (
  consumer VARCHAR(64) NOT NULL,
  sequence BIGINT NOT NULL,
  account_id VARCHAR(255) NOT NULL,
  kind VARCHAR(64) NOT NULL,
  reason VARCHAR(500) NOT NULL,
  skipped_at DATETIME(6) NOT NULL,
  PRIMARY KEY (consumer, sequence)
) ENGINE=InnoDB;
