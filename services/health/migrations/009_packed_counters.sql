-- Daily counters packed per account and month (services/health/packed_rows.h):
-- scoring reads a 90-day window as about four rows per account instead of one row
-- per day and counter, and an ingest group rewrites one row per account and month
-- it touches. The text is "<day of month>\t<counter>\t<value>" lines joined by
-- '\n', with '\\', tab and newline in counter names escaped.
--
-- Replicas of the previous version may still be writing signal_daily while this
-- runs: the copy and the drop happen under LOCK TABLES, so a write lands before
-- the copy or fails (the table is gone) and is retried against the new version;
-- none is dropped unseen. A run stopped half way can run again: the table exists
-- already and the copy replaces what a stopped run wrote.
CREATE TABLE IF NOT EXISTS signal_counters (
  account_id VARCHAR(128) NOT NULL,
  month DATE NOT NULL,
  counters MEDIUMBLOB NOT NULL,
  PRIMARY KEY (account_id, month)
) ENGINE=InnoDB;

-- Long enough for any account and month (the default is 1 MiB). It stays set on
-- the migrating connection, where nothing else reads GROUP_CONCAT.
SET SESSION group_concat_max_len = 16777216;

LOCK TABLES signal_daily WRITE, signal_counters WRITE;

INSERT INTO signal_counters (account_id, month, counters)
SELECT account_id, DATE_FORMAT(day, '%Y-%m-01'),
       GROUP_CONCAT(DAYOFMONTH(day), '\t',
                    REPLACE(REPLACE(REPLACE(counter, '\\', '\\\\'), '\t', '\\t'), '\n', '\\n'),
                    '\t', value ORDER BY day, counter SEPARATOR '\n')
FROM signal_daily
GROUP BY account_id, DATE_FORMAT(day, '%Y-%m-01')
ON DUPLICATE KEY UPDATE counters = VALUES(counters);

DROP TABLE signal_daily;

UNLOCK TABLES;
