-- relay_requests by chat, whatever the status (as SQLite's 0050 made it). Since 0007 only the unanswered requests were
-- indexed by chat, so deleting a chat (its owner, an admin, the retention sweep) found its finished requests by reading
-- the whole table: EXPLAIN ANALYZE of DELETE FROM relay_requests WHERE session_id = ... at 200,000 requests, a Seq Scan
-- of 9.6 ms per chat, growing with the table (a sweep of a thousand expired chats read it a thousand times).
-- And 0007's ix_relay_requests_unanswered_session is the same index as 0008's ux_relay_requests_one_unfinished (the chat,
-- for the unanswered statuses alike): every unanswered row version went into both. It goes; the unique one serves the
-- same reads. Per request: one index entry for each of its row versions (a status change is never HOT), against the
-- entries of its unanswered versions the duplicate took.
DROP INDEX IF EXISTS ix_relay_requests_unanswered_session;
CREATE INDEX IF NOT EXISTS ix_relay_requests_session ON relay_requests (session_id);
