-- Sign-up policy and the first admin. An account registered while sign-up needs approval waits (awaiting_approval = 1;
-- status stays 'active' or 'banned', so the CHECK of 0001 holds): every account from before is approved, so nobody is
-- locked out by the upgrade.
ALTER TABLE users ADD COLUMN awaiting_approval INTEGER NOT NULL DEFAULT 0 CHECK (awaiting_approval IN (0, 1));

CREATE INDEX ix_users_role ON users (role);

-- Admins' invite links and the setup link's pass (kind 'setup': registers the first admin). Only the code's SHA-256
-- (hex) is kept; a pass is used once (used_at), and never after expires_at or revoked_at.
CREATE TABLE invites (
    id         TEXT    NOT NULL PRIMARY KEY,
    code_hash  TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('invite', 'setup')),
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NULL,
    used_by    TEXT    NULL,
    revoked_at INTEGER NULL
);

CREATE UNIQUE INDEX ux_invites_code_hash ON invites (code_hash);
CREATE INDEX ix_invites_kind_created ON invites (kind, created_at);
