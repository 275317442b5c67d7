-- Duplicates are decided from signal_log instead of one `signals` row per key.
-- An ingest numbers the log rows it appends per account and month (log_no 1, 2, ...,
-- under the month's signal_counters row lock, which log_rows counts), and a replica
-- keeps the keys it has read per account and month in memory
-- (services/health/signal_key_cache.h): holding the month's lock, it reads only the
-- rows numbered above what it knows. Rows stored before this migration keep
-- log_no 0 and are read when a replica first loads the month.
--
-- `signals` holds nothing signal_log does not (every stored key is the first field
-- of a line there), so it goes. A replica of the previous version still running
-- fails its next ingest on the missing table and writes nothing; the client's retry
-- reaches a replica of this version.
--
-- The long statement (the index over every log row) comes first: stopped, it is
-- rolled back and the migration runs again from the start.
ALTER TABLE signal_log ADD COLUMN log_no INT UNSIGNED NOT NULL DEFAULT 0,
  ADD INDEX signal_log_no (account_id, month, log_no);
ALTER TABLE signal_counters ADD COLUMN log_rows INT UNSIGNED NOT NULL DEFAULT 0;
DROP TABLE signals;
