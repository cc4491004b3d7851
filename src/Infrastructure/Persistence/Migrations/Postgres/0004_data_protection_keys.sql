-- ASP.NET Core data-protection keys (they protect session cookies and access tokens), shared by every API instance on
-- this database, so a sign-in at one instance is honoured by the others. Stored as the framework writes them
-- (unencrypted XML, as the file-system store keeps them): the database's own access control protects them.
CREATE TABLE data_protection_keys (
    friendly_name text        NOT NULL PRIMARY KEY,
    xml           text        NOT NULL,
    created_at    timestamptz NOT NULL
);
