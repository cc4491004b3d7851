using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Persistence.Postgres;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Postgres;

[TestFixture]
public sealed class PostgresMigratorTests
{
    private static readonly string[] Tables =
    [
        "users", "api_keys", "chat_sessions", "messages", "relay_requests", "settings", "metrics", "audit_log",
        "schema_migrations",
    ];

    [Test]
    public void Migrations_AreEmbeddedInVersionOrder()
    {
        var versions = PostgresMigrator.Migrations.Select(m => m.Version).ToList();

        Assert.That(versions, Is.Not.Empty);
        Assert.That(versions[0], Is.EqualTo(1));
        Assert.That(versions, Is.Ordered.Ascending.And.Unique);
    }

    [Test]
    public async Task Initialize_CreatesEveryTableAndRecordsEachMigration()
    {
        await using var db = await PostgresTestDatabase.CreateAsync();

        foreach (var table in Tables)
        {
            Assert.That(await db.ScalarAsync<long>(
                $"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = '{table}'"),
                Is.EqualTo(1), $"table {table}");
        }

        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations"),
            Is.EqualTo(PostgresMigrator.Migrations.Count));
    }

    [Test]
    public async Task Initialize_OnRestart_AppliesNothing()
    {
        await using var db = await PostgresTestDatabase.CreateAsync(initialize: false);
        await db.StartHost(new FixedTimeProvider(PersistenceTestData.At(0)))
            .GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);

        var restart = db.StartHost(new FixedTimeProvider(PersistenceTestData.At(3600)));
        await restart.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);
        await restart.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);

        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations"),
            Is.EqualTo(PostgresMigrator.Migrations.Count));
        Assert.That(await db.ScalarAsync<long>(
                $"SELECT COUNT(*) FROM schema_migrations WHERE applied_at <> {db.InstantLiteral(PersistenceTestData.At(0))}"),
            Is.Zero, "no migration ran on restart");
    }

    [Test]
    public async Task Initialize_FromFourInstancesStartingAtOnce_AppliesEachMigrationOnceWithoutErrors()
    {
        // Without the advisory lock, concurrent CREATE TABLEs on an empty database fail (duplicate key in pg_type)
        // or apply a script twice; with it the later instances wait, then find everything applied.
        await using var db = await PostgresTestDatabase.CreateAsync(initialize: false);
        var instances = Enumerable.Range(0, 4).Select(_ => db.StartHost()).ToList();
        using var start = new ManualResetEventSlim();

        var starts = instances.Select(instance => Task.Run(async () =>
        {
            start.Wait();
            await instance.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);
        })).ToList();
        start.Set();
        await Task.WhenAll(starts);

        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations"),
            Is.EqualTo(PostgresMigrator.Migrations.Count));
        Assert.That(await db.ScalarAsync<long>(
            "SELECT COUNT(*) FROM pg_trigger WHERE tgname = 'relay_requests_notify'"), Is.EqualTo(1));
    }

    [Test]
    public async Task Initialize_WhenTheServerIsUnreachable_FailsWithTheServersError()
    {
        var services = new ServiceCollection()
            .AddPostgresPersistence("Host=127.0.0.1;Port=1;Database=none;Username=none;Password=none;Timeout=2")
            .BuildServiceProvider();
        await using var _ = services;

        Assert.ThrowsAsync<Npgsql.NpgsqlException>(() =>
            services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None));
    }
}
