-- The model that wrote an answer (as the model host named it); NULL for users' messages, fallback replies and notices.
ALTER TABLE messages ADD COLUMN model TEXT NULL;
