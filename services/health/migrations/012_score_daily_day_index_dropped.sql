-- Every read of score_daily names the account (trends and as-of reads, by the
-- primary key); none filters by score name and day alone. The index on
-- (score_name, day) was one more B-tree insert for every account's daily score row,
-- written by each day's rescore, so it goes. In-place; replicas of the previous
-- version never used it.
ALTER TABLE score_daily DROP INDEX score_daily_day;
