-- Three parts: full-text search, share links, feedback on answers.
-- Full-text search over a user's chats: their titles and their messages' content (issue 40). Each row carries its
-- tsvector as a stored generated column, so the same INSERT or UPDATE that writes the text writes its index entry,
-- whoever the writer is; adding the columns computes them for every row already stored. The 'simple' configuration
-- (lower case, no stemming, no stop words) because chats are in any language.
-- ASCII punctuation becomes spaces first: PostgreSQL's parser would otherwise read markup as such and leave it out
-- (no 'script' in "<script>", no 'example' in "ada@example.com", "3.14" one number), where SQLite's FTS5 splits at
-- every such character; this way both databases find the same words in the same text.
-- A message's vector covers its first 100,000 characters: a tsvector holds at most 1 MB, and a longer answer must
-- still be stored (the writer would fail otherwise).
ALTER TABLE messages
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple',
        translate(left(content, 100000), '!"#$%&''()*+,-./:;<=>?@[\]^_`{|}~', '                                '))) STORED;
CREATE INDEX ix_messages_search ON messages USING gin (search_vector);

-- Every send writes the chat's title; an unchanged title leaves the vector, and so the index, as it was (the update
-- stays HOT, see 0007).
ALTER TABLE chat_sessions
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple',
        translate(title, '!"#$%&''()*+,-./:;<=>?@[\]^_`{|}~', '                                '))) STORED;
CREATE INDEX ix_chat_sessions_search ON chat_sessions USING gin (search_vector);

-- Share links (issue 40): a read-only copy of a chat up to a chosen message, read by anyone who holds the link's token
-- (only its SHA-256 is stored). A copy rather than a view of the chat, so nothing its owner writes, edits or removes
-- afterwards shows in it; revoking a link deletes its copy. The chat is named without a foreign key: the copy stands on
-- its own if the chat is deleted.
CREATE TABLE share_links (
    id               uuid        NOT NULL PRIMARY KEY,
    owner_id         uuid        NOT NULL REFERENCES users (id),
    session_id       uuid        NOT NULL,
    token_hash       text        NOT NULL,
    title            text        NOT NULL,
    up_to_message_id uuid        NOT NULL,
    created_at       timestamptz NOT NULL,
    revoked_at       timestamptz NULL
);

CREATE UNIQUE INDEX ux_share_links_token ON share_links (token_hash);
CREATE INDEX ix_share_links_owner ON share_links (owner_id, created_at);

-- position: the message's seq in its chat, the order it was stored in.
CREATE TABLE share_link_messages (
    link_id    uuid        NOT NULL REFERENCES share_links (id),
    position   bigint      NOT NULL,
    role       text        NOT NULL,
    content    text        NOT NULL,
    source     text        NOT NULL,
    model      text        NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (link_id, position)
);

-- Feedback on answers (issue 40): the chat owner's thumbs up or down, with an optional comment, one per answer
-- (changed in place), stored with the model that wrote the answer and the host that ran it (relay_requests.worker_id),
-- so admins see it per model even after the answer is regenerated away: no foreign key to the message.
CREATE TABLE answer_feedback (
    message_id uuid        NOT NULL PRIMARY KEY,
    user_id    uuid        NOT NULL,
    session_id uuid        NOT NULL,
    rating     text        NOT NULL CHECK (rating IN ('up', 'down')),
    comment    text        NULL,
    model      text        NULL,
    host       text        NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX ix_answer_feedback_session ON answer_feedback (session_id);
CREATE INDEX ix_answer_feedback_model ON answer_feedback (model);
