-- Personas and erased accounts (issue 37).
-- A persona is a prompt preset: a name, a system prompt, and optionally a model and a temperature, chosen when a chat
-- starts (the chat copies them; editing or deleting the persona later changes no chat). owner_id NULL: a shared
-- persona an admin made for everyone. Names are unique per owner (and among the shared ones) without regard to case.
CREATE TABLE personas (
    id            TEXT    NOT NULL PRIMARY KEY,
    owner_id      TEXT    NULL REFERENCES users (id),
    name          TEXT    NOT NULL COLLATE NOCASE,
    system_prompt TEXT    NOT NULL,
    model         TEXT    NULL,
    temperature   REAL    NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE UNIQUE INDEX ux_personas_owner_name ON personas (COALESCE(owner_id, ''), name);

-- The persona a chat network member chose with /persona for their new chats (NULL: none); a deleted persona is no
-- longer chosen.
ALTER TABLE channel_identities ADD COLUMN persona_id TEXT NULL REFERENCES personas (id) ON DELETE SET NULL;

-- Accounts deleted whose objects (stored transcripts under transcripts/{user id}/) may still be in the object store:
-- written in the transaction that deletes the account, removed once the objects are gone, so a deletion the object
-- store refused (or a crash right after the commit) is finished by the next sweep.
CREATE TABLE erased_accounts (
    user_id   TEXT    NOT NULL PRIMARY KEY,
    erased_at INTEGER NOT NULL
);
