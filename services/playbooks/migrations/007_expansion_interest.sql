-- The requests of one interest (account, signal kind, feature): a new GREEN
-- expansion signal joins the opportunity its latest sent request opened while that
-- one is open, instead of opening another (PlaybookService::OpenOrJoin).
ALTER TABLE expansion_requests
  ADD KEY expansion_by_interest (account_id, signal_kind, feature, sent_at);
