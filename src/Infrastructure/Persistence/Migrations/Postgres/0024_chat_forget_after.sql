-- A chat made for an OpenAI completion that keeps nothing (store: false) is deleted once answered. Until then it
-- carries when it may be deleted anyway: a crash between its creation and its question being queued would otherwise
-- leave it, with the conversation it was given, for good. NULL for every other chat.
ALTER TABLE chat_sessions ADD COLUMN forget_after timestamptz NULL;
CREATE INDEX ix_chat_sessions_forget_after ON chat_sessions (forget_after) WHERE forget_after IS NOT NULL;
