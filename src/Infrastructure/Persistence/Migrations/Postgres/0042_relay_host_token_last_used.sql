-- When each host token last let its host in (issue 39): the admin console and `hosts list` show it, so an admin sees
-- which tokens are in use before revoking one. NULL until its host first connects.
ALTER TABLE relay_host_tokens ADD COLUMN last_used_at timestamptz NULL;
