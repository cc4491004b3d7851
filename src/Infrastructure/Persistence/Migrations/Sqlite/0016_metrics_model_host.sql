-- Which model wrote each answer and which model host it was last sent to (NULL for a fallback reply or a notice, and
-- for a request never dispatched), so answers can be counted per model and per host.
ALTER TABLE metrics ADD COLUMN model TEXT NULL;
ALTER TABLE metrics ADD COLUMN worker_id TEXT NULL;
