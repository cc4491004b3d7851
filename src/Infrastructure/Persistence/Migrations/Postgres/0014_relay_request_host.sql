-- The model host a request was last sent to (its worker id), NULL before it is dispatched: the dispatcher counts each
-- host's requests in flight against its slots, and a request is for that host alone. Adding a nullable column without
-- a default changes only the catalog; the count reads the in-flight rows through ix_relay_requests_in_flight.
ALTER TABLE relay_requests ADD COLUMN worker_id uuid NULL;
