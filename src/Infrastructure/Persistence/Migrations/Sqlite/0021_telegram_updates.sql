-- Telegram long polling (getUpdates): where the bot is in its update queue, and the updates it took but has not yet
-- handled. Updates are stored here in the same transaction that moves the offset forward, and only then confirmed to
-- Telegram (by the next getUpdates with that offset), so an update is never lost across a restart; each row is removed
-- once its update is handled, so it is never handled twice. Per bot id: another token is another queue.
CREATE TABLE telegram_offsets (
    bot_id      TEXT    NOT NULL PRIMARY KEY,
    next_offset INTEGER NOT NULL
);

CREATE TABLE telegram_pending_updates (
    bot_id    TEXT    NOT NULL,
    update_id INTEGER NOT NULL,
    payload   TEXT    NOT NULL,
    PRIMARY KEY (bot_id, update_id)
);
