using MeatLizard.Infrastructure.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>A real SQLite file in its own temp directory, wired the way a host wires it; deleted on dispose.</summary>
internal sealed class SqliteTestDatabase : ITestDatabase
{
    private readonly List<ServiceProvider> _providers = [];

    private SqliteTestDatabase(string directory)
    {
        Directory = directory;
        FilePath = Path.Combine(directory, "data", "meatlizard.db");
        ConnectionString = new SqliteConnectionStringBuilder { DataSource = FilePath }.ToString();
    }

    public string Directory { get; }

    public string FilePath { get; }

    public string ConnectionString { get; }

    /// <summary>The host the test talks to (the first one started).</summary>
    public ServiceProvider Services => _providers[0];

    public static async Task<SqliteTestDatabase> CreateAsync(bool initialize = true)
    {
        var directory = Path.Combine(Path.GetTempPath(), "meatlizard-tests", Guid.NewGuid().ToString("N"));
        var database = new SqliteTestDatabase(directory);
        var services = database.StartHost();
        if (initialize)
        {
            await services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);
        }

        return database;
    }

    /// <summary>Another host (its own DI container, like a second process or a restart) on the same file.</summary>
    public ServiceProvider StartHost(TimeProvider? clock = null)
    {
        var services = new ServiceCollection();
        if (clock is not null)
        {
            services.AddSingleton(clock);
        }

        services.AddSqlitePersistence(ConnectionString).AddCachedRuntimeSettings();
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        _providers.Add(provider);
        return provider;
    }

    public AsyncServiceScope Scope() => Services.CreateAsyncScope();

    public string InstantLiteral(DateTimeOffset instant) =>
        instant.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);

    public bool IsConstraintViolation(Exception exception) => exception is SqliteException { SqliteErrorCode: 19 };

    /// <summary>Runs one query on a fresh connection, outside the code under test.</summary>
    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var value = await command.ExecuteScalarAsync();
        return (T)Convert.ChangeType(value!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Runs one statement on a fresh connection, past the code under test; how many rows it changed.</summary>
    public async Task<int> ExecuteAsync(string sql)
    {
        await using var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}

internal sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
