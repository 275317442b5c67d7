-- The signals themselves move to signal_log, packed per account, month and ingest
-- group (services/health/packed_rows.h); `signals` keeps one narrow row per stored
-- key, which is what makes a re-sent signal a duplicate. An ingest writes one key
-- row per signal and one log row per account and month it touched, instead of one
-- wide row with a second index per signal.
--
-- As in 009, the copy and the ALTER run under LOCK TABLES, so a signal written by a
-- replica of the previous version lands before the copy or fails and is retried;
-- a run stopped before the ALTER can run again (the copy replaces its rows).
CREATE TABLE IF NOT EXISTS signal_log (
  account_id VARCHAR(128) NOT NULL,
  month DATE NOT NULL,
  seq BIGINT UNSIGNED NOT NULL,
  recorded_at DATETIME(6) NOT NULL,
  signals MEDIUMBLOB NOT NULL,
  PRIMARY KEY (account_id, month, seq)
) ENGINE=InnoDB;

LOCK TABLES signals WRITE, signal_log WRITE;

-- Signals stored before: one row per account, month and recording time, at most
-- 1,000 signals per row, numbered 1, 2, ... within the account and month.
INSERT INTO signal_log (account_id, month, seq, recorded_at, signals)
SELECT account_id, month,
       ROW_NUMBER() OVER (PARTITION BY account_id, month ORDER BY recorded_at, part),
       recorded_at, signals
FROM (
  SELECT account_id, month, recorded_at, (n - 1) DIV 1000 AS part,
         GROUP_CONCAT(line ORDER BY n SEPARATOR '\n') AS signals
  FROM (
    SELECT account_id, DATE_FORMAT(occurred_at, '%Y-%m-01') AS month, recorded_at,
           ROW_NUMBER() OVER (PARTITION BY account_id, DATE_FORMAT(occurred_at, '%Y-%m-01'),
                              recorded_at ORDER BY occurred_at, event_id) AS n,
           CONCAT_WS('\t', event_id, kind,
                     TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', occurred_at), value, csat,
                     REPLACE(REPLACE(REPLACE(feature, '\\', '\\\\'), '\t', '\\t'), '\n', '\\n'))
             AS line
    FROM signals) AS numbered
  GROUP BY account_id, month, recorded_at, part) AS packed
ON DUPLICATE KEY UPDATE recorded_at = VALUES(recorded_at), signals = VALUES(signals);

ALTER TABLE signals DROP INDEX signals_time, DROP COLUMN kind, DROP COLUMN occurred_at,
  DROP COLUMN recorded_at, DROP COLUMN value, DROP COLUMN feature, DROP COLUMN csat;

UNLOCK TABLES;
