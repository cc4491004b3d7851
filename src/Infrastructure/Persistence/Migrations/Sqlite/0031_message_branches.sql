-- Branches (issue 40): a chat's messages form a tree. parent_id is the message a message follows (NULL for a chat's
-- first message and for the edited versions of it); messages with one parent are versions of one turn. on_path marks
-- the chat's current path, the one conversation it shows and the model reads, so every read of it stays one filter on
-- the (session_id, seq) index. A new message continues the path: its insert sets parent_id to the path's last message.
-- Every chat stored before is one path: each message follows the one stored before it in its chat.
ALTER TABLE messages ADD COLUMN parent_id TEXT NULL;
ALTER TABLE messages ADD COLUMN on_path INTEGER NOT NULL DEFAULT 1;

UPDATE messages
SET parent_id = (SELECT p.id FROM messages p
                 WHERE p.session_id = messages.session_id AND p.seq < messages.seq
                 ORDER BY p.seq DESC
                 LIMIT 1);

-- A turn's versions, for the messages page's "2/3".
CREATE INDEX ix_messages_session_parent ON messages (session_id, parent_id);
