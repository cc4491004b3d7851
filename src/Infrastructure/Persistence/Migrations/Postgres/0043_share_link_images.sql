-- Images on share pages (issue 38 item 2, issue 40 item 4): a shared copy keeps its messages' image references (as
-- messages.images holds them: a JSON array, NULL when none), so the page shows them and
-- GET /api/v1/shared/{token}/images/{name} serves only those. Copies made before this get their messages' images.
ALTER TABLE share_link_messages ADD COLUMN images text;

UPDATE share_link_messages SET images = (
    SELECT m.images FROM messages m JOIN share_links l ON m.session_id = l.session_id
    WHERE l.id = share_link_messages.link_id AND m.seq = share_link_messages.position);
