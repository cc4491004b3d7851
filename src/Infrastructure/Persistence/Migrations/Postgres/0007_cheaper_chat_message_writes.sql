-- Every chat message writes messages (twice), relay_requests (an insert and three updates) and chat_sessions (one
-- update). This migration makes those writes cheaper for PostgreSQL without giving up what the product relies on;
-- bench/postgres-writes replays one chat message's statements and measures it (figures in its README).

-- 1. Enum-like columns are checked by domains instead of table CHECK constraints. A table's CHECK constraints are
-- re-read from the catalog as text, parsed and planned for every statement that writes the table, and all of them are
-- evaluated on every UPDATE whichever columns it sets. A domain's check is parsed once into the type cache and is
-- evaluated only where a value is assigned to the column. The values allowed are the same, a bad one is refused with
-- the same SQLSTATE (23514 check_violation), and NULL still passes where the column allows it. Text parameters and
-- text literals are assigned and compared as before (a domain over text is text to operators, indexes and clients).
-- The type is changed first to the domain without its check (a relabelling: the tables are not rewritten, and only the
-- small partial indexes whose predicate names a changed column are rebuilt) and the check is added after, which
-- verifies the stored rows with one scan: 0.6 s for this whole migration on 400,000 messages and 200,000 requests.
-- Measured (bench/postgres-writes/domains.sh): an INSERT with two enum columns and two UPDATEs of a status cost the
-- server 196 µs with table CHECKs, 164 µs with domains, 164 µs with no check at all.
CREATE DOMAIN chat_session_status AS text;
CREATE DOMAIN message_role AS text;
CREATE DOMAIN message_source AS text;
CREATE DOMAIN relay_request_status AS text;
CREATE DOMAIN relay_timeout_reason AS text;

ALTER TABLE chat_sessions DROP CONSTRAINT IF EXISTS chat_sessions_status_check,
    ALTER COLUMN status TYPE chat_session_status;
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_role_check, DROP CONSTRAINT IF EXISTS messages_source_check,
    ALTER COLUMN role TYPE message_role, ALTER COLUMN source TYPE message_source;
ALTER TABLE relay_requests DROP CONSTRAINT IF EXISTS relay_requests_status_check,
    DROP CONSTRAINT IF EXISTS relay_requests_timeout_reason_check,
    ALTER COLUMN status TYPE relay_request_status, ALTER COLUMN timeout_reason TYPE relay_timeout_reason;

ALTER DOMAIN chat_session_status ADD CONSTRAINT chat_session_status_check CHECK (VALUE IN ('active', 'closed'));
ALTER DOMAIN message_role ADD CONSTRAINT message_role_check CHECK (VALUE IN ('user', 'assistant', 'system'));
ALTER DOMAIN message_source ADD CONSTRAINT message_source_check
    CHECK (VALUE IN ('user', 'model', 'fallback', 'notice'));
ALTER DOMAIN relay_request_status ADD CONSTRAINT relay_request_status_check
    CHECK (VALUE IN ('pending', 'dispatched', 'streaming', 'completed', 'timedout', 'fallback', 'failed', 'cancelled'));
ALTER DOMAIN relay_timeout_reason ADD CONSTRAINT relay_timeout_reason_check
    CHECK (VALUE IN ('noworker', 'noack', 'nocompletion'));

-- 2. A message's and a relay request's chat are not checked by foreign keys any more. Each check ran a query in an
-- AFTER trigger and locked the chat's row FOR KEY SHARE, three times per chat message (the user's message, the
-- request, the answer). Nothing is lost: chats are never deleted (a chat is closed, not removed; no statement deletes
-- from chat_sessions), and every writer takes the chat id from a stored chat: sending, editing and regenerating read
-- the chat in the unit of work that writes the message and the request (SendMessage, AskAgain), and an answer is
-- written by the statement that completes its request, with that request's chat. As 0006 did for the request's user.
-- A request's message keeps its foreign key: messages are deleted (the history editor), and the check, with its
-- lock on the message, is what stops a message from being deleted under a request that a send racing the edit has
-- just queued for it. Measured: 1.9 WAL records less per chat message (the locks on the chat's row).
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_session_id_fkey;
ALTER TABLE relay_requests DROP CONSTRAINT IF EXISTS relay_requests_session_id_fkey;

-- 3. messages: the id is the primary key (the unique index it already had), and the index on seq goes: every read
-- orders a chat's messages by ix_messages_session_seq (session_id, seq) and finds one message by id. The one read
-- over all chats by seq, the fallback's warm-up (the newest model answers, once at start-up), gets a partial index of
-- model answers only, so it does not read the whole table: one index entry per answer instead of one per message.
-- seq stays, as the order messages were stored in. Per chat message: one index entry less (two messages, one answer).
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_pkey;
ALTER TABLE messages ADD CONSTRAINT messages_pkey PRIMARY KEY USING INDEX ux_messages_id;
CREATE INDEX ix_messages_model_answers ON messages (seq) WHERE role = 'assistant' AND source = 'model';

-- 4. relay_requests: a status change can never be a HOT update (status is in the partial indexes' predicates), so each
-- of a request's row versions goes into every index whose predicate it meets. ix_relay_requests_session_status took
-- all of them, for reads that look for a chat's unanswered request only (is the chat answering, its unfinished
-- request); a partial index of unanswered requests by chat serves them with the versions that are unanswered alone.
-- The history editor finds the finished requests of the messages it removes by their message, and removing a message
-- makes the foreign key look up the requests that reference it: without an index on user_message_id each removed
-- message cost a scan of the whole table (18 ms per message at 200,000 requests, growing with the table; 0.08 ms with
-- the index). Per chat message the two indexes take about two entries more than the one they replace (the index by
-- message takes every row version), the price of history edits that do not grow with the table.
-- No fillfactor here: the one update that changes no indexed column, the claim's lease, is HOT already (pruning leaves
-- room on the page the request was just written to): 3,984 of the 4,000 claims measured.
DROP INDEX IF EXISTS ix_relay_requests_session_status;
CREATE INDEX ix_relay_requests_unanswered_session ON relay_requests (session_id)
    WHERE status IN ('pending', 'dispatched', 'streaming');
CREATE INDEX ix_relay_requests_user_message ON relay_requests (user_message_id);

-- 5. chat_sessions: every chat message updates its chat (updated_at), and with updated_at in an index that update was
-- never HOT, so it added an entry to both indexes each time. The owner's chats are listed whole (no page), so sorting
-- them by updated_at after finding them by owner costs what reading them costs; the admin list reads all chats either
-- way. Indexed by owner alone, and with room left on each page (fillfactor), the update stays on its page: measured,
-- 3,984 of 4,000 updates HOT, against none before.
DROP INDEX IF EXISTS ix_chat_sessions_owner_updated;
CREATE INDEX ix_chat_sessions_owner ON chat_sessions (owner_id);
ALTER TABLE chat_sessions SET (fillfactor = 80);
