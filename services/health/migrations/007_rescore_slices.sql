-- A rescore job is worked in slices of consecutive accounts, so that every worker
-- thread of every replica can share one job. A slice is cut by moving the job's
-- cursor past it (a short transaction on the job row) and rescored in a
-- transaction of its own that marks it done; a slice whose worker died stays open
-- and is taken by the next worker. The last slice done finishes the job.
ALTER TABLE rescore_jobs
  ADD COLUMN slices INT NOT NULL DEFAULT 0,
  ADD COLUMN all_cut TINYINT NOT NULL DEFAULT 0;

CREATE TABLE rescore_job_slices (
  job_id BIGINT NOT NULL,
  slice_no INT NOT NULL,
  after_account_id VARCHAR(128) NOT NULL,
  last_account_id VARCHAR(128) NOT NULL,
  accounts INT NOT NULL DEFAULT 0,
  done_at DATETIME(6) NULL,
  PRIMARY KEY (job_id, slice_no),
  KEY rescore_job_slices_open (done_at, job_id, slice_no)
) ENGINE=InnoDB;
