-- Organising and import (issue 40).
-- A user's folders: a chat is in at most one (chat_sessions.folder_id); deleting a folder takes its chats out of it
-- (ON DELETE SET NULL: in the same statement, so a chat moved in meanwhile cannot stop it).
-- Names are unique per owner without regard to case.
CREATE TABLE chat_folders (
    id         TEXT    NOT NULL PRIMARY KEY,
    owner_id   TEXT    NOT NULL REFERENCES users (id),
    name       TEXT    NOT NULL COLLATE NOCASE,
    created_at INTEGER NOT NULL
);

CREATE UNIQUE INDEX ux_chat_folders_owner_name ON chat_folders (owner_id, name);

-- pinned_at: pinned chats come first in the list, the latest pinned first; archived_at: hidden from the list (kept,
-- listed under its Archived filter). Neither changes updated_at: organising a chat is not using it.
-- import_key: what an imported chat was called where it came from (the ChatGPT conversation's id, or the MeatLizard
-- export's chat id), so importing the same file again skips it.
ALTER TABLE chat_sessions ADD COLUMN pinned_at INTEGER NULL;
ALTER TABLE chat_sessions ADD COLUMN archived_at INTEGER NULL;
ALTER TABLE chat_sessions ADD COLUMN folder_id TEXT NULL REFERENCES chat_folders (id) ON DELETE SET NULL;
ALTER TABLE chat_sessions ADD COLUMN import_key TEXT NULL;

CREATE UNIQUE INDEX ux_chat_sessions_import_key ON chat_sessions (owner_id, import_key) WHERE import_key IS NOT NULL;

-- Chats deleted by their owner whose stored transcripts (transcripts/{owner}/{chat}/) may still be in the object store:
-- written in the transaction that deletes them, removed once the objects are gone (as erased_accounts is).
CREATE TABLE erased_chats (
    session_id TEXT    NOT NULL PRIMARY KEY,
    owner_id   TEXT    NOT NULL,
    erased_at  INTEGER NOT NULL
);
