-- When the first piece of the answer that carried text reached the server (issue 37): set once by the answering
-- attempt's first partial (or its final, when no partial came), cleared when the request goes back to the queue, so it
-- is always the attempt that answered. Nullable columns without a default change only the catalog.
ALTER TABLE relay_requests ADD COLUMN first_piece_at timestamptz NULL;

-- The measured time to first token of an answered request: from the message being queued to its first piece of text;
-- NULL when nothing with text arrived (a fallback, a notice, a request stored before it was measured).
ALTER TABLE metrics ADD COLUMN first_token_ms integer NULL;
