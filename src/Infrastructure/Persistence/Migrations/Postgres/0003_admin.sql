-- Admin commands: the audit log as the commands write it (who, command, arguments, outcome, when), and who last set
-- each setting. 0001's audit_log was never written (no code wrote to it before the admin commands), so it is replaced.
DROP TABLE audit_log;

CREATE TABLE audit_log (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor       text        NOT NULL,
    command     text        NOT NULL,
    arguments   text        NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('succeeded', 'refused', 'invalid', 'failed')),
    detail      text        NULL
);

CREATE INDEX ix_audit_log_occurred ON audit_log (occurred_at);

ALTER TABLE settings ADD COLUMN updated_by text NULL;
