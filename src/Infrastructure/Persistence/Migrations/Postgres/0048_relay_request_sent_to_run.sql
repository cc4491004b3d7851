-- The run of its host (the boot id its heartbeats carry) the dispatching process had last heard when it sent a
-- request's attempt (issue 39): a process that never heard that run (the host's instance died, and the host, restarted,
-- dialled another) still knows, on hearing a later run of the host, that an attempt the host never acknowledged is not
-- with the run there now, and sends it again at once instead of at its ack timeout. Cleared when the request goes back
-- to the queue. NULL before a dispatch, and when the dispatching process had heard no run of the host. Nullable
-- columns without a default change only the catalog.
ALTER TABLE relay_requests ADD COLUMN sent_to_run uuid NULL;
