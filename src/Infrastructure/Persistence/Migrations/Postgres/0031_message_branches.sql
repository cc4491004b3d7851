-- Branches (issue 40): a chat's messages form a tree. parent_id is the message a message follows (NULL for a chat's
-- first message and for the edited versions of it); messages with one parent are versions of one turn. on_path marks
-- the chat's current path, the one conversation it shows and the model reads, so every read of it stays one filter on
-- the (session_id, seq) index. A new message continues the path: its insert sets parent_id to the path's last message.
-- Every chat stored before is one path: each message follows the one stored before it in its chat. No foreign key on
-- parent_id: messages are only ever added (a chat's go all at once), and each insert would pay for the check.
ALTER TABLE messages ADD COLUMN parent_id uuid NULL, ADD COLUMN on_path boolean NOT NULL DEFAULT true;

UPDATE messages m
SET parent_id = p.previous
FROM (SELECT id, lag(id) OVER (PARTITION BY session_id ORDER BY seq) AS previous FROM messages) p
WHERE m.id = p.id AND p.previous IS NOT NULL;

-- A turn's versions, for the messages page's "2/3".
CREATE INDEX ix_messages_session_parent ON messages (session_id, parent_id);
