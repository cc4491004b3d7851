-- sqlite: foreign_keys off
-- OpenAI's function calling: an answer of the model's may ask for tool calls (a JSON array of {"id", "name",
-- "arguments"}, NULL when it asks for none), and the caller's results come back as messages of the new 'tool' role,
-- each naming the call it answers. Both columns are NULL on every message stored before.
-- SQLite cannot change a table's CHECK constraint: the table is made again with the new role allowed and its rows
-- copied (seq, the rowid, kept), as SQLite documents for such changes (foreign keys off around it, checked before the
-- commit by the migrator: relay_requests.user_message_id refers to messages).
CREATE TABLE messages_new (
    seq               INTEGER NOT NULL PRIMARY KEY,
    id                TEXT    NOT NULL,
    session_id        TEXT    NOT NULL REFERENCES chat_sessions (id),
    role              TEXT    NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content           TEXT    NOT NULL,
    source            TEXT    NOT NULL CHECK (source IN ('user', 'model', 'fallback', 'notice')),
    prompt_tokens     INTEGER NULL,
    completion_tokens INTEGER NULL,
    request_id        TEXT    NULL,
    created_at        INTEGER NOT NULL,
    model             TEXT    NULL,
    finish_reason     TEXT    NULL,
    tool_calls        TEXT    NULL,
    tool_call_id      TEXT    NULL
);

INSERT INTO messages_new (seq, id, session_id, role, content, source, prompt_tokens, completion_tokens, request_id,
                          created_at, model, finish_reason)
SELECT seq, id, session_id, role, content, source, prompt_tokens, completion_tokens, request_id, created_at, model,
       finish_reason
FROM messages;

DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE UNIQUE INDEX ux_messages_id ON messages (id);
CREATE INDEX ix_messages_session_seq ON messages (session_id, seq);
