-- What a request asks beyond sampling (OpenAI's stop, seed, penalties, response_format) and how its answer is treated
-- (model only; keep nothing): JSON written by GenerationOptionsJson, NULL for a plain send. Adding a nullable column
-- without a default changes only the catalog.
ALTER TABLE relay_requests ADD COLUMN generation text NULL;
