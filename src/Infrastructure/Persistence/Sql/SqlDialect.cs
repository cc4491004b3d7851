namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// What the shared repositories write differently on SQLite and PostgreSQL: a few SQL fragments, named for what they
/// do. Values need no dialect (<see cref="SqlValueHandlers"/>); approaches that differ as a whole (the queue claim, the
/// group writer, the write turn, the migrators) live in <c>Persistence/Sqlite</c> and <c>Persistence/Postgres</c>.
/// </summary>
internal sealed class SqlDialect
{
    public static readonly SqlDialect Sqlite = new()
    {
        Name = "SQLite",
        InsertionOrder = "rowid",
        AdminSessionTieBreak = "rowid",
        RowVersion = "CAST(s.updated_at AS TEXT)",
        InsertedRowVersion = "CAST(updated_at AS TEXT)",
        CommaList = expression => $"group_concat({expression}, ',')",
        // The column is COLLATE NOCASE, so this comparison (and the unique index it uses) ignores case.
        UsernameEquals = parameter => $"username = {parameter}",
        ReplaceExpiredEndedSessions = """
            DELETE FROM user_ended_sessions WHERE user_id = @Id AND until < @Now;
            INSERT INTO user_ended_sessions (user_id, session_id, until) VALUES (@Id, @SessionId, @Until)
            ON CONFLICT (user_id, session_id) DO NOTHING;
            """,
        // SQLite plans an optional filter poorly; two statements, each prepared once, keep the index in use.
        OptionalEquals = (column, parameter, present) => present ? $"WHERE {column} = {parameter}" : "",
        // One writer at a time: a write transaction already holds the whole database.
        ForUpdate = "",
    };

    public static readonly SqlDialect Postgres = new()
    {
        Name = "PostgreSQL",
        InsertionOrder = "seq",
        AdminSessionTieBreak = "id",
        RowVersion = "s.xmin::text",
        InsertedRowVersion = "xmin::text",
        CommaList = expression => $"string_agg({expression}, ',')",
        // The same expression as the unique index ux_users_username, so the lookup ignores case and uses it.
        UsernameEquals = parameter => $"lower(username) = lower({parameter})",
        ReplaceExpiredEndedSessions = """
            WITH expired AS (DELETE FROM user_ended_sessions WHERE user_id = @Id AND until < @Now)
            INSERT INTO user_ended_sessions (user_id, session_id, until) VALUES (@Id, @SessionId, @Until)
            ON CONFLICT (user_id, session_id) DO NOTHING
            """,
        OptionalEquals = (column, parameter, _) => $"WHERE {parameter}::uuid IS NULL OR {column} = {parameter}::uuid",
        ForUpdate = "FOR UPDATE",
    };

    private SqlDialect()
    {
    }

    public required string Name { get; init; }

    /// <summary>
    /// The column that orders the rows of chat_sessions, api_keys and relay_requests by insertion where timestamps tie
    /// (SQLite's rowid; PostgreSQL's seq identity).
    /// </summary>
    public required string InsertionOrder { get; init; }

    /// <summary>What breaks a tie of updated_at in the admin's chat list (SQLite's rowid; PostgreSQL's id).</summary>
    public required string AdminSessionTieBreak { get; init; }

    /// <summary>
    /// A text that every write of the chat_sessions row <c>s</c> changes. On SQLite it is <c>updated_at</c>
    /// (milliseconds), which every change of the chat sets. Two changes within one millisecond look like one; since
    /// every write is serialised by the one writer, what that can miss is a settings change landing in the same
    /// millisecond as a send that read the chat before it, the same outcome as the change landing just after the send.
    /// On PostgreSQL it is the row version's transaction id (<c>xmin</c>).
    /// </summary>
    public required string RowVersion { get; init; }

    /// <summary><see cref="RowVersion"/> of the chat_sessions row an INSERT … RETURNING wrote (SQLite's RETURNING
    /// takes no table alias).</summary>
    public required string InsertedRowVersion { get; init; }

    /// <summary>An aggregate that joins a text column's values with commas.</summary>
    public required Func<string, string> CommaList { get; init; }

    /// <summary>A case-insensitive comparison of users.username with a parameter, using the unique index.</summary>
    public required Func<string, string> UsernameEquals { get; init; }

    /// <summary>Drops a user's expired ended sessions and records one more (@Id, @ChatId, @Until, @Now).</summary>
    public required string ReplaceExpiredEndedSessions { get; init; }

    /// <summary>A WHERE clause that compares an id column with a parameter, or keeps every row when it is null.</summary>
    public required Func<string, string, bool, string> OptionalEquals { get; init; }

    /// <summary>
    /// Ends a SELECT whose rows the transaction is about to judge and change (the admins, when one is demoted), so a
    /// second transaction doing the same waits and then sees the change.
    /// </summary>
    public required string ForUpdate { get; init; }

    public override string ToString() => Name;
}
