-- relay_requests' indexes as PostgreSQL's migration 0007 made them, less the partial index by chat this database has
-- had since 0001 (ux_relay_requests_one_unfinished serves the reads of a chat's unanswered request).
--
-- By message: regenerating or editing an answer reads the options its question was asked with by the question's
-- message, and removing a message makes its foreign key look up the requests that name it. Without an index on
-- user_message_id both read the whole table, inside the write turn: measured at 200,000 requests, 11 ms per lookup and
-- 83 ms to delete a chat of ten messages; with it, under 1 ms each.
--
-- By chat: (session_id, status, created_at) took a new entry at every status change of a request (its dispatch and its
-- end), a WAL page each, for reads that only find a chat's requests (deleting a chat and its foreign key) or its
-- unanswered one (the partial index). By chat alone, a request's status changes leave it as it is.
DROP INDEX IF EXISTS ix_relay_requests_session_status;
CREATE INDEX ix_relay_requests_session ON relay_requests (session_id);
CREATE INDEX ix_relay_requests_user_message ON relay_requests (user_message_id);
