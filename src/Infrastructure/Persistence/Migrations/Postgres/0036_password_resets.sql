-- Password reset passes (issue 37): an admin makes one for an account whose password is forgotten; whoever opens its
-- link sets a new password, once, before expires_at. Only the code's SHA-256 (hex) is kept. One per account at most: a
-- new one replaces the one before; a used one is deleted.
CREATE TABLE password_resets (
    user_id    uuid        NOT NULL PRIMARY KEY REFERENCES users (id),
    code_hash  text        NOT NULL,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE UNIQUE INDEX ux_password_resets_code_hash ON password_resets (code_hash);
