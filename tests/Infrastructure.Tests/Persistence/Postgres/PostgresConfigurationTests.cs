using MeatLizard.Infrastructure.Backup;
using MeatLizard.Infrastructure.Persistence.Postgres;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Postgres;

[TestFixture]
public sealed class PostgresConfigurationTests
{
    [Test]
    public void StoragePostgres_WithAConnectionString_IsAvailable()
    {
        var settings = InfrastructureSettings.Read(Settings(
            ("Storage:Provider", "postgres"),
            ("ConnectionStrings:Postgres", "Host=db.internal;Database=meatlizard;Username=ml;Password=secret")));

        Assert.That(settings.StorageProvider, Is.EqualTo(StorageProvider.Postgres));
        Assert.That(settings.PostgresConnectionString, Does.Contain("Host=db.internal"));
    }

    [Test]
    public void StoragePostgres_WithoutAConnectionString_NamesTheKey()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            InfrastructureSettings.Read(Settings(("Storage:Provider", "Postgres"))));

        Assert.That(error!.Message, Does.StartWith("ConnectionStrings:Postgres is required when Storage:Provider is Postgres"));
        Assert.That(error.Message, Does.Not.Contain("\n"));
    }

    [TestCase("Host=db;Colour=blue", "colour")]
    [TestCase("Host=db;Port=eighty;Password=hunter2", "Couldn't set port")]
    [TestCase("Database=meatlizard;Password=hunter2", "names no Host")]
    public void StoragePostgres_WithABadConnectionString_NamesTheKeyButNeverThePassword(string connectionString, string says)
    {
        var error = Assert.Throws<ConfigurationException>(() => InfrastructureSettings.Read(Settings(
            ("Storage:Provider", "Postgres"), ("ConnectionStrings:Postgres", connectionString))));

        Assert.That(error!.Message, Does.StartWith("ConnectionStrings:Postgres "));
        Assert.That(error.Message, Does.Contain(says));
        Assert.That(error.Message, Does.Not.Contain("hunter2"));
    }

    [Test]
    public void StorageProvider_Unknown_ListsBothProviders()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            InfrastructureSettings.Read(Settings(("Storage:Provider", "Oracle"))));

        Assert.That(error!.Message, Is.EqualTo("Storage:Provider 'Oracle' is not a known value; use Sqlite or Postgres."));
    }

    [TestCase("Backup:Schedule", "every night", "Backup:Schedule: ")]
    [TestCase("Backup:KeepDaily", "0", "Backup:KeepDaily must be at least 1.")]
    [TestCase("Backup:KeepWeekly", "-1", "Backup:KeepWeekly must not be negative.")]
    public void BadBackupSettings_NameTheKey(string key, string value, string message)
    {
        var configuration = Settings((key, value));
        var error = Assert.Throws<ConfigurationException>(() => new Microsoft.Extensions.DependencyInjection.ServiceCollection()
            .AddDatabaseBackups(configuration, InfrastructureSettings.Read(configuration), runSchedule: true));

        Assert.That(error!.Message, Does.StartWith(message));
    }

    [Test]
    public void Pool_ByDefault_SkipsTheResetOnReuse_AndPreparesHotStatements()
    {
        var pool = new Npgsql.NpgsqlConnectionStringBuilder(
            PostgresPersistenceRegistration.WithPoolDefaults("Host=db;Database=meatlizard;Username=ml;Password=secret"));

        Assert.That(pool.NoResetOnClose, Is.True);
        Assert.That(pool.MaxAutoPrepare, Is.EqualTo(64));
        Assert.That(pool.Options, Is.EqualTo("-c plan_cache_mode=force_generic_plan -c random_page_cost=1.1"));
        Assert.That(pool.Password, Is.EqualTo("secret"));
    }

    [Test]
    public async Task Pool_ByDefault_TheServerUsesGenericPlans_AndCostsAnIndexProbeNearASequentialRead()
    {
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(
            PostgresPersistenceRegistration.WithPoolDefaults(Contract.PostgresTestDatabase.ServerConnectionString));
        await using var command = dataSource.CreateCommand(
            "SELECT current_setting('plan_cache_mode') || ' ' || current_setting('random_page_cost')");

        Assert.That(await command.ExecuteScalarAsync(), Is.EqualTo("force_generic_plan 1.1"));
    }

    [TestCase("Host=db;No Reset On Close=false;Max Auto Prepare=0;Options=-c statement_timeout=5000")]
    [TestCase("Host=db;noresetonclose=false;MAXAUTOPREPARE=0;options=-c statement_timeout=5000")]
    public void Pool_WhatTheOperatorWrote_IsKept(string connectionString)
    {
        var pool = new Npgsql.NpgsqlConnectionStringBuilder(PostgresPersistenceRegistration.WithPoolDefaults(connectionString));

        Assert.That(pool.NoResetOnClose, Is.False);
        Assert.That(pool.MaxAutoPrepare, Is.Zero);
        Assert.That(pool.Options, Is.EqualTo("-c statement_timeout=5000"));
    }

    private static IConfiguration Settings(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build();
}
