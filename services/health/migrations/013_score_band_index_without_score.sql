-- account_scores_band narrowed to (score_name, band). No read orders by it: the
-- at-risk list orders by score and then by the accounts table's key, so it sorts its
-- band's rows whatever the index holds, and the band counts need only the band.
-- With the score in the key, every rescore that moved a score and kept its band
-- moved the account's index entry as well; now only a band change does.
ALTER TABLE account_scores DROP INDEX account_scores_band,
  ADD KEY account_scores_band (score_name, band);
