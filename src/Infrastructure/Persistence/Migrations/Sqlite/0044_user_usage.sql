-- Usage per user (issue 38): what each user's calls cost, counted per UTC day (unix milliseconds of its midnight) and
-- kind — 'chat', the answers a model wrote (the tokens it read and wrote), and 'embeddings', /v1/embeddings (the tokens
-- the hosts read and the texts embedded) — so an admin sees usage per user (GET /api/v1/admin/usage). Deleted with the
-- account. Filled here from the answers stored so far (the model's, not from the answer cache, with their tokens);
-- chats deleted before, and embeddings before, were not counted per user.
CREATE TABLE user_usage (
    user_id           TEXT    NOT NULL,
    day               INTEGER NOT NULL,
    kind              TEXT    NOT NULL CHECK (kind IN ('chat', 'embeddings')),
    requests          INTEGER NOT NULL,
    inputs            INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    PRIMARY KEY (user_id, day, kind)
);

CREATE INDEX ix_user_usage_day ON user_usage (day);

INSERT INTO user_usage (user_id, day, kind, requests, inputs, prompt_tokens, completion_tokens)
SELECT s.owner_id, (m.created_at / 86400000) * 86400000, 'chat', COUNT(*), 0, SUM(m.prompt_tokens),
       SUM(m.completion_tokens)
FROM messages m JOIN chat_sessions s ON s.id = m.session_id
WHERE m.role = 'assistant' AND m.source = 'model' AND m.cached = 0 AND m.prompt_tokens IS NOT NULL
  AND m.completion_tokens IS NOT NULL
GROUP BY s.owner_id, (m.created_at / 86400000) * 86400000;
