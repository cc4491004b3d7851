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
