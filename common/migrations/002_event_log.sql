-- The service's event log (transactional outbox): appended in the same transaction
-- as the change it reports. event_log_head's single row hands out sequences; its
-- row lock, held until commit, makes them gap-free and increasing in commit order.
CREATE TABLE IF NOT EXISTS event_log_head (
  id TINYINT NOT NULL,
  last_sequence BIGINT NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB;

INSERT IGNORE INTO event_log_head (id, last_sequence) VALUES (1, 0);

CREATE TABLE IF NOT EXISTS event_log (
  sequence BIGINT NOT NULL,
  kind VARCHAR(32) NOT NULL,
  subject_id VARCHAR(128) NOT NULL,
  occurred_at DATETIME(6) NOT NULL,
  payload LONGBLOB NOT NULL,
  PRIMARY KEY (sequence),
  KEY event_log_subject (subject_id, sequence)
) ENGINE=InnoDB;
