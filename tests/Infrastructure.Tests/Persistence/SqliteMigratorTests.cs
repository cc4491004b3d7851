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
