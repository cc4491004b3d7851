-- Images in (issue 38 item 2): a user's message may hold images. Their bytes are kept in the object store under
-- images/{owner}/{chat}/; this column holds only the references (a JSON array of {key, mediaType, bytes, width,
-- height}), NULL when the message holds none.
ALTER TABLE messages ADD COLUMN images text;
