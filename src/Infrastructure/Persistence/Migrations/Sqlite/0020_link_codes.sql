-- One-time codes with which a web user links a chat network identity to their account: only the code's SHA-256 (hex)
-- is kept, a code is deleted when used, and expired ones are never accepted.
CREATE TABLE link_codes (
    code_hash  TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE INDEX ix_link_codes_expires ON link_codes (expires_at);
