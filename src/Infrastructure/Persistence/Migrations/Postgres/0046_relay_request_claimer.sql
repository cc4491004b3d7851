-- Which dispatcher run claimed a request (issue 36): "machine:process id:run", as the duties' holders are named. A run
-- known to be dead (a process of the same machine that no longer runs, or a run its own process ended) leaves its
-- claims to the live dispatchers at once instead of when claimed_until runs out. Kept once the request is dispatched:
-- it then names the run that dispatched it. NULL for claims made before this migration (their leases are waited out).
ALTER TABLE relay_requests ADD COLUMN claimed_by text NULL;
