-- A relay request's user is not checked by a foreign key any more. Checking it locked the user's row FOR KEY SHARE
-- with every request, and when one user (an API client with many chats) has many requests being sent at once,
-- PostgreSQL must record every locker of that one row in a multixact: measured in the distributed benchmark, the
-- check took 198 µs per request against 12 µs for the same check on the request's chat. Nothing is lost: users are
-- never deleted (an account is banned, not removed), and the request is written in the unit of work that has just
-- read its user and found them active. The request's chat and message keep their foreign keys, and the chat's owner
-- keeps its own.
ALTER TABLE relay_requests DROP CONSTRAINT IF EXISTS relay_requests_user_id_fkey;
