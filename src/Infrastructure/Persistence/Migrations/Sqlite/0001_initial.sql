-- Ids are TEXT (lower-case Guid "D" format), timestamps INTEGER unix milliseconds (UTC), enums lower-case TEXT.

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('user', 'admin')),
    status        TEXT    NOT NULL CHECK (status IN ('active', 'banned')),
    default_model TEXT    NULL,
    system_prompt TEXT    NULL,
    created_at    INTEGER NOT NULL
);

-- The column's NOCASE collation makes the index (and every lookup by username) case-insensitive.
CREATE UNIQUE INDEX ux_users_username ON users (username);

CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    owner_id     TEXT    NOT NULL REFERENCES users (id),
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    secret_hash  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NULL,
    revoked_at   INTEGER NULL
);

CREATE UNIQUE INDEX ux_api_keys_prefix ON api_keys (prefix);
CREATE INDEX ix_api_keys_owner ON api_keys (owner_id, created_at);

CREATE TABLE chat_sessions (
    id                 TEXT    NOT NULL PRIMARY KEY,
    owner_id           TEXT    NOT NULL REFERENCES users (id),
    title              TEXT    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('active', 'closed')),
    model              TEXT    NULL,
    system_prompt      TEXT    NULL,
    temperature        REAL    NULL,
    top_p              REAL    NULL,
    max_tokens         INTEGER NULL,
    discord_channel_id TEXT    NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    closed_at          INTEGER NULL
);

CREATE INDEX ix_chat_sessions_owner_updated ON chat_sessions (owner_id, updated_at);

-- seq aliases the rowid: it grows with every insert and gives messages a stable order (and the paging cursor).
CREATE TABLE messages (
    seq               INTEGER NOT NULL PRIMARY KEY,
    id                TEXT    NOT NULL,
    session_id        TEXT    NOT NULL REFERENCES chat_sessions (id),
    role              TEXT    NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content           TEXT    NOT NULL,
    source            TEXT    NOT NULL CHECK (source IN ('user', 'model', 'fallback', 'notice')),
    prompt_tokens     INTEGER NULL,
    completion_tokens INTEGER NULL,
    request_id        TEXT    NULL,
    created_at        INTEGER NOT NULL
);

CREATE UNIQUE INDEX ux_messages_id ON messages (id);
CREATE INDEX ix_messages_session_seq ON messages (session_id, seq);

-- The outbox: one row per request for an answer.
CREATE TABLE relay_requests (
    id                  TEXT    NOT NULL PRIMARY KEY,
    session_id          TEXT    NOT NULL REFERENCES chat_sessions (id),
    user_id             TEXT    NOT NULL REFERENCES users (id),
    user_message_id     TEXT    NOT NULL REFERENCES messages (id),
    temperature         REAL    NULL,
    top_p               REAL    NULL,
    max_tokens          INTEGER NULL,
    status              TEXT    NOT NULL CHECK (status IN ('pending', 'dispatched', 'streaming', 'completed',
                                                            'timedout', 'fallback', 'failed', 'cancelled')),
    attempts            INTEGER NOT NULL,
    last_seq            INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    dispatched_at       INTEGER NULL,
    acked_at            INTEGER NULL,
    ack_deadline        INTEGER NULL,
    completion_deadline INTEGER NULL,
    finished_at         INTEGER NULL,
    answer_message_id   TEXT    NULL,
    timeout_reason      TEXT    NULL CHECK (timeout_reason IN ('noworker', 'noack', 'nocompletion')),
    error               TEXT    NULL
);

CREATE INDEX ix_relay_requests_status_created ON relay_requests (status, created_at);
CREATE INDEX ix_relay_requests_session_status ON relay_requests (session_id, status, created_at);

CREATE TABLE settings (
    key        TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE metrics (
    id                INTEGER NOT NULL PRIMARY KEY,
    request_id        TEXT    NOT NULL,
    session_id        TEXT    NOT NULL,
    recorded_at       INTEGER NOT NULL,
    queue_ms          INTEGER NOT NULL,
    relay_ms          INTEGER NOT NULL,
    inference_ms      INTEGER NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    fallback          INTEGER NOT NULL CHECK (fallback IN (0, 1)),
    outcome           TEXT    NOT NULL
);

CREATE INDEX ix_metrics_recorded ON metrics (recorded_at);

CREATE TABLE audit_log (
    id          INTEGER NOT NULL PRIMARY KEY,
    occurred_at INTEGER NOT NULL,
    actor_id    TEXT    NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NULL,
    details     TEXT    NULL
);

CREATE INDEX ix_audit_log_occurred ON audit_log (occurred_at);
