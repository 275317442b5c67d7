-- The advocacy candidates are GREEN accounts read by score; no read ranges over
-- the scores of other bands. standing_by_band (band, score) moved an index entry on
-- every score change of every account; green_score holds the score of GREEN
-- accounts only (NULL otherwise), so a RED or YELLOW account's new score leaves the
-- index as it was. A stored column: computed on write, the same in MySQL 5.7+.
ALTER TABLE account_standing
  ADD COLUMN green_score DOUBLE AS (IF(band = 'GREEN', score, NULL)) STORED,
  DROP INDEX standing_by_band,
  ADD KEY standing_green (green_score);
