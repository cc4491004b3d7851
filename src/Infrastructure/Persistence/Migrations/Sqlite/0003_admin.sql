-- Admin commands: the audit log as the commands write it (who, command, arguments, outcome, when), and who last set
-- each setting. 0001's audit_log was never written (no code wrote to it before the admin commands), so it is replaced.
DROP INDEX IF EXISTS ix_audit_log_occurred;
DROP TABLE audit_log;

CREATE TABLE audit_log (
    id          INTEGER NOT NULL PRIMARY KEY,
    occurred_at INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    command     TEXT    NOT NULL,
    arguments   TEXT    NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('succeeded', 'refused', 'invalid', 'failed')),
    detail      TEXT    NULL
);

CREATE INDEX ix_audit_log_occurred ON audit_log (occurred_at);

ALTER TABLE settings ADD COLUMN updated_by TEXT NULL;
