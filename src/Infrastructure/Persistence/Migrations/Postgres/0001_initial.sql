-- The same tables as the SQLite set, in PostgreSQL's own types: ids uuid, instants timestamptz, enums lower-case text.
-- seq columns give rows made in the same instant a stable order, as SQLite's rowid does.

CREATE TABLE users (
    id            uuid        NOT NULL PRIMARY KEY,
    username      text        NOT NULL,
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('user', 'admin')),
    status        text        NOT NULL CHECK (status IN ('active', 'banned')),
    default_model text        NULL,
    system_prompt text        NULL,
    created_at    timestamptz NOT NULL
);

-- Usernames are unique without regard to case; lookups use the same expression, so they use this index.
CREATE UNIQUE INDEX ux_users_username ON users (lower(username));

CREATE TABLE api_keys (
    seq          bigint      GENERATED ALWAYS AS IDENTITY,
    id           uuid        NOT NULL PRIMARY KEY,
    owner_id     uuid        NOT NULL REFERENCES users (id),
    name         text        NOT NULL,
    prefix       text        NOT NULL,
    secret_hash  text        NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz NULL,
    revoked_at   timestamptz NULL
);

CREATE UNIQUE INDEX ux_api_keys_prefix ON api_keys (prefix);
CREATE INDEX ix_api_keys_owner ON api_keys (owner_id, created_at);

CREATE TABLE chat_sessions (
    seq                bigint           GENERATED ALWAYS AS IDENTITY,
    id                 uuid             NOT NULL PRIMARY KEY,
    owner_id           uuid             NOT NULL REFERENCES users (id),
    title              text             NOT NULL,
    status             text             NOT NULL CHECK (status IN ('active', 'closed')),
    model              text             NULL,
    system_prompt      text             NULL,
    temperature        double precision NULL,
    top_p              double precision NULL,
    max_tokens         integer          NULL,
    discord_channel_id text             NULL,
    created_at         timestamptz      NOT NULL,
    updated_at         timestamptz      NOT NULL,
    closed_at          timestamptz      NULL
);

CREATE INDEX ix_chat_sessions_owner_updated ON chat_sessions (owner_id, updated_at);

CREATE TABLE messages (
    seq               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                uuid        NOT NULL,
    session_id        uuid        NOT NULL REFERENCES chat_sessions (id),
    role              text        NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content           text        NOT NULL,
    source            text        NOT NULL CHECK (source IN ('user', 'model', 'fallback', 'notice')),
    prompt_tokens     integer     NULL,
    completion_tokens integer     NULL,
    request_id        uuid        NULL,
    created_at        timestamptz NOT NULL
);

CREATE UNIQUE INDEX ux_messages_id ON messages (id);
CREATE INDEX ix_messages_session_seq ON messages (session_id, seq);

-- The outbox and the dispatchers' queue. claimed_until is the lease of the dispatcher that claimed a pending request:
-- until then no other dispatcher takes it; after it (the dispatcher died) the request is claimable again.
CREATE TABLE relay_requests (
    seq                 bigint           GENERATED ALWAYS AS IDENTITY,
    id                  uuid             NOT NULL PRIMARY KEY,
    session_id          uuid             NOT NULL REFERENCES chat_sessions (id),
    user_id             uuid             NOT NULL REFERENCES users (id),
    user_message_id     uuid             NOT NULL REFERENCES messages (id),
    temperature         double precision NULL,
    top_p               double precision NULL,
    max_tokens          integer          NULL,
    status              text             NOT NULL CHECK (status IN ('pending', 'dispatched', 'streaming', 'completed',
                                                                    'timedout', 'fallback', 'failed', 'cancelled')),
    attempts            integer          NOT NULL,
    last_seq            integer          NOT NULL,
    created_at          timestamptz      NOT NULL,
    dispatched_at       timestamptz      NULL,
    acked_at            timestamptz      NULL,
    ack_deadline        timestamptz      NULL,
    completion_deadline timestamptz      NULL,
    finished_at         timestamptz      NULL,
    answer_message_id   uuid             NULL,
    timeout_reason      text             NULL CHECK (timeout_reason IN ('noworker', 'noack', 'nocompletion')),
    error               text             NULL,
    claimed_until       timestamptz      NULL
);

CREATE INDEX ix_relay_requests_pending ON relay_requests (created_at, seq) WHERE status = 'pending';
CREATE INDEX ix_relay_requests_in_flight ON relay_requests (created_at, seq) WHERE status IN ('dispatched', 'streaming');
CREATE INDEX ix_relay_requests_session_status ON relay_requests (session_id, status, created_at);

-- Every committed insert wakes the dispatchers that LISTEN on this channel, in whichever process they run.
CREATE FUNCTION notify_relay_request_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('meatlizard_relay_queue', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER relay_requests_notify AFTER INSERT ON relay_requests
    FOR EACH STATEMENT EXECUTE FUNCTION notify_relay_request_queued();

CREATE TABLE settings (
    key        text        NOT NULL PRIMARY KEY,
    value      text        NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE metrics (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id        uuid        NOT NULL,
    session_id        uuid        NOT NULL,
    recorded_at       timestamptz NOT NULL,
    queue_ms          integer     NOT NULL,
    relay_ms          integer     NOT NULL,
    inference_ms      integer     NULL,
    prompt_tokens     integer     NOT NULL,
    completion_tokens integer     NOT NULL,
    fallback          boolean     NOT NULL,
    outcome           text        NOT NULL
);

CREATE INDEX ix_metrics_recorded ON metrics (recorded_at);

CREATE TABLE audit_log (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor_id    uuid        NULL,
    action      text        NOT NULL,
    target      text        NULL,
    details     text        NULL
);

CREATE INDEX ix_audit_log_occurred ON audit_log (occurred_at);
