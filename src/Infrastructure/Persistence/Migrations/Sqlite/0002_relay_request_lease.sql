-- The lease of the dispatcher that claimed a pending request (unix ms): until then no other dispatcher takes it;
-- after it (the dispatcher died) the request is claimable again.
ALTER TABLE relay_requests ADD COLUMN claimed_until INTEGER NULL;
