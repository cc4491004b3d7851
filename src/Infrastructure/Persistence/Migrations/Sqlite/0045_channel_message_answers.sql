-- Which answer each message the bot posted on a chat network shows (issue 40), so a member's 👍/👎 reaction on it rates
-- that answer. Set once the answer is final, on every part of it; null for refusals, notices of a failed answer and
-- messages posted before this migration (a reaction on them is ignored).
ALTER TABLE channel_messages ADD COLUMN answer_id TEXT NULL;
