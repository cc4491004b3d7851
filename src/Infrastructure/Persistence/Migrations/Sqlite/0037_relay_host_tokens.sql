-- The direct relay's host tokens (issue 39): a model host dials the server and presents its token; an admin makes one
-- per host name (`hosts add NAME`), shown once, and revokes it (`hosts revoke NAME`). Only the token's SHA-256 (hex) is
-- kept. One live token per name; revoked ones stay listed.
CREATE TABLE relay_host_tokens (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    token_hash TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NULL
);

CREATE UNIQUE INDEX ux_relay_host_tokens_hash ON relay_host_tokens (token_hash);
CREATE UNIQUE INDEX ux_relay_host_tokens_live_name ON relay_host_tokens (name) WHERE revoked_at IS NULL;
