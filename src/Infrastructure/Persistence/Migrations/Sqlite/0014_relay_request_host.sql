-- The model host a request was last sent to (its worker id), NULL before it is dispatched: the dispatcher counts each
-- host's requests in flight against its slots, and a request is for that host alone.
ALTER TABLE relay_requests ADD COLUMN worker_id TEXT NULL;
