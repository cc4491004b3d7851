-- Each question a chat network member asked (their message), the chat and request it became, the bot's first reply
-- and when its answer was shown: a question seen again (a network delivering it again after a restart) follows the
-- request it already became instead of asking the model twice, and one left unanswered by a stop is finished at the
-- next start.
CREATE TABLE channel_questions (
    network          TEXT NOT NULL,
    chat_id          TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    member_id        TEXT NOT NULL,
    group_id         TEXT NULL,
    session_id       TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    request_id       TEXT NULL,
    reply_message_id TEXT NULL,
    asked_at         INTEGER NOT NULL,
    answered_at      INTEGER NULL,
    PRIMARY KEY (network, chat_id, message_id)
);
CREATE INDEX ix_channel_questions_unanswered ON channel_questions (network, asked_at) WHERE answered_at IS NULL;
CREATE INDEX ix_channel_questions_session ON channel_questions (session_id);
