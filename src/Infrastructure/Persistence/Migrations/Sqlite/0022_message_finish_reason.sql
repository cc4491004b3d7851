-- Why the model stopped writing an answer, as its engine said: 'stop' or 'length'; NULL for users' messages, fallback
-- replies, notices and answers stored before this column. OpenAI's /v1 reports it as finish_reason.
ALTER TABLE messages ADD COLUMN finish_reason TEXT NULL;
