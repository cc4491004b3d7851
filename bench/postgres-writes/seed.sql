-- Realistic rows for bench/postgres-writes: run after the migrations, before message.sql.
--   users u1..u100; sessions s1..s(:sessions) owned round robin; per session (:turns) finished turns (a user message,
--   its completed request, the model's answer); 300 more sessions with a request in flight each (other users' answers
--   being generated while the benchmark runs). Ids are md5 of a name, so message.sql can name them without a lookup.
\set sessions 1000
\set turns 200
INSERT INTO users (id, username, password_hash, role, status, created_at)
SELECT md5('u' || i)::uuid, 'user' || i, 'hash', 'user', 'active', now() FROM generate_series(1, 100) i;

INSERT INTO chat_sessions (id, owner_id, title, status, model, created_at, updated_at)
SELECT md5('s' || i)::uuid, md5('u' || (1 + i % 100))::uuid, 'chat ' || i, 'active', 'llama', now(), now()
FROM generate_series(1, :sessions + 300) i;

INSERT INTO messages (id, session_id, role, content, source, created_at)
SELECT md5('q' || s || '.' || t)::uuid, md5('s' || s)::uuid, 'user',
       'question ' || t || ' about something that a person would ask a model, of a realistic length', 'user',
       now() - interval '1 day' + t * interval '1 s'
FROM generate_series(1, :sessions) s, generate_series(1, :turns) t
ORDER BY t, s;

INSERT INTO relay_requests (id, session_id, user_id, user_message_id, status, attempts, last_seq, created_at,
                            dispatched_at, acked_at, finished_at, answer_message_id)
SELECT md5('r' || s || '.' || t)::uuid, md5('s' || s)::uuid, md5('u' || (1 + s % 100))::uuid,
       md5('q' || s || '.' || t)::uuid, 'completed', 1, 3, now() - interval '1 day' + t * interval '1 s',
       now(), now(), now(), md5('a' || s || '.' || t)::uuid
FROM generate_series(1, :sessions) s, generate_series(1, :turns) t
ORDER BY t, s;

INSERT INTO messages (id, session_id, role, content, source, prompt_tokens, completion_tokens, request_id, created_at)
SELECT md5('a' || s || '.' || t)::uuid, md5('s' || s)::uuid, 'assistant',
       'an answer of a few sentences, as the model would write it, long enough to be realistic in size here', 'model',
       40, 30, md5('r' || s || '.' || t)::uuid, now() - interval '1 day' + t * interval '1 s'
FROM generate_series(1, :sessions) s, generate_series(1, :turns) t
ORDER BY t, s;

-- In flight elsewhere: a user message and a dispatched request on each of 300 other sessions.
INSERT INTO messages (id, session_id, role, content, source, created_at)
SELECT md5('qf' || s)::uuid, md5('s' || s)::uuid, 'user', 'a question being answered', 'user', now()
FROM generate_series(:sessions + 1, :sessions + 300) s;
INSERT INTO relay_requests (id, session_id, user_id, user_message_id, status, attempts, last_seq, created_at,
                            dispatched_at, ack_deadline, completion_deadline)
SELECT md5('rf' || s)::uuid, md5('s' || s)::uuid, md5('u' || (1 + s % 100))::uuid, md5('qf' || s)::uuid,
       CASE WHEN s % 2 = 0 THEN 'dispatched' ELSE 'streaming' END, 1, 0, now(), now(), now() + interval '1 day',
       now() + interval '1 day'
FROM generate_series(:sessions + 1, :sessions + 300) s;

VACUUM ANALYZE;
