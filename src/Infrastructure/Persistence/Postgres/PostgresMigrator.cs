using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// Applies the embedded <c>Migrations/Postgres/NNNN_name.sql</c> scripts that are not yet recorded in
/// <c>schema_migrations</c>, all in one transaction (PostgreSQL's DDL is transactional: a failing script leaves the
/// schema as it was). A transaction-scoped advisory lock makes instances that start at once take turns: the second
/// waits, then finds everything applied.
/// </summary>
internal sealed partial class PostgresMigrator(
    NpgsqlDataSource dataSource, TimeProvider clock, ILogger<PostgresMigrator> logger) : IDatabaseInitializer, IDatabaseStatus
{
    /// <summary>The advisory lock key every MeatLizard migrator takes ("MLMIGR" in ASCII).</summary>
    public const long LockKey = 0x4D4C_4D49_4752;

    private const string ResourcePrefix = "MeatLizard.Infrastructure.Persistence.Migrations.Postgres.";

    private const string CreateHistoryTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer     NOT NULL PRIMARY KEY,
            name       text        NOT NULL,
            applied_at timestamptz NOT NULL
        );
        """;

    /// <summary>The scripts this build carries, ordered by version.</summary>
    public static IReadOnlyList<Migration> Migrations { get; } = MigrationScripts.Load(ResourcePrefix);

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock(@LockKey)", new { LockKey }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            CreateHistoryTable, transaction: transaction, cancellationToken: cancellationToken));
        var done = (await connection.QueryAsync<int>(new CommandDefinition(
            "SELECT version FROM schema_migrations", transaction: transaction, cancellationToken: cancellationToken)))
            .ToHashSet();

        var applied = new List<Migration>();
        foreach (var migration in Migrations.Where(m => !done.Contains(m.Version)))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                migration.Sql, transaction: transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@Version, @Name, @AppliedAt)",
                new { migration.Version, migration.Name, AppliedAt = PgValues.Instant(clock.GetUtcNow()) },
                transaction, cancellationToken: cancellationToken));
            applied.Add(migration);
        }

        await transaction.CommitAsync(cancellationToken);
        foreach (var migration in applied)
        {
            LogApplied(migration.Version, migration.Name);
        }

        LogUpToDate(Migrations.Count == 0 ? 0 : Migrations[^1].Version, applied.Count);
    }

    public async Task<DatabaseStatus> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var hasHistory = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT to_regclass('schema_migrations') IS NOT NULL", cancellationToken: cancellationToken));
        var applied = hasHistory
            ? (await connection.QueryAsync<int>(new CommandDefinition(
                "SELECT version FROM schema_migrations", cancellationToken: cancellationToken))).ToHashSet()
            : [];
        var builder = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        return new DatabaseStatus($"PostgreSQL {connection.ServerVersion}", $"{builder.Host}:{builder.Port}/{builder.Database}",
            Migrations.Count, [.. Migrations.Select(m => m.Version).Where(v => !applied.Contains(v))],
            [.. applied.Where(v => Migrations.All(m => m.Version != v)).Order()]);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied PostgreSQL migration {Version} ({Name})")]
    private partial void LogApplied(int version, string name);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "PostgreSQL schema is at version {Version}; {Applied} migration(s) applied now")]
    private partial void LogUpToDate(int version, int applied);
}
