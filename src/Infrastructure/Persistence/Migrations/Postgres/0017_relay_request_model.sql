-- The model a request was sent to its host for (NULL before dispatch, or when it went for the host's own default):
-- a host serving several models has slots per model, and the dispatcher counts each model's requests in flight.
ALTER TABLE relay_requests ADD COLUMN routed_model text NULL;
