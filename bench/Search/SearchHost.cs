using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NpgsqlTypes;

namespace MeatLizard.Bench.Search;

/// <summary>
/// The real API on a loopback port (embedded SQLite, or a fresh PostgreSQL database), with no model host: the benchmark
/// only searches. Messages are stored straight into the database, as fast as it takes them, through the same triggers
/// and generated columns that index what the API stores.
/// </summary>
internal sealed class SearchHost : WebApplicationFactory<Program>
{
    private readonly string _dataRoot = Directory.CreateTempSubdirectory("meatlizard-bench-search-").FullName;
    private readonly Dictionary<string, string?> _settings = [];
    private string? _postgresServer;
    private string? _database;

    private SearchHost(string name) => Name = name;

    public string Name { get; }

    public Uri Address { get; private set; } = null!;

    public static async Task<SearchHost> StartAsync(string storage)
    {
        var host = new SearchHost(storage == "postgres" ? "PostgreSQL" : "SQLite");
        if (storage == "postgres")
        {
            host._postgresServer = Environment.GetEnvironmentVariable("MEATLIZARD_TEST_POSTGRES")
                ?? throw new InvalidOperationException("MEATLIZARD_TEST_POSTGRES is not set: run bench/search.sh, which starts PostgreSQL.");
            host._database = "ml_bench_" + Guid.NewGuid().ToString("N");
            await ExecuteAsync(host._postgresServer, $"CREATE DATABASE {host._database}");
            host._settings["Storage:Provider"] = "Postgres";
            host._settings["ConnectionStrings:Postgres"] = host.PostgresConnectionString;
        }
        else if (storage != "sqlite")
        {
            throw new ArgumentException($"--storage takes sqlite and postgres, not '{storage}'.");
        }

        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_MEATLIZARD_PRESENTATION_API",
            Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "Presentation.Api")));
        host.UseKestrel(0);
        host.StartServer();
        host.Address = new Uri(host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
        return host;
    }

    private string PostgresConnectionString =>
        new NpgsqlConnectionStringBuilder(_postgresServer) { Database = _database }.ConnectionString;

    public async Task LoadAsync(IEnumerable<BenchMessage> messages)
    {
        if (_database is null)
        {
            await LoadSqliteAsync(messages);
        }
        else
        {
            await LoadPostgresAsync(messages);
        }
    }

    private async Task LoadSqliteAsync(IEnumerable<BenchMessage> messages)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_dataRoot, "meatlizard.db")}");
        await connection.OpenAsync();
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
        await using var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO messages (id, session_id, role, content, source, created_at)
            VALUES ($id, $chat, $role, $content, $source, $at)
            """;
        var id = insert.Parameters.Add("$id", SqliteType.Text);
        var chat = insert.Parameters.Add("$chat", SqliteType.Text);
        var role = insert.Parameters.Add("$role", SqliteType.Text);
        var content = insert.Parameters.Add("$content", SqliteType.Text);
        var source = insert.Parameters.Add("$source", SqliteType.Text);
        var at = insert.Parameters.Add("$at", SqliteType.Integer);
        foreach (var message in messages)
        {
            id.Value = message.Id.ToString("D");
            chat.Value = message.ChatId.ToString("D");
            role.Value = message.FromUser ? "user" : "assistant";
            content.Value = message.Content;
            source.Value = message.FromUser ? "user" : "model";
            at.Value = message.CreatedAt.ToUnixTimeMilliseconds();
            await insert.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        await using var analyze = connection.CreateCommand();
        analyze.CommandText = "ANALYZE";
        await analyze.ExecuteNonQueryAsync();
    }

    private async Task LoadPostgresAsync(IEnumerable<BenchMessage> messages)
    {
        await using var connection = new NpgsqlConnection(PostgresConnectionString);
        await connection.OpenAsync();
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY messages (id, session_id, role, content, source, created_at) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var message in messages)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync(message.Id, NpgsqlDbType.Uuid);
                await copy.WriteAsync(message.ChatId, NpgsqlDbType.Uuid);
                await copy.WriteAsync(message.FromUser ? "user" : "assistant", NpgsqlDbType.Text);
                await copy.WriteAsync(message.Content, NpgsqlDbType.Text);
                await copy.WriteAsync(message.FromUser ? "user" : "model", NpgsqlDbType.Text);
                await copy.WriteAsync(message.CreatedAt.UtcDateTime, NpgsqlDbType.TimestampTz);
            }

            await copy.CompleteAsync();
        }

        // What autovacuum does on its own a little later: statistics for the planner, the GIN index's pending list
        // merged, the visibility map set.
        foreach (var table in new[] { "messages", "chat_sessions" })
        {
            await using var vacuum = new NpgsqlCommand($"VACUUM ANALYZE {table}", connection);
            await vacuum.ExecuteNonQueryAsync();
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("Data:Root", _dataRoot);
        builder.UseSetting("Urls", "http://127.0.0.1:0");
        builder.UseSetting("Inference:Engine", "None");
        builder.UseSetting("RateLimits:ChatCreationPerUserPerMinute", "0");
        builder.UseSetting("Logging:LogLevel:Default", "Error");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        NpgsqlConnection.ClearAllPools();
        if (_database is not null)
        {
            await ExecuteAsync(_postgresServer!, $"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
        }

        Directory.Delete(_dataRoot, recursive: true);
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
