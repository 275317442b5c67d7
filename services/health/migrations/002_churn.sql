-- MarkChurned: when and why an account churned.
ALTER TABLE accounts
  ADD COLUMN churned_on DATE NULL,
  ADD COLUMN churn_reason VARCHAR(500) NOT NULL DEFAULT '';
