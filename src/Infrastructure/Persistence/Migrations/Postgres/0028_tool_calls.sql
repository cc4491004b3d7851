-- OpenAI's function calling: an answer of the model's may ask for tool calls (a JSON array of {"id", "name",
-- "arguments"}, NULL when it asks for none), and the caller's results come back as messages of the new 'tool' role,
-- each naming the call it answers. Both columns are NULL on every message stored before.
ALTER TABLE messages ADD COLUMN tool_calls text NULL, ADD COLUMN tool_call_id text NULL;
ALTER DOMAIN message_role DROP CONSTRAINT message_role_check;
ALTER DOMAIN message_role ADD CONSTRAINT message_role_check CHECK (VALUE IN ('user', 'assistant', 'system', 'tool'));
