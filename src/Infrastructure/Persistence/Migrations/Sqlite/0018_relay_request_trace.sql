-- The W3C traceparent of the operation that asked for the answer, NULL for rows stored before traces were carried:
-- the dispatcher, the model host and the stored answer continue that trace.
ALTER TABLE relay_requests ADD COLUMN trace_parent TEXT NULL;
