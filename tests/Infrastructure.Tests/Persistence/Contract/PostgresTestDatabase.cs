using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Persistence.Postgres;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// A fresh database on the test server (MEATLIZARD_TEST_POSTGRES, started by scripts/test-services/postgres.sh),
/// wired the way a host wires it; dropped on dispose.
/// </summary>
internal sealed class PostgresTestDatabase : ITestDatabase
{
    public const string ServerVariable = "MEATLIZARD_TEST_POSTGRES";

    private readonly List<ServiceProvider> _providers = [];

    private readonly string? _server;

    private PostgresTestDatabase(string name, string connectionString, string? server)
    {
        _server = server;
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    public string ConnectionString { get; }

    public ServiceProvider Services => _providers[0];

    /// <summary>The maintenance database of the test server; fails the test with a clear message when it is not set.</summary>
    public static string ServerConnectionString
    {
        get
        {
            var value = Environment.GetEnvironmentVariable(ServerVariable);
            if (string.IsNullOrWhiteSpace(value))
            {
                Assert.Fail($"{ServerVariable} is not set: run ./test.sh, which starts PostgreSQL " +
                    "(scripts/test-services/postgres.sh).");
            }

            return value!;
        }
    }

    /// <param name="initialize">Apply the migrations.</param>
    /// <param name="server">Another server's maintenance database than the shared test server's.</param>
    public static async Task<PostgresTestDatabase> CreateAsync(bool initialize = true, string? server = null)
    {
        var name = "ml_test_" + Guid.NewGuid().ToString("N");
        await ExecuteOnServerAsync($"CREATE DATABASE {name}", server);
        var builder = new NpgsqlConnectionStringBuilder(server ?? ServerConnectionString) { Database = name };
        var database = new PostgresTestDatabase(name, builder.ConnectionString, server);
        var services = database.StartHost();
        if (initialize)
        {
            await services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);
        }

        return database;
    }

    public static async Task ExecuteOnServerAsync(string sql, string? server = null)
    {
        await using var connection = new NpgsqlConnection(server ?? ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public ServiceProvider StartHost(TimeProvider? clock = null)
    {
        var services = new ServiceCollection();
        if (clock is not null)
        {
            services.AddSingleton(clock);
        }

        services.AddPostgresPersistence(ConnectionString).AddCachedRuntimeSettings();
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        _providers.Add(provider);
        return provider;
    }

    public AsyncServiceScope Scope() => Services.CreateAsyncScope();

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return (T)Convert.ChangeType(value!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public string InstantLiteral(DateTimeOffset instant) =>
        $"'{instant.UtcDateTime:yyyy-MM-dd HH:mm:ss.ffffff}+00'::timestamptz";

    public bool IsConstraintViolation(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.ForeignKeyViolation };

    public async ValueTask DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }

        NpgsqlConnection.ClearAllPools();
        await ExecuteOnServerAsync($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", _server);
    }
}
