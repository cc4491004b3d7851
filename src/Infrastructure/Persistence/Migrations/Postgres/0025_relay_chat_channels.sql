-- Which Discord relay channel each chat holds, in a table of the relay's own rather than a column of the chat: the chat
-- was saved whole (title, model, ... and this), so a rename in the API and a channel assignment by the server bot,
-- each from its own read of the chat, could overwrite one another.
CREATE TABLE relay_chat_channels (
    session_id uuid PRIMARY KEY REFERENCES chat_sessions (id) ON DELETE CASCADE,
    channel_id text NOT NULL
);
INSERT INTO relay_chat_channels (session_id, channel_id)
SELECT id, discord_channel_id FROM chat_sessions WHERE discord_channel_id IS NOT NULL;
DROP INDEX ix_chat_sessions_discord_channel;
ALTER TABLE chat_sessions DROP COLUMN discord_channel_id;
