-- The model that wrote an answer (as the model host named it); NULL for users' messages, fallback replies and notices.
-- Adding a nullable column without a default changes only the catalog.
ALTER TABLE messages ADD COLUMN model text NULL;
