-- One chat message as the distributed product writes it (PostgresChatSessionRepository, PostgresMessageRepository,
-- PostgresRelayRequestRepository), with the parameters as Npgsql sends them (text, uuid, timestamptz). Run with
-- -M prepared and plan_cache_mode=force_generic_plan, as the product's pool does. Ids come from one small SELECT.
\set s random(1, 1000)
SELECT md5('s' || :s)::uuid AS sid, md5('u' || (1 + :s % 100))::uuid AS uid, gen_random_uuid() AS mid,
       gen_random_uuid() AS rid, gen_random_uuid() AS aid, now() AS t0, 'user' AS user_, 'assistant' AS assistant,
       'model' AS model, 'pending' AS pending, 'dispatched' AS dispatched, 'completed' AS completed,
       'active' AS active \gset
-- API (SendMessage): the chat with its answer state, then the writes in one transaction.
SELECT id, owner_id, title, status, model, system_prompt, temperature, top_p, max_tokens, discord_channel_id,
       created_at, updated_at, closed_at,
       EXISTS (SELECT 1 FROM relay_requests r WHERE r.session_id = chat_sessions.id
                 AND r.status IN ('pending', 'dispatched', 'streaming')) AS answering
FROM chat_sessions WHERE id = :sid::uuid;
BEGIN;
INSERT INTO messages (id, session_id, role, content, source, prompt_tokens, completion_tokens, request_id, created_at)
VALUES (:mid::uuid, :sid::uuid, :user_::text, 'What is the capital of France, and why is it there?'::text,
        :user_::text, NULL::int, NULL::int, NULL::uuid, :t0::timestamptz);
INSERT INTO relay_requests (id, session_id, user_id, user_message_id, temperature, top_p, max_tokens, status, attempts,
                            last_seq, created_at, dispatched_at, acked_at, ack_deadline, completion_deadline,
                            finished_at, answer_message_id, timeout_reason, error)
VALUES (:rid::uuid, :sid::uuid, :uid::uuid, :mid::uuid, NULL::float8, NULL::float8, NULL::int,
        :pending::text, 0, 0, :t0::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz,
        NULL::timestamptz, NULL::timestamptz, NULL::uuid, NULL::text, NULL::text);
UPDATE chat_sessions
SET title = 'chat'::text, status = :active::text, model = 'llama'::text, system_prompt = NULL::text,
    temperature = NULL::float8, top_p = NULL::float8, max_tokens = NULL::int, discord_channel_id = NULL::text,
    updated_at = :t0::timestamptz, closed_at = NULL::timestamptz
WHERE id = :sid::uuid;
COMMIT;
-- Dispatcher: claim (a lease on the oldest pending), read the chats and their recent turns, mark dispatched.
UPDATE relay_requests r SET claimed_until = now() + interval '30 s'
FROM (SELECT id FROM relay_requests
      WHERE status = 'pending' AND (claimed_until IS NULL OR claimed_until <= now())
      ORDER BY created_at, seq LIMIT 16 FOR UPDATE SKIP LOCKED) claimable
WHERE r.id = claimable.id
RETURNING r.id, r.session_id, r.user_id, r.user_message_id, r.temperature, r.top_p, r.max_tokens, r.status,
          r.attempts, r.last_seq, r.created_at, r.dispatched_at, r.acked_at, r.ack_deadline, r.completion_deadline,
          r.finished_at, r.answer_message_id, r.timeout_reason, r.error, r.seq;
SELECT id, owner_id, title, status, model, system_prompt, temperature, top_p, max_tokens, discord_channel_id,
       created_at, updated_at, closed_at
FROM chat_sessions WHERE id = ANY(ARRAY[:sid::uuid]);
SELECT s.id, t.role, t.content
FROM unnest(ARRAY[:sid::uuid]) AS s (id)
CROSS JOIN LATERAL (SELECT seq, role, content FROM messages
                    WHERE session_id = s.id AND source IN ('user', 'model')
                    ORDER BY seq DESC LIMIT 20) t
ORDER BY t.seq;
UPDATE relay_requests r
SET status = v.status, attempts = v.attempts, last_seq = v.last_seq, dispatched_at = v.dispatched_at,
    acked_at = v.acked_at, ack_deadline = v.ack_deadline, completion_deadline = v.completion_deadline,
    finished_at = v.finished_at, answer_message_id = v.answer_message_id, timeout_reason = v.timeout_reason,
    error = v.error
FROM unnest(ARRAY[:rid::uuid], ARRAY[:dispatched::text], ARRAY[1], ARRAY[0], ARRAY[now()],
            ARRAY[NULL::timestamptz], ARRAY[now() + interval '5 s'], ARRAY[now() + interval '60 s'],
            ARRAY[NULL::timestamptz], ARRAY[NULL::uuid], ARRAY[NULL::text], ARRAY[NULL::text])
     AS v (id, status, attempts, last_seq, dispatched_at, acked_at, ack_deadline, completion_deadline, finished_at,
           answer_message_id, timeout_reason, error)
WHERE r.id = v.id AND r.status = :pending::text
RETURNING r.id;
-- Server bot: the answer, stored with the request's completion in one statement.
WITH updated AS (
    UPDATE relay_requests
    SET status = :completed::text, attempts = 1, last_seq = 3, dispatched_at = :t0::timestamptz,
        acked_at = now(), ack_deadline = NULL::timestamptz, completion_deadline = NULL::timestamptz,
        finished_at = now(), answer_message_id = :aid::uuid, timeout_reason = NULL::text, error = NULL::text
    WHERE id = :rid::uuid AND status = :dispatched::text
    RETURNING id)
INSERT INTO messages (id, session_id, role, content, source, prompt_tokens, completion_tokens, request_id, created_at)
SELECT :aid::uuid, :sid::uuid, :assistant::text,
       'Paris. It grew where the Seine could be crossed and defended, on an island in the river.'::text,
       :model::text, 40, 30, :rid::uuid, now()
FROM updated;
