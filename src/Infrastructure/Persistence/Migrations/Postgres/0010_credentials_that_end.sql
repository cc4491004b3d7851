-- Credentials that end when they should. Every sign-in (cookie and access token) carries the user's security stamp,
-- compared with this column on each request: a ban, a password change or "sign out everywhere" changes it and every
-- session of the user ends at once, in every API instance (the user cache is dropped everywhere on a write). Existing
-- users get a fresh stamp; credentials issued before this migration carry none and are refused (sign in again).
ALTER TABLE users ADD COLUMN security_stamp text NOT NULL DEFAULT '';
UPDATE users SET security_stamp = replace(gen_random_uuid()::text, '-', '');

-- Sessions ended one by one (logout ends the session it was called with). A row is needed only while a credential of
-- that session could still be valid (until): older rows are deleted when the user ends another session.
CREATE TABLE user_ended_sessions (
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id text        NOT NULL,
    until      timestamptz NOT NULL,
    PRIMARY KEY (user_id, session_id)
);
