using MeatLizard.Presentation.DiscordClient;
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
/// <summary>Starting the cluster: its database, the shared settings and every process, in order.</summary>
public sealed partial class Cluster
{
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

        if (_options.DirectRelay && _options.ModelHosts is not null)
        {
            throw new NotSupportedException("Several model hosts over the direct relay: each needs a host token of its own.");
        }

        if (!_options.DirectRelay)
        {
            await StartDiscordAsync();
        }

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

        foreach (var (key, value) in _options.SharedSettings)
        {
            shared[key] = value;
        }

        _shared = shared;
        _serverDirectory = Directory.CreateDirectory(Path.Combine(_directory, "server-bot")).FullName;
        if (!_options.DirectRelay)
        {
            ServerBot = Launch(ServerBotStart());
        }

        // Each instance has a data folder of its own: the data-protection keys that protect access tokens are shared
        // through PostgreSQL, so a token issued by one instance works at the other.
        var relayPorts = new List<int>();
        for (var i = 1; i <= 2; i++)
        {
            var work = Directory.CreateDirectory(Path.Combine(_directory, $"api{i}")).FullName;
            // Over the direct relay the first instance is the relay server (or each is): it dispatches, and the hosts dial it.
            var relays = _options.DirectRelay && (i == 1 || _options.DirectRelayOnEveryInstance);
            var settings = new Dictionary<string, string>(shared)
            {
                ["Relay__Dispatcher"] = relays ? "Local" : "External",
                ["Data__Root"] = work,

                // Development validates the container at start: the second instance checks the role's composition.
                ["ASPNETCORE_ENVIRONMENT"] = i == 2 ? "Development" : "Production",
                ["Urls"] = "http://127.0.0.1:0",
            };
            if (relays)
            {
                settings["Relay__Transport"] = "Direct";
                settings["Relay__Keys__0__Id"] = "1";
                settings["Relay__Keys__0__Key"] = _relayKey;
            }

            foreach (var (key, value) in _options.ApiSettings(i - 1))
            {
                settings[key] = value;
            }

            if (relays && _hostToken.Length == 0)
            {
                _hostToken = await AddHostAsync(work, settings, "client-bot");
            }

            var start = new HostStart($"API #{i}", "MeatLizard.Presentation.Api", work, settings);
            var api = Launch(start);
            ApiProcesses.Add(api);
            var listening = await api.ListeningAsync(TimeSpan.FromSeconds(90));
            Apis.Add(listening);

            // Started again after a kill on the port it had: clients keep talking to the address they know.
            _starts[api] = start with { Environment = new Dictionary<string, string>(settings) { ["Urls"] = listening.ToString().TrimEnd('/') } };
            if (relays)
            {
                relayPorts.Add(listening.Port);
            }
        }

        if (relayPorts.Count > 0)
        {
            _hostNetwork = new HostNetwork([.. relayPorts]);
        }

        await StartClientBotAsync();
    }

    /// <summary>The Discord bots, server and client (and with <see cref="ClusterOptions.ModelHosts"/> one per host).</summary>
    private async Task StartDiscordAsync()
    {
        _fake = await FakeDiscordServer.StartAsync();
        _fake.RateLimit = 50;
        _serverBot = _fake.AddBot("meatlizard-server");
        _clientBot = _fake.AddBot("meatlizard-client");
        if (_options.ModelHosts is { } hosts)
        {
            // Each model host is a Discord bot of its own; the first is the cluster's client bot.
            _hostBots.Add(_clientBot);
            for (var i = 2; i <= hosts.Count; i++)
            {
                _hostBots.Add(_fake.AddBot($"meatlizard-client-{i}"));
            }
        }
    }

    /// <summary>
    /// A host token made as an operator makes one, with the relay instance's <c>hosts add NAME</c> verb (before the
    /// instance serves: the verb prepares the database as the host does).
    /// </summary>
    private static async Task<string> AddHostAsync(string work, IReadOnlyDictionary<string, string> settings, string name)
    {
        await using var verb = HostProcess.Start($"hosts add {name}", "MeatLizard.Presentation.Api", work, settings, "hosts", "add", name);
        Assert.That(await verb.WaitForExitAsync(TimeSpan.FromSeconds(90)), Is.Zero, verb.Output);
        var token = System.Text.RegularExpressions.Regex.Match(verb.Output, @"mlh_\S+").Value;
        Assert.That(token, Is.Not.Empty, "hosts add printed the host's token" + Environment.NewLine + verb.Output);
        return token;
    }

    /// <summary>
    /// How a model host reaches the relay: over Discord as <paramref name="bot"/> (a piece of an answer every 200 ms,
    /// not Discord's second), or dialling the relay instance (the direct relay's own pieces, token by token).
    /// </summary>
    private Dictionary<string, string?> RelaySettings(FakeBot? bot) => _options.DirectRelay
        ? new()
        {
            ["Relay:Transport"] = "Direct",
            ["Relay:ServerUrl"] = HostNetwork.Address.ToString(),
            ["Relay:HostToken"] = _hostToken,
            ["Relay:Keys:0:Id"] = "1",
            ["Relay:Keys:0:Key"] = _relayKey,
        }
        : new(DiscordSettings(bot!)) { ["Relay:PartialInterval"] = "00:00:00.200" };

    private Dictionary<string, string?> DiscordSettings(FakeBot bot) => new()
    {
        ["Discord:BotToken"] = bot.Token,
        ["Discord:GuildId"] = _fake!.GuildId,
        ["Discord:CategoryId"] = _fake.CategoryId,
        ["Discord:ApplicationId"] = bot.ApplicationId,
        ["Discord:ApiBaseUrl"] = _fake.ApiBaseUrl,
        ["Discord:ClientBotUserId"] = _clientBot!.UserId,
        ["Discord:ClientBotUserIds"] = string.Join(',', _hostBots.Select(b => b.UserId).Append(_clientBot.UserId).Distinct()),
        ["Discord:ServerBotUserId"] = _serverBot!.UserId,
        ["Relay:Keys:0:Id"] = "1",
        ["Relay:Keys:0:Key"] = _relayKey,
    };
}
