-- What a request asks beyond sampling (OpenAI's stop, seed, penalties, response_format) and how its answer is treated
-- (model only; keep nothing): JSON written by GenerationOptionsJson, NULL for a plain send.
ALTER TABLE relay_requests ADD COLUMN generation TEXT NULL;
