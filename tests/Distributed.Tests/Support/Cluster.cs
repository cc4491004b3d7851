using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Discord;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests.Support;

/// <summary>
/// Distributed mode as an operator runs it, on the real servers ./test.sh starts: a fresh PostgreSQL database, a key
/// prefix of its own on Redis, an S3 bucket; two API instances (Presentation.Api, Relay:Dispatcher=External) and the
/// server bot (Presentation.DiscordServer) as separate processes; the client bot in this process (its engine is a
/// test engine) relaying with the server bot through the loopback fake Discord.
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    /// <summary>Messages a user may send at once (the per-user bucket); it refills by one a minute, i.e. not during a test.</summary>
    public const int UserBurst = 6;

    /// <summary>The server bot's slow poll: long, so an answer that comes sooner shows LISTEN/NOTIFY woke it.</summary>
    public static readonly TimeSpan ServerPollInterval = TimeSpan.FromSeconds(20);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "meatlizard-distributed-" + Guid.NewGuid().ToString("N"));
    private readonly string _database = "ml_dist_" + Guid.NewGuid().ToString("N");
    private readonly string _relayKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private readonly List<HostProcess> _processes = [];
    private FakeDiscordServer? _fake;
    private FakeBot? _serverBot;
    private FakeBot? _clientBot;

    private readonly ClusterOptions _options;

    private Cluster(ClusterOptions options)
    {
        _options = options;
    }

    public List<Uri> Apis { get; } = [];

    public HostProcess? ServerBot { get; private set; }

    public IHost? ClientBot { get; private set; }

    public RecordingEngine Engine { get; } = new();

    public string DatabaseConnectionString { get; private set; } = "";

    /// <summary>The API instances' processes, in the order of <see cref="Apis"/>.</summary>
    public List<HostProcess> ApiProcesses { get; } = [];

    public string Diagnostics => string.Join(Environment.NewLine + "----" + Environment.NewLine,
        _processes.Select(p => $"{p.Name}:{Environment.NewLine}{p.Output}"));

    public static async Task<Cluster> StartAsync(ClusterOptions? options = null)
    {
        var cluster = new Cluster(options ?? new ClusterOptions());
        try
        {
            await cluster.StartAllAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts (again) the client bot, and waits until every API instance reports its worker online.</summary>
    public async Task StartClientBotAsync()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = "Production",
            ContentRootPath = _directory,
            DisableDefaults = true,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(DiscordSettings(_clientBot!))
        {
            ["Data:Root"] = Path.Combine(_directory, "client-bot"),
            ["Relay:HeartbeatInterval"] = "00:00:00.300",
            ["Relay:WorkerTimeout"] = "00:00:01.500",
            ["Relay:PartialInterval"] = "00:00:00.200",
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(FakeDiscordKit.FastTimings());
        builder.Services.AddSingleton<IInferenceEngine>(Engine);
        builder.AddDiscordClientBot();
        ClientBot = builder.Build();
        await ClientBot.StartAsync();
        await WaitForWorkersAsync(online: true);
    }

    public async Task StopClientBotAsync()
    {
        if (ClientBot is not null)
        {
            await ClientBot.StopAsync(TimeSpan.FromSeconds(10));
            ClientBot.Dispose();
            ClientBot = null;
        }
    }

    /// <summary>Polls GET /api/v1/status on every instance until each reports a worker online (or none).</summary>
    public async Task WaitForWorkersAsync(bool online)
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var counts = new List<int>();
            foreach (var api in Apis)
            {
                var status = await http.GetFromJsonAsync<JsonElement>(new Uri(api, "api/v1/status"));
                counts.Add(status.GetProperty("workersOnline").GetInt32());
            }

            if (counts.All(c => online ? c > 0 : c == 0))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"The API instances report {string.Join(", ", counts)} workers online, expected {(online ? "some" : "none")}.{Environment.NewLine}{Diagnostics}");
            }

            await Task.Delay(100);
        }
    }

    public async Task<T> QueryAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var property in parameters?.GetType().GetProperties() ?? [])
        {
            command.Parameters.AddWithValue(property.Name, property.GetValue(parameters)!);
        }

        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        await StopClientBotAsync();
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        if (_fake is not null)
        {
            await _fake.DisposeAsync();
        }

        if (DatabaseConnectionString.Length > 0)
        {
            NpgsqlConnection.ClearAllPools();
            await ExecuteOnServerAsync($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string Required(string variable, string server)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Fail($"{variable} is not set: run ./test.sh, which starts {server} (scripts/test-services/).");
        }

        return value!;
    }

    private string PostgresServer => _options.Postgres ?? Required("MEATLIZARD_TEST_POSTGRES", "PostgreSQL");

    private async Task ExecuteOnServerAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(PostgresServer);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task StartAllAsync()
    {
        var redis = _options.Redis ?? Required("MEATLIZARD_TEST_REDIS", "Redis");
        var s3 = Required("MEATLIZARD_TEST_S3", "s3rver");
        await ExecuteOnServerAsync($"CREATE DATABASE {_database}");
        DatabaseConnectionString = new NpgsqlConnectionStringBuilder(PostgresServer)
        {
            Database = _database,
        }.ConnectionString;
        Directory.CreateDirectory(_directory);

        _fake = await FakeDiscordServer.StartAsync();
        _fake.RateLimit = 50;
        _serverBot = _fake.AddBot("meatlizard-server");
        _clientBot = _fake.AddBot("meatlizard-client");

        // What every process shares: the database, Redis (own key prefix), the object store, the relay timings.
        var shared = new Dictionary<string, string>
        {
            ["Storage__Provider"] = "Postgres",
            ["ConnectionStrings__Postgres"] = DatabaseConnectionString,
            ["Cache__Provider"] = "Redis",
            ["ConnectionStrings__Redis"] = redis,
            ["Cache__Redis__KeyPrefix"] = $"{_database}:",
            ["ObjectStore__Provider"] = "S3",
            ["ObjectStore__S3__ServiceUrl"] = s3,
            ["ObjectStore__S3__Bucket"] = Required("MEATLIZARD_TEST_S3_BUCKET", "s3rver"),
            ["ObjectStore__S3__AccessKey"] = Required("MEATLIZARD_TEST_S3_ACCESS_KEY", "s3rver"),
            ["ObjectStore__S3__SecretKey"] = Required("MEATLIZARD_TEST_S3_SECRET_KEY", "s3rver"),
            ["ObjectStore__S3__CreateBucket"] = "true",
            ["Relay__AckTimeout"] = "00:00:05",
            ["Relay__CompletionTimeout"] = "00:00:30",
            ["Relay__HeartbeatInterval"] = "00:00:00.300",
            ["Relay__WorkerTimeout"] = "00:00:01.500",
            ["Relay__PollInterval"] = ServerPollInterval.ToString("c"),
            ["Fallback__Mode"] = "Inform",
            ["RateLimits__PerUserPerMinute"] = "1",
            ["RateLimits__UserBurst"] = UserBurst.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RateLimits__PerIpPerMinute"] = "0",
            ["RateLimits__LogInPerIpPerMinute"] = "0",
            ["RateLimits__LogInFailuresPerMinute"] = "0",
            ["RateLimits__LogInSustainedFailuresPerMinute"] = "0",
            ["RateLimits__RegisterPerIpPerMinute"] = "0",
            ["RateLimits__ChatCreationPerUserPerMinute"] = "0",
        };

        var serverDirectory = Directory.CreateDirectory(Path.Combine(_directory, "server-bot")).FullName;
        ServerBot = HostProcess.Start("server bot", "MeatLizard.Presentation.DiscordServer", serverDirectory,
            new Dictionary<string, string>(shared)
            {
                ["Data__Root"] = serverDirectory,
            }.Concat(DiscordSettings(_serverBot).Select(s => KeyValuePair.Create(s.Key.Replace(":", "__", StringComparison.Ordinal), s.Value!)))
            .ToDictionary());
        _processes.Add(ServerBot);

        // Each instance has a data folder of its own: the data-protection keys that protect access tokens are shared
        // through PostgreSQL, so a token issued by one instance works at the other.
        for (var i = 1; i <= 2; i++)
        {
            var work = Directory.CreateDirectory(Path.Combine(_directory, $"api{i}")).FullName;
            var settings = new Dictionary<string, string>(shared)
            {
                ["Relay__Dispatcher"] = "External",
                ["Data__Root"] = work,

                // Development validates the container at start: the second instance checks the role's composition.
                ["ASPNETCORE_ENVIRONMENT"] = i == 2 ? "Development" : "Production",
                ["Urls"] = "http://127.0.0.1:0",
            };
            foreach (var (key, value) in _options.ApiSettings(i - 1))
            {
                settings[key] = value;
            }

            var api = HostProcess.Start($"API #{i}", "MeatLizard.Presentation.Api", work, settings);
            _processes.Add(api);
            ApiProcesses.Add(api);
            Apis.Add(await api.ListeningAsync(TimeSpan.FromSeconds(90)));
        }

        await StartClientBotAsync();
    }

    private Dictionary<string, string?> DiscordSettings(FakeBot bot) => new()
    {
        ["Discord:BotToken"] = bot.Token,
        ["Discord:GuildId"] = _fake!.GuildId,
        ["Discord:CategoryId"] = _fake.CategoryId,
        ["Discord:ApplicationId"] = bot.ApplicationId,
        ["Discord:ApiBaseUrl"] = _fake.ApiBaseUrl,
        ["Discord:ClientBotUserId"] = _clientBot!.UserId,
        ["Discord:ServerBotUserId"] = _serverBot!.UserId,
        ["Relay:Keys:0:Id"] = "1",
        ["Relay:Keys:0:Key"] = _relayKey,
    };
}

/// <summary>What a test changes about the cluster: its own PostgreSQL or Redis, settings of one API instance.</summary>
public sealed class ClusterOptions
{
    /// <summary>The PostgreSQL server (its maintenance database) the cluster's database is created on; the shared one when null.</summary>
    public string? Postgres { get; init; }

    /// <summary>The Redis every process uses (host:port); the shared test server when null.</summary>
    public string? Redis { get; init; }

    /// <summary>Extra environment variables of API instance <c>i</c> (0-based).</summary>
    public Func<int, IReadOnlyDictionary<string, string>> ApiSettings { get; init; } = _ => new Dictionary<string, string>();
}
