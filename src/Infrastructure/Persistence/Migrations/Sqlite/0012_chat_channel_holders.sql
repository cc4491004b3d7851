-- The open chats holding a Discord channel, read when a channel has to be taken back from an idle chat (a user over
-- Discord:MaxChannelsPerUser, or a full category): only the few chats with a channel, not every chat ever made.
CREATE INDEX ix_chat_sessions_discord_channel ON chat_sessions (owner_id) WHERE discord_channel_id IS NOT NULL;
