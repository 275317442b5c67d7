-- Which ingest transaction stored each signal. The ingest appends a batch with
-- INSERT ... ON DUPLICATE KEY UPDATE (a no-op for a key already stored) and tells
-- the signals it stored from those stored before by this value, instead of
-- reading every key before inserting it. 0 for signals stored before this column.
ALTER TABLE signals ADD COLUMN ingest_group BIGINT UNSIGNED NOT NULL DEFAULT 0;
