-- The start of an answer that clients were already shown when its host stopped mid-answer (NULL when none was): the
-- next attempt is asked to write on from it. Written only when a request goes back to the queue.
ALTER TABLE relay_requests ADD COLUMN answer_start TEXT NULL;
