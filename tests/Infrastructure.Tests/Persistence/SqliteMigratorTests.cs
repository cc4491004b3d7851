using Microsoft.Data.Sqlite;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Persistence.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence;

[TestFixture]
public sealed class SqliteMigratorTests
{
    private static readonly string[] Tables =
    [
        "users", "api_keys", "chat_sessions", "messages", "relay_requests", "settings", "metrics", "audit_log",
        "schema_migrations",
    ];

    [Test]
    public void Migrations_AreEmbeddedInVersionOrder()
    {
        var versions = SqliteMigrator.Migrations.Select(m => m.Version).ToList();

        Assert.That(versions, Is.Not.Empty);
        Assert.That(versions[0], Is.EqualTo(1));
        Assert.That(versions, Is.Ordered.Ascending.And.Unique);
    }

    [Test]
    public async Task Initialize_CreatesEveryTableAndRecordsEachMigration()
    {
        await using var db = await SqliteTestDatabase.CreateAsync();

        foreach (var table in Tables)
        {
            var count = await db.ScalarAsync<long>(
                $"SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'");
            Assert.That(count, Is.EqualTo(1), $"table {table}");
        }

        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations"),
            Is.EqualTo(SqliteMigrator.Migrations.Count));
        Assert.That(await db.ScalarAsync<long>("SELECT MAX(version) FROM schema_migrations"),
            Is.EqualTo(SqliteMigrator.Migrations[^1].Version));
    }

    [Test]
    public async Task Initialize_OnRestart_AppliesNothing()
    {
        await using var db = await SqliteTestDatabase.CreateAsync(initialize: false);
        var firstStart = new FixedTimeProvider(PersistenceTestData.At(0));
        await db.StartHost(firstStart).GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);

        var restart = db.StartHost(new FixedTimeProvider(PersistenceTestData.At(3600)));
        await restart.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);
        await restart.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);

        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations"),
            Is.EqualTo(SqliteMigrator.Migrations.Count));
        Assert.That(await db.ScalarAsync<long>("SELECT MAX(applied_at) FROM schema_migrations"),
            Is.EqualTo(PersistenceTestData.At(0).ToUnixTimeMilliseconds()), "no migration ran on restart");
    }

    [Test]
    public async Task ToolCallsMigration_KeepsEveryMessageAndTheKeysToThem_AndAllowsTheToolRole()
    {
        // A database at the version before: a chat, its question and a request referring to it.
        await using var db = await SqliteTestDatabase.CreateAsync(initialize: false);
        var toolCalls = SqliteMigrator.Migrations.Single(m => m.Name.Contains("tool_calls", StringComparison.Ordinal));
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(db.FilePath)!);
        await using (var connection = new SqliteConnection(db.ConnectionString))
        {
            await connection.OpenAsync();
            await Execute(connection, "PRAGMA foreign_keys = ON; CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL);");
            foreach (var migration in SqliteMigrator.Migrations.Where(m => m.Version < toolCalls.Version))
            {
                await Execute(connection, migration.Sql);
                await Execute(connection, $"INSERT INTO schema_migrations VALUES ({migration.Version}, 0)");
            }

            await Execute(connection, """
                INSERT INTO users (id, username, password_hash, role, status, created_at) VALUES ('u1', 'ada', 'x', 'user', 'active', 0);
                INSERT INTO chat_sessions (id, owner_id, title, status, created_at, updated_at) VALUES ('c1', 'u1', 't', 'active', 0, 0);
                INSERT INTO messages (seq, id, session_id, role, content, source, created_at, model, finish_reason)
                VALUES (7, 'm1', 'c1', 'user', 'hello', 'user', 0, NULL, NULL),
                       (9, 'm2', 'c1', 'assistant', 'hi', 'model', 1, 'alpha', 'stop');
                INSERT INTO relay_requests (id, session_id, user_id, user_message_id, status, attempts, last_seq, created_at)
                VALUES ('r1', 'c1', 'u1', 'm1', 'completed', 1, 3, 0);
                """);
        }

        await db.StartHost().GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);

        Assert.That(await db.ScalarAsync<string>("SELECT group_concat(m, ',') FROM (SELECT seq || ':' || id || ':' || role || ':' || content || ':' || ifnull(model, '-') || ':' || ifnull(finish_reason, '-') AS m FROM messages ORDER BY seq)"),
            Is.EqualTo("7:m1:user:hello:-:-,9:m2:assistant:hi:alpha:stop"));
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM pragma_foreign_key_check"), Is.Zero);
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN ('ux_messages_id', 'ix_messages_session_seq')"),
            Is.EqualTo(2));
        await using var check = new SqliteConnection(db.ConnectionString);
        await check.OpenAsync();
        await Execute(check, "PRAGMA foreign_keys = ON");
        await Execute(check, "INSERT INTO messages (id, session_id, role, content, source, created_at, tool_call_id) VALUES ('m3', 'c1', 'tool', '42', 'user', 2, 'call_1')");
        Assert.That(() => Execute(check, "INSERT INTO relay_requests (id, session_id, user_id, user_message_id, status, attempts, last_seq, created_at) VALUES ('r2', 'c1', 'u1', 'nothing', 'pending', 0, 0, 0)"),
            Throws.InstanceOf<SqliteException>(), "a request still refers to a message that exists");
        Assert.That(() => Execute(check, "INSERT INTO messages (id, session_id, role, content, source, created_at) VALUES ('m4', 'c1', 'robot', 'x', 'user', 3)"),
            Throws.InstanceOf<SqliteException>(), "the role is still checked");
    }

    private static async Task Execute(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    [Test]
    public async Task Initialize_CreatesTheMissingDatabaseDirectory()
    {
        await using var db = await SqliteTestDatabase.CreateAsync();

        Assert.That(File.Exists(db.FilePath), Is.True);
    }

    [Test]
    public async Task Initialize_SwitchesTheDatabaseToWriteAheadLogging()
    {
        await using var db = await SqliteTestDatabase.CreateAsync();

        Assert.That(await db.ScalarAsync<string>("PRAGMA journal_mode"), Is.EqualTo("wal"));
    }
}
