-- Full-text search indexes new messages and chats in batches, no longer in the transaction that stores them (issue 35:
-- each commit wrote a new FTS5 segment, 38 % of what a /v1 completion wrote to the WAL). search_index_marks says, per
-- index, the highest row number indexed: every row at or below it is in the index, the rows above it are not yet and
-- are indexed by SqliteSearchIndex (in the background, and before every search, so a search still finds everything
-- stored before it). The triggers keep the index in step only for rows it already holds; a new row at or below the
-- mark (a row number used again after the highest rows were deleted: neither table has AUTOINCREMENT) is indexed at
-- once. message_search reads the content of messages (external content), so a row it does not hold must never be told
-- to it as deleted: that would corrupt the index.

CREATE TABLE search_index_marks (
    name            TEXT    NOT NULL PRIMARY KEY,
    indexed_through INTEGER NOT NULL
);

INSERT INTO search_index_marks (name, indexed_through) VALUES
    ('messages', coalesce((SELECT max(seq) FROM messages), 0)),
    ('chats', coalesce((SELECT max(seq) FROM chat_search_rows), 0));

DROP TRIGGER messages_search_insert;
DROP TRIGGER messages_search_delete;
DROP TRIGGER messages_search_update;

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
WHEN new.seq <= (SELECT indexed_through FROM search_index_marks WHERE name = 'messages') BEGIN
    INSERT INTO message_search (rowid, content) VALUES (new.seq, new.content);
END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages
WHEN old.seq <= (SELECT indexed_through FROM search_index_marks WHERE name = 'messages') BEGIN
    INSERT INTO message_search (message_search, rowid, content) VALUES ('delete', old.seq, old.content);
END;

CREATE TRIGGER messages_search_update AFTER UPDATE OF content ON messages
WHEN old.seq <= (SELECT indexed_through FROM search_index_marks WHERE name = 'messages') BEGIN
    INSERT INTO message_search (message_search, rowid, content) VALUES ('delete', old.seq, old.content);
    INSERT INTO message_search (rowid, content) VALUES (new.seq, new.content);
END;

DROP TRIGGER chat_sessions_search_insert;
DROP TRIGGER chat_sessions_search_update;

-- A chat still gets its index row number at once (a plain table); its title goes into chat_search with the batch.
CREATE TRIGGER chat_sessions_search_insert AFTER INSERT ON chat_sessions BEGIN
    INSERT INTO chat_search_rows (session_id) VALUES (new.id);
    INSERT INTO chat_search (rowid, title)
    SELECT seq, new.title FROM chat_search_rows
    WHERE session_id = new.id AND seq <= (SELECT indexed_through FROM search_index_marks WHERE name = 'chats');
END;

-- Every send writes the title as it stands; only a changed one of an indexed chat is indexed again (the batch reads
-- the title as it stands when it comes). chat_search keeps its own copy of the title, so deleting a row it does not
-- hold is harmless: chat_sessions_search_delete stays as it was.
CREATE TRIGGER chat_sessions_search_update AFTER UPDATE OF title ON chat_sessions WHEN old.title IS NOT new.title BEGIN
    DELETE FROM chat_search WHERE rowid = (
        SELECT seq FROM chat_search_rows
        WHERE session_id = old.id AND seq <= (SELECT indexed_through FROM search_index_marks WHERE name = 'chats'));
    INSERT INTO chat_search (rowid, title)
    SELECT seq, new.title FROM chat_search_rows
    WHERE session_id = old.id AND seq <= (SELECT indexed_through FROM search_index_marks WHERE name = 'chats');
END;
