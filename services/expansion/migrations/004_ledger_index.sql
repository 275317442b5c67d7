-- What the in-memory ledger index of each replica tails besides new
-- revenue_movements rows (which it reads by movement_id). Every change the service
-- makes to a movement after its insert (a re-import correcting or removing a derived
-- movement) and every profile write (the tier "by tier" metrics read) appends a row
-- here in the same transaction, so a replica sees it by change_id as it sees
-- movements by movement_id. A movement change carries the values it replaced, so the
-- index can take them out without keeping every movement; a profile change only
-- names the account (movement_id NULL), whose profile is then read again.
CREATE TABLE ledger_changes (
  change_id BIGINT NOT NULL AUTO_INCREMENT,
  account_id VARCHAR(128) NOT NULL,
  movement_id BIGINT NULL,
  month DATE NULL,
  old_kind VARCHAR(16) NULL,
  old_mrr_change_minor BIGINT NULL,
  -- NULL when the movement was removed.
  new_kind VARCHAR(16) NULL,
  new_mrr_change_minor BIGINT NULL,
  changed_at DATETIME(6) NOT NULL,
  PRIMARY KEY (change_id)
) ENGINE=InnoDB;

-- GetPipelineSummary sums open opportunities in the database by stage, kind, tier
-- and quarter of expected close. Each row's quarter and rounded weighted amount
-- (round(amount x probability / 100), half away from zero, as WeightedAmount) are
-- stored with it, and this index holds every column the query reads in the order
-- it groups by: the sum is one ordered pass over the index, with neither a
-- temporary table nor a read of the rows themselves.
ALTER TABLE opportunities
  ADD COLUMN close_quarter INT AS (YEAR(expected_close_date) * 4 + QUARTER(expected_close_date) - 1)
    STORED,
  ADD COLUMN weighted_minor BIGINT
    AS (ROUND(CAST(amount_minor AS DECIMAL(20, 0)) * probability_percent / 100)) STORED,
  ADD KEY opportunities_pipeline (currency, stage, kind, tier, close_quarter, owner_id,
                                  amount_minor, weighted_minor);
