-- The run of its host (the boot id its heartbeats carry) that acknowledged a request's attempt (issue 39): a process
-- that never heard that run (the host's instance died, and the host dialled another) still knows, on hearing another
-- run of the host, that the request was lost with it, and sends it again at once instead of at its deadline. Cleared
-- when the request goes back to the queue. NULL before an ack, and for acks that did not say (older hosts). Nullable
-- columns without a default change only the catalog.
ALTER TABLE relay_requests ADD COLUMN acked_by_run uuid NULL;
