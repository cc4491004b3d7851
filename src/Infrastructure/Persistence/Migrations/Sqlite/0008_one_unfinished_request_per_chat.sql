-- One unfinished request per chat, kept by the database itself: the send's and regenerate's checks read before they
-- write, so two racing calls could both queue a request and the chat got two answers. A chat that already holds more
-- than one keeps its newest; the older ones end as failed (they would have answered a message twice).
UPDATE relay_requests
SET status = 'failed',
    error = 'superseded: the chat had another unfinished request (migration 0008)',
    finished_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
WHERE status IN ('pending', 'dispatched', 'streaming')
  AND EXISTS (SELECT 1 FROM relay_requests newer
              WHERE newer.session_id = relay_requests.session_id
                AND newer.status IN ('pending', 'dispatched', 'streaming')
                AND (newer.created_at > relay_requests.created_at
                     OR (newer.created_at = relay_requests.created_at AND newer.rowid > relay_requests.rowid)));

CREATE UNIQUE INDEX ux_relay_requests_one_unfinished ON relay_requests (session_id)
    WHERE status IN ('pending', 'dispatched', 'streaming');
