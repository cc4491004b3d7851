-- Where the server bot is in each Discord channel it reads: the last message it handled (a snowflake; every message
-- at or before it was handled). Read at start and on every new gateway session, so what was posted while the bot was
-- down is read from there instead of being skipped; it only moves forward.
CREATE TABLE relay_channel_cursors (
    channel_id      TEXT    NOT NULL PRIMARY KEY,
    last_message_id INTEGER NOT NULL
);
