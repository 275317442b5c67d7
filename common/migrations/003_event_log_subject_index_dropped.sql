-- No reader looks events up by subject: consumers and the event APIs read the log
-- by sequence only. The index on (subject_id, sequence) was one more B-tree insert
-- for every event every service appends (about 1.8 per account in a rescore), so
-- it goes. Dropping an index is an in-place change; replicas of the previous
-- version never used it.
ALTER TABLE event_log DROP INDEX event_log_subject;
