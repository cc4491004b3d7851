using Npgsql;

namespace MeatLizard.Api.Tests.Support;

/// <summary>
/// The two configurations an API end-to-end test runs on: embedded (SQLite, in-memory limits and events) and production
/// (PostgreSQL + Redis). A fixture takes the provider's name as its parameter
/// (<c>[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]</c>) and gets a fresh database of
/// its own; a missing test server fails the fixture with a message saying what to start, never skips it.
/// </summary>
public sealed class StorageProvider : IAsyncDisposable
{
    public const string Sqlite = "Sqlite";
    public const string Postgres = "PostgresRedis";

    private readonly string? _database;
    private readonly string? _server;

    private StorageProvider(string name, Dictionary<string, string?> settings, string? server, string? database)
    {
        Name = name;
        Settings = settings;
        _server = server;
        _database = database;
    }

    public static string[] Names { get; } = [Sqlite, Postgres];

    public string Name { get; }

    /// <summary>The host settings that select this provider (merge more into them before starting the host).</summary>
    public Dictionary<string, string?> Settings { get; }

    public static async Task<StorageProvider> CreateAsync(string name)
    {
        if (name == Sqlite)
        {
            return new StorageProvider(name, [], null, null);
        }

        if (name != Postgres)
        {
            throw new ArgumentOutOfRangeException(nameof(name), name, "Sqlite or PostgresRedis");
        }

        var server = Required("MEATLIZARD_TEST_POSTGRES", "PostgreSQL (scripts/test-services/postgres.sh)");
        var database = "ml_api_" + Guid.NewGuid().ToString("N");
        await ExecuteAsync(server, $"CREATE DATABASE {database}");
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Postgres",
            ["ConnectionStrings:Postgres"] = new NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString,
            ["Cache:Provider"] = "Redis",
            ["ConnectionStrings:Redis"] = Required("MEATLIZARD_TEST_REDIS", "Redis (scripts/test-services/redis.sh)"),
            ["Cache:Redis:KeyPrefix"] = $"api-test:{Guid.NewGuid():N}:",
        };
        return new StorageProvider(name, settings, server, database);
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await ExecuteAsync(_server, $"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
        }
    }

    private static string Required(string variable, string what)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Fail($"{variable} is not set: run ./test.sh, which starts {what}.");
        }

        return value!;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
