using MeatLizard.Infrastructure.Persistence.Sqlite;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Data.Sqlite;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>A database left at an earlier migration, with rows written as they were then, for a migration's test.</summary>
internal static class MigrationSteps
{
    /// <summary>Applies the SQLite migrations before <paramref name="version"/>, then runs <paramref name="rows"/>.</summary>
    public static async Task SqliteBeforeAsync(SqliteTestDatabase db, int version, string rows)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(db.FilePath)!);
        await using var connection = new SqliteConnection(db.ConnectionString);
        await connection.OpenAsync();
        await ExecuteAsync(connection, "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL);");
        foreach (var migration in SqliteMigrator.Migrations.Where(m => m.Version < version))
        {
            await ExecuteAsync(connection, migration.Sql);
            await ExecuteAsync(connection, $"INSERT INTO schema_migrations VALUES ({migration.Version}, 0)");
        }

        await ExecuteAsync(connection, rows);
    }

    public static async Task ExecuteAsync(System.Data.Common.DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
