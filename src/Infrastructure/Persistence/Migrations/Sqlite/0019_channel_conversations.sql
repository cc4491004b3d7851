-- Chat network members (Discord, Telegram) as MeatLizard users: made on a member's first message, moved to a web
-- account when the member links it (user_id changes), and the model the member prefers (/model). Ids are the
-- network's own, as text (Discord snowflakes, Telegram integers).
CREATE TABLE channel_identities (
    network         TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    preferred_model TEXT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (network, external_id)
);
CREATE INDEX ix_channel_identities_user ON channel_identities (user_id);

-- Which chat each message the bot posted belongs to, so a reply to any part of an answer continues that chat.
CREATE TABLE channel_messages (
    network    TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    session_id TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (network, chat_id, message_id)
);
CREATE INDEX ix_channel_messages_session ON channel_messages (session_id);

-- Each member's current chat in a place (a private chat goes on until /reset).
CREATE TABLE channel_current_chats (
    network    TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    session_id TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    PRIMARY KEY (network, chat_id, member_id)
);
CREATE INDEX ix_channel_current_chats_session ON channel_current_chats (session_id);
