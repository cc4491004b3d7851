extern alias clientbot;
extern alias serverbot;

using System.Security.Cryptography;
using MeatLizard.Application.Abstractions;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Persistence;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using ClientBotComposition = clientbot::MeatLizard.Presentation.DiscordClient.ClientBotComposition;
using ServerBotComposition = serverbot::MeatLizard.Presentation.DiscordServer.ServerBotComposition;

namespace MeatLizard.Bench.OpenAi;

/// <summary>
/// The Discord relay in front of part 1's llama-server, for comparison with the direct relay (issue 39): the
/// distributed set-up of the README's "Three set-ups" — an API host with Relay:Dispatcher=External, the server bot and
/// a client bot, each composed as its host is, on a PostgreSQL database of their own and Redis — relaying over the
/// loopback fake Discord of tests/Discord.Tests, which keeps Discord's rate limits (five messages per five seconds in
/// a channel, the global limit, channel creation). The client bot answers with <paramref name="engine"/>, the very
/// engine and llama-server the other rows use. Relay settings are the products' defaults (a piece at most once per
/// Relay:PartialInterval, 1 s); only the gateway's reconnect and identify pauses are the fake's short ones, which
/// matter at start-up alone.
/// </summary>
internal sealed class DiscordRelaySetup : IAsyncDisposable
{
    private readonly FakeDiscordServer _fake;
    private readonly IHost _server;
    private readonly OpenAiHost _api;
    private readonly IHost _bot;
    private readonly string _postgres;
    private readonly string _database;
    private readonly string _dataRoot;

    private DiscordRelaySetup(
        FakeDiscordServer fake, IHost server, OpenAiHost api, IHost bot, string postgres, string database, string dataRoot,
        Uri address)
    {
        _fake = fake;
        _server = server;
        _api = api;
        _bot = bot;
        _postgres = postgres;
        _database = database;
        _dataRoot = dataRoot;
        Address = address;
    }

    /// <summary>The API host's address (its /v1).</summary>
    public Uri Address { get; }

    /// <param name="postgres">A PostgreSQL server's connection string (a database of the run's own is made on it).</param>
    /// <param name="redis">A Redis server (host:port); the run's keys have a prefix of their own.</param>
    public static async Task<DiscordRelaySetup> StartAsync(string dataRoot, IInferenceEngine engine, string postgres, string redis)
    {
        var database = "meatlizard_bench_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(postgres))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", connection);
            await create.ExecuteNonQueryAsync();
        }

        var shared = new Dictionary<string, string>
        {
            ["Storage:Provider"] = "Postgres",
            ["ConnectionStrings:Postgres"] = new NpgsqlConnectionStringBuilder(postgres) { Database = database }.ConnectionString,
            ["Cache:Provider"] = "Redis",
            ["ConnectionStrings:Redis"] = redis,
            ["Cache:Redis:KeyPrefix"] = database + ":",
            ["Relay:Keys:0:Id"] = "1",
            ["Relay:Keys:0:Key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        };

        var root = dataRoot + "-discord";
        var fake = await FakeDiscordServer.StartAsync();
        var serverBot = fake.AddBot("meatlizard-server");
        var clientBot = fake.AddBot("meatlizard-client");
        Dictionary<string, string?> BotSettings(FakeBot bot, string folder) => new(shared.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value)))
        {
            ["Discord:BotToken"] = bot.Token,
            ["Discord:GuildId"] = fake.GuildId,
            ["Discord:CategoryId"] = fake.CategoryId,
            ["Discord:ApplicationId"] = bot.ApplicationId,
            ["Discord:ApiBaseUrl"] = fake.ApiBaseUrl,
            ["Discord:ClientBotUserId"] = clientBot.UserId,
            ["Discord:ServerBotUserId"] = serverBot.UserId,
            ["Data:Root"] = Directory.CreateDirectory(Path.Combine(root, folder)).FullName,
        };

        var server = Build(BotSettings(serverBot, "server-bot"), builder => ServerBotComposition.AddDiscordServerBot(builder));
        await server.Services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);
        await server.StartAsync();

        var api = new OpenAiHost(Path.Combine(root, "api"), new Dictionary<string, string>(shared)
        {
            ["Relay:Dispatcher"] = "External",
        });
        var address = await api.StartServerAsync();

        var bot = Build(BotSettings(clientBot, "client-bot"), builder =>
        {
            builder.Services.AddSingleton(engine);
            ClientBotComposition.AddDiscordClientBot(builder);
        });
        await bot.StartAsync();
        await api.WaitForHostAsync();
        return new DiscordRelaySetup(fake, server, api, bot, postgres, database, root, address);
    }

    private static IHost Build(Dictionary<string, string?> settings, Action<HostApplicationBuilder> compose)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = "Production",
            DisableDefaults = true,
        });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.AddConsole();
        // Errors only: under Discord's limits every dispatch waits its turn to post, and each would log a slow request.
        builder.Logging.SetMinimumLevel(LogLevel.Error);
        builder.Services.AddSingleton(FakeDiscordKit.FastTimings());
        compose(builder);
        return builder.Build();
    }

    public async ValueTask DisposeAsync()
    {
        await _bot.StopAsync();
        _bot.Dispose();
        await _api.DisposeAsync();
        await _server.StopAsync();
        _server.Dispose();
        await _fake.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using (var connection = new NpgsqlConnection(_postgres))
        {
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }

        try
        {
            Directory.Delete(_dataRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
