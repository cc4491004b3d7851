-- The W3C traceparent of the operation that asked for the answer (55 characters, version 00), NULL for rows stored
-- before traces were carried: the dispatcher, the model host and the stored answer continue that trace. A nullable
-- column without a default changes only the catalog.
ALTER TABLE relay_requests ADD COLUMN trace_parent text NULL;
