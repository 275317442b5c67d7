-- Responses of write RPCs by request id, so a retried call returns the first answer.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  method VARCHAR(128) NOT NULL,
  request_id VARCHAR(128) NOT NULL,
  request_fingerprint CHAR(16) NOT NULL,
  response LONGBLOB NOT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (method, request_id),
  KEY idempotency_keys_created (created_at)
) ENGINE=InnoDB;
