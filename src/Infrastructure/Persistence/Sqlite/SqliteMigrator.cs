using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

/// <summary>
/// Applies the embedded <c>Migrations/Sqlite/NNNN_name.sql</c> scripts in order, each in its own transaction and
/// recorded in <c>schema_migrations</c>, so a restart applies only what is new.
/// </summary>
internal sealed partial class SqliteMigrator(SqliteDataSource dataSource, TimeProvider clock, ILogger<SqliteMigrator> logger)
    : IDatabaseInitializer, IDatabaseStatus
{
    private const string ResourcePrefix = "MeatLizard.Infrastructure.Persistence.Migrations.Sqlite.";

    private const string CreateHistoryTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER NOT NULL PRIMARY KEY,
            applied_at INTEGER NOT NULL
        );
        """;

    /// <summary>The scripts this build carries, ordered by version.</summary>
    public static IReadOnlyList<Migration> Migrations { get; } = MigrationScripts.Load(ResourcePrefix);

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        EnsureDirectoryExists(dataSource.DataSource);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(CreateHistoryTable, cancellationToken: cancellationToken));

        var applied = 0;
        foreach (var migration in Migrations)
        {
            if (await ApplyAsync(connection, migration, cancellationToken))
            {
                applied++;
                LogApplied(migration.Version, migration.Name);
            }
        }

        LogUpToDate(Migrations.Count == 0 ? 0 : Migrations[^1].Version, applied);
        _migrated.TrySetResult();
    }

    private readonly TaskCompletionSource _migrated = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Done once this process has brought the schema up to date (<see cref="InitializeAsync"/>); never in one that does not.</summary>
    public Task Migrated => _migrated.Task;

    /// <summary>Reads the file without creating it: a database the host has not made yet has every migration pending.</summary>
    public async Task<DatabaseStatus> ReadAsync(CancellationToken cancellationToken)
    {
        var file = dataSource.DataSource;
        var inMemory = file.Length == 0 || file.Equals(":memory:", StringComparison.OrdinalIgnoreCase);
        if (!inMemory && !File.Exists(file))
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(file))!;
            return new DatabaseStatus("SQLite", $"{Path.GetFullPath(file)} (not created yet; the host creates it in {folder})",
                Migrations.Count, [.. Migrations.Select(m => m.Version)], []);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var hasHistory = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            cancellationToken: cancellationToken)) > 0;
        var applied = hasHistory
            ? (await connection.QueryAsync<int>(new CommandDefinition(
                "SELECT version FROM schema_migrations", cancellationToken: cancellationToken))).ToHashSet()
            : [];
        return new DatabaseStatus($"SQLite {connection.ServerVersion}", inMemory ? ":memory:" : Path.GetFullPath(file),
            Migrations.Count, [.. Migrations.Select(m => m.Version).Where(v => !applied.Contains(v))],
            [.. applied.Where(v => Migrations.All(m => m.Version != v)).Order()]);
    }

    /// <summary>
    /// The first line of a script that makes a table again (SQLite's way to change a constraint): it runs with foreign
    /// keys off, which SQLite allows to change only outside a transaction, and the keys are checked before it commits.
    /// </summary>
    internal const string ForeignKeysOff = "-- sqlite: foreign_keys off";

    private async Task<bool> ApplyAsync(SqliteConnection connection, Migration migration, CancellationToken cancellationToken)
    {
        using var turn = await dataSource.EnterWriteAsync(cancellationToken);
        var keysOff = migration.Sql.StartsWith(ForeignKeysOff, StringComparison.Ordinal);
        if (keysOff)
        {
            await connection.ExecuteAsync(new CommandDefinition("PRAGMA foreign_keys = OFF", cancellationToken: cancellationToken));
        }

        try
        {
            return await ApplyInTransactionAsync(connection, migration, keysOff, cancellationToken);
        }
        finally
        {
            if (keysOff)
            {
                await connection.ExecuteAsync(new CommandDefinition("PRAGMA foreign_keys = ON", cancellationToken: CancellationToken.None));
            }
        }
    }

    private async Task<bool> ApplyInTransactionAsync(SqliteConnection connection, Migration migration, bool checkKeys,
        CancellationToken cancellationToken)
    {
        await using var transaction = connection.BeginTransaction(deferred: false);

        // Checked inside the write transaction, so two hosts starting together apply a script once.
        var done = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM schema_migrations WHERE version = @Version",
            new { migration.Version }, transaction, cancellationToken: cancellationToken));
        if (done > 0)
        {
            return false;
        }

        // Only what the script breaks counts: a row that referred to nothing before it is not its doing.
        var broken = checkKeys ? await BrokenKeysAsync(connection, transaction, cancellationToken) : 0;
        await connection.ExecuteAsync(new CommandDefinition(
            migration.Sql, transaction: transaction, cancellationToken: cancellationToken));
        if (checkKeys && await BrokenKeysAsync(connection, transaction, cancellationToken) > broken)
        {
            throw new InvalidOperationException(
                $"SQLite migration {migration.Version} ({migration.Name}) would leave rows whose foreign keys refer to nothing; nothing of it was applied.");
        }
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (@Version, @AppliedAt)",
            new { migration.Version, AppliedAt = SqlValues.Millis(clock.GetUtcNow()) }, transaction,
            cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private static async Task<int> BrokenKeysAsync(SqliteConnection connection, SqliteTransaction transaction,
        CancellationToken cancellationToken) =>
        (await connection.QueryAsync(new CommandDefinition(
            "PRAGMA foreign_key_check", transaction: transaction, cancellationToken: cancellationToken))).Count();

    private static void EnsureDirectoryExists(string dataSourcePath)
    {
        if (string.IsNullOrWhiteSpace(dataSourcePath)
            || dataSourcePath.Equals(":memory:", StringComparison.OrdinalIgnoreCase)
            || dataSourcePath.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(dataSourcePath));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied SQLite migration {Version} ({Name})")]
    private partial void LogApplied(int version, string name);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "SQLite schema is at version {Version}; {Applied} migration(s) applied now")]
    private partial void LogUpToDate(int version, int applied);
}
