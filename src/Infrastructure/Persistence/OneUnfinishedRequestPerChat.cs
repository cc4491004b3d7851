using MeatLizard.Application.Common.Exceptions;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// The database's side of "a chat takes one message at a time" (migration 0008's partial unique index): a write that
/// would give a chat a second unfinished request fails, and the failure reaches the caller as the same 409 the
/// handlers' own check gives, whichever database refused it.
/// </summary>
internal static class OneUnfinishedRequestPerChat
{
    public const string IndexName = "ux_relay_requests_one_unfinished";

    private const int SqliteConstraint = 19;

    public static bool IsViolatedBy(Exception exception) => exception switch
    {
        PostgresException postgres => postgres.SqlState == PostgresErrorCodes.UniqueViolation
                                      && postgres.ConstraintName == IndexName,
        // SQLite names an index's columns, not the index: relay_requests has no other unique index on session_id.
        SqliteException sqlite => sqlite.SqliteErrorCode == SqliteConstraint
                                  && sqlite.Message.Contains("relay_requests.session_id", StringComparison.Ordinal),
        _ => false,
    };

    public static ConflictException Conflict() => ConflictException.ChatIsAnswering();
}
