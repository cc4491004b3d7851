-- Three parts: full-text search, share links, feedback on answers.
-- Full-text search over a user's chats: their titles and their messages' content (issue 40). FTS5 indexes, kept in
-- step by triggers, so every writer of messages and chats (sends, answers, edits, renames, forgetting a chat) keeps
-- them without knowing of them. Terms are matched whole and without regard to case; diacritics count (remove_diacritics
-- 0), as PostgreSQL's 'simple' configuration counts them, so both databases find the same messages.
-- A later migration that makes messages or chat_sessions again (DROP TABLE) drops these triggers with the table: it
-- must create them again (the search contract tests would fail).

-- Messages: the index reads their content from the table itself (external content, by seq, their rowid alias).
CREATE VIRTUAL TABLE message_search USING fts5(
    content, content = 'messages', content_rowid = 'seq', tokenize = 'unicode61 remove_diacritics 0');

INSERT INTO message_search (message_search) VALUES ('rebuild');

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_search (rowid, content) VALUES (new.seq, new.content);
END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, content) VALUES ('delete', old.seq, old.content);
END;

CREATE TRIGGER messages_search_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, content) VALUES ('delete', old.seq, old.content);
    INSERT INTO message_search (rowid, content) VALUES (new.seq, new.content);
END;

-- Titles: chat_sessions has no INTEGER PRIMARY KEY, and a VACUUM may renumber such a table's rowids, so a chat gets
-- an index row number of its own here (chat_search_rows.seq) and the index keeps its own copy of the title.
CREATE TABLE chat_search_rows (
    seq        INTEGER NOT NULL PRIMARY KEY,
    session_id TEXT    NOT NULL UNIQUE
);

CREATE VIRTUAL TABLE chat_search USING fts5(title, tokenize = 'unicode61 remove_diacritics 0');

INSERT INTO chat_search_rows (session_id) SELECT id FROM chat_sessions ORDER BY rowid;
INSERT INTO chat_search (rowid, title)
SELECT r.seq, s.title FROM chat_search_rows r JOIN chat_sessions s ON s.id = r.session_id;

CREATE TRIGGER chat_sessions_search_insert AFTER INSERT ON chat_sessions BEGIN
    INSERT INTO chat_search_rows (session_id) VALUES (new.id);
    INSERT INTO chat_search (rowid, title)
    VALUES ((SELECT seq FROM chat_search_rows WHERE session_id = new.id), new.title);
END;

-- Every send writes the title as it stands; only a changed one is indexed again.
CREATE TRIGGER chat_sessions_search_update AFTER UPDATE OF title ON chat_sessions WHEN old.title IS NOT new.title BEGIN
    DELETE FROM chat_search WHERE rowid = (SELECT seq FROM chat_search_rows WHERE session_id = old.id);
    INSERT INTO chat_search (rowid, title)
    VALUES ((SELECT seq FROM chat_search_rows WHERE session_id = old.id), new.title);
END;

CREATE TRIGGER chat_sessions_search_delete AFTER DELETE ON chat_sessions BEGIN
    DELETE FROM chat_search WHERE rowid = (SELECT seq FROM chat_search_rows WHERE session_id = old.id);
    DELETE FROM chat_search_rows WHERE session_id = old.id;
END;

-- Share links (issue 40): a read-only copy of a chat up to a chosen message, read by anyone who holds the link's token
-- (only its SHA-256 is stored). A copy rather than a view of the chat, so nothing its owner writes, edits or removes
-- afterwards shows in it; revoking a link deletes its copy. The chat is named without a foreign key: the copy stands on
-- its own if the chat is deleted.
CREATE TABLE share_links (
    id               TEXT    NOT NULL PRIMARY KEY,
    owner_id         TEXT    NOT NULL REFERENCES users (id),
    session_id       TEXT    NOT NULL,
    token_hash       TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    up_to_message_id TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    revoked_at       INTEGER NULL
);

CREATE UNIQUE INDEX ux_share_links_token ON share_links (token_hash);
CREATE INDEX ix_share_links_owner ON share_links (owner_id, created_at);

-- position: the message's seq in its chat, the order it was stored in.
CREATE TABLE share_link_messages (
    link_id    TEXT    NOT NULL REFERENCES share_links (id),
    position   INTEGER NOT NULL,
    role       TEXT    NOT NULL,
    content    TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    model      TEXT    NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (link_id, position)
);

-- Feedback on answers (issue 40): the chat owner's thumbs up or down, with an optional comment, one per answer
-- (changed in place), stored with the model that wrote the answer and the host that ran it (relay_requests.worker_id),
-- so admins see it per model even after the answer is regenerated away: no foreign key to the message.
CREATE TABLE answer_feedback (
    message_id TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    rating     TEXT    NOT NULL CHECK (rating IN ('up', 'down')),
    comment    TEXT    NULL,
    model      TEXT    NULL,
    host       TEXT    NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX ix_answer_feedback_session ON answer_feedback (session_id);
CREATE INDEX ix_answer_feedback_model ON answer_feedback (model);
