-- Duties one process at a time does, however many run (two server bots: polling Telegram, posting the metrics, a slash
-- command's answer): the process that holds a duty's lease does it and renews the lease; another takes it over once
-- the lease has lapsed (its holder died or stopped).
CREATE TABLE duty_leases (
    duty       text        NOT NULL PRIMARY KEY,
    holder     text        NOT NULL,
    held_until timestamptz NOT NULL
);
CREATE INDEX ix_duty_leases_held_until ON duty_leases (held_until);
