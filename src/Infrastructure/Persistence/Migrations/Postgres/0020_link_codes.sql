-- One-time codes with which a web user links a chat network identity to their account: only the code's SHA-256 (hex)
-- is kept, a code is deleted when used, and expired ones are never accepted.
CREATE TABLE link_codes (
    code_hash  text        NOT NULL PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE INDEX ix_link_codes_expires ON link_codes (expires_at);
