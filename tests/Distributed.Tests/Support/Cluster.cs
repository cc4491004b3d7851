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

/// <summary>
/// Distributed mode as an operator runs it, on the real servers ./test.sh starts: a fresh PostgreSQL database, a key
/// prefix of its own on Redis, an S3 bucket; two API instances (Presentation.Api, Relay:Dispatcher=External) and the
/// server bot (Presentation.DiscordServer) as separate processes; the client bot in this process (its engine is a
/// test engine) relaying with the server bot through the loopback fake Discord — or, with
/// <see cref="ClusterOptions.ClientBotProcess"/>, the client bot as a process of its own (Presentation.DiscordClient) on
/// the engine its settings name. Every process can be killed (kill -9) and started again with the same settings. With
/// <see cref="ClusterOptions.DirectRelay"/> there is no Discord: the first API instance relays and the client bot dials
/// it through <see cref="HostNetwork"/>.
/// </summary>
public sealed partial class Cluster : IAsyncDisposable
{
    /// <summary>Messages a user may send at once (the per-user bucket); it refills by one a minute, i.e. not during a test.</summary>
    public const int UserBurst = 6;

    /// <summary>The server bot's slow poll: long, so an answer that comes sooner shows LISTEN/NOTIFY woke it.</summary>
    public static readonly TimeSpan ServerPollInterval = TimeSpan.FromSeconds(20);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "meatlizard-distributed-" + Guid.NewGuid().ToString("N"));
    private readonly string _database = "ml_dist_" + Guid.NewGuid().ToString("N");
    private readonly string _relayKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private readonly List<HostProcess> _processes = [];
    private readonly Dictionary<HostProcess, HostStart> _starts = [];
    private FakeDiscordServer? _fake;
    private FakeBot? _serverBot;
    private FakeBot? _clientBot;
    private readonly List<FakeBot> _hostBots = [];
    private Dictionary<string, string> _shared = [];
    private HostNetwork? _hostNetwork;
    private string _hostToken = "";
    private string _serverDirectory = "";

    private readonly ClusterOptions _options;

    private Cluster(ClusterOptions options)
    {
        _options = options;
    }

    public List<Uri> Apis { get; } = [];

    public HostProcess? ServerBot { get; private set; }

    /// <summary>A second server bot beside the first (<see cref="StartSecondServerBotAsync"/>), when a test runs the pair.</summary>
    public HostProcess? SecondServerBot { get; private set; }

    public IHost? ClientBot { get; private set; }

    /// <summary>The client bot's process, when it runs as one (<see cref="ClusterOptions.ClientBotProcess"/>).</summary>
    public HostProcess? ClientBotProcess { get; private set; }

    /// <summary>
    /// The model hosts' client bot processes, when the cluster runs several (<see cref="ClusterOptions.ModelHosts"/>),
    /// in the order configured.
    /// </summary>
    public List<HostProcess> ModelHostProcesses { get; } = [];

    /// <summary>The model hosts' Discord bots, in the order of <see cref="ModelHostProcesses"/>.</summary>
    public IReadOnlyList<FakeBot> ModelHostBots => _hostBots;

    /// <summary>
    /// The network between the model hosts and the API instance they dial, with <see cref="ClusterOptions.DirectRelay"/>
    /// (faults are injected there).
    /// </summary>
    public HostNetwork HostNetwork => _hostNetwork ?? throw new InvalidOperationException("Only a cluster on the direct relay has a host network.");

    /// <summary>The loopback Discord every bot talks to (faults are injected there).</summary>
    public FakeDiscordServer Discord => _fake!;

    /// <summary>The server bot's and the client bot's identities on the loopback Discord.</summary>
    public FakeBot ServerBotUser => _serverBot!;

    public FakeBot ClientBotUser => _clientBot!;

    /// <summary>The client bot's engine: an echo, 25 ms between words (as a model's tokens).</summary>
    public ScriptedEngine Engine { get; } = ScriptedEngine.Echo(TimeSpan.FromMilliseconds(25));

    public string DatabaseConnectionString { get; private set; } = "";

    /// <summary>The API instances' processes, in the order of <see cref="Apis"/>.</summary>
    public List<HostProcess> ApiProcesses { get; } = [];

    public string Diagnostics => string.Join(Environment.NewLine + "----" + Environment.NewLine,
        _processes.Select(p => $"{p.Name}:{Environment.NewLine}{p.Output}").Concat(InProcessClientBotWarnings()));

    /// <summary>What the client bot run in this process logged (warnings and worse), as the processes' output shows theirs.</summary>
    private readonly Discord.Tests.Relay.RecordedLogs _clientBotLogs = new();

    private IEnumerable<string> InProcessClientBotWarnings() => ClientBot is null
        ? []
        : [$"client bot (in this process):{Environment.NewLine}" + string.Join(Environment.NewLine,
            _clientBotLogs.Entries.Where(e => e.Level >= LogLevel.Warning).Select(e => $"{e.Level}: {e.Category}: {e.Message}"))];

    public static async Task<Cluster> StartAsync(ClusterOptions? options = null)
    {
        var cluster = new Cluster(options ?? new ClusterOptions());
        try
        {
            await cluster.StartAllAsync();
            await cluster.SeedOperatorAdminAsync();
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
        if (_options.ModelHosts is { } hosts)
        {
            for (var i = 0; i < hosts.Count; i++)
            {
                ModelHostProcesses.Add(LaunchClientBot($"model host {i + 1}", $"model-host-{i + 1}", _hostBots[i], hosts[i]));
            }

            await WaitForWorkersAsync(online: true, within: TimeSpan.FromSeconds(90), atLeast: hosts.Count);
            return;
        }

        if (_options.ClientBotProcess is { } processSettings)
        {
            ClientBotProcess = LaunchClientBot("client bot", "client-bot", _clientBot, processSettings);
            await WaitForWorkersAsync(online: true, within: TimeSpan.FromSeconds(90));
            return;
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = "Production",
            ContentRootPath = _directory,
            DisableDefaults = true,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(RelaySettings(_clientBot))
        {
            ["Data:Root"] = Path.Combine(_directory, "client-bot"),
            ["Relay:HeartbeatInterval"] = "00:00:00.300",
            ["Relay:WorkerTimeout"] = "00:00:01.500",
        });
        builder.Configuration.AddInMemoryCollection(
            _options.InProcessClientBotSettings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value)));
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(_clientBotLogs);
        builder.Services.AddSingleton(FakeDiscordKit.FastTimings());
        builder.Services.AddSingleton(_options.InProcessEngine ?? Engine);
        builder.AddDiscordClientBot();
        ClientBot = builder.Build();
        await ClientBot.StartAsync();
        await WaitForWorkersAsync(online: true);
    }

    /// <summary>A client bot as a process of its own (Presentation.DiscordClient), as <paramref name="bot"/>.</summary>
    private HostProcess LaunchClientBot(string name, string folder, FakeBot? bot, IReadOnlyDictionary<string, string> settings)
    {
        var directory = Directory.CreateDirectory(Path.Combine(_directory, folder)).FullName;
        var environment = new Dictionary<string, string>
        {
            ["Data__Root"] = directory,
            ["Relay__HeartbeatInterval"] = "00:00:00.300",
            ["Relay__WorkerTimeout"] = "00:00:01.500",
        };
        foreach (var (key, value) in RelaySettings(bot))
        {
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value!;
        }

        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return Launch(new HostStart(name, "MeatLizard.Presentation.DiscordClient", directory, environment));
    }

    /// <summary>
    /// How the server bot starts: with the client bots listed now (<c>Discord:ClientBotUserIds</c>) and the test's
    /// <see cref="ClusterOptions.ServerBotSettings"/>.
    /// </summary>
    private HostStart ServerBotStart() => new("server bot", "MeatLizard.Presentation.DiscordServer", _serverDirectory,
        new Dictionary<string, string>(_shared)
        {
            ["Data__Root"] = _serverDirectory,
        }.Concat(DiscordSettings(_serverBot!).Select(s => KeyValuePair.Create(s.Key.Replace(":", "__", StringComparison.Ordinal), s.Value!)))
        .Concat(_options.ServerBotSettings)
        .ToDictionary());

    /// <summary>
    /// Starts a second server bot beside the first, as an operator runs the pair: the same bot (token, settings,
    /// database), a process and data folder of its own. Waits until its gateway session is ready.
    /// </summary>
    public async Task<HostProcess> StartSecondServerBotAsync()
    {
        var directory = Directory.CreateDirectory(Path.Combine(_directory, "server-bot-2")).FullName;
        var first = ServerBotStart();
        var environment = new Dictionary<string, string>(first.Environment) { ["Data__Root"] = directory };
        var sessions = _fake!.SessionsOf(_serverBot!);
        SecondServerBot = Launch(first with { Name = "server bot 2", Directory = directory, Environment = environment });
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => _fake.SessionsOf(_serverBot!) > sessions, TimeSpan.FromSeconds(60)),
            Is.True, "the second server bot connected to the gateway" + Environment.NewLine + Diagnostics);
        return SecondServerBot;
    }

    /// <summary>Ends the second server bot (kill -9), leaving the cluster with the one it started with.</summary>
    public async Task StopSecondServerBotAsync()
    {
        if (SecondServerBot is { } second)
        {
            SecondServerBot = null;
            await second.KillAsync();
            _starts.Remove(second);
            _processes.Remove(second);
            await second.DisposeAsync();
        }
    }

    /// <summary>
    /// A model host added the way an operator adds one: a new Discord bot put on <c>Discord:ClientBotUserIds</c>, the
    /// server bot started again to read the list (kill -9, then the same settings with the longer list), and the new
    /// host's client bot process started with <paramref name="settings"/>. Waits for nothing: the caller says what
    /// should follow.
    /// </summary>
    public async Task<HostProcess> AddModelHostAsync(IReadOnlyDictionary<string, string> settings)
    {
        var bot = _fake!.AddBot($"meatlizard-client-{_hostBots.Count + 1}");
        _hostBots.Add(bot);
        _starts[ServerBot!] = ServerBotStart();
        await KillAndRestartAsync(ServerBot!);
        var host = LaunchClientBot($"model host {_hostBots.Count}", $"model-host-{_hostBots.Count}", bot, settings);
        ModelHostProcesses.Add(host);
        return host;
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

    /// <summary>
    /// Polls GET /api/v1/status on every instance until each reports a worker online (at least
    /// <paramref name="atLeast"/>), or none.
    /// </summary>
    public async Task WaitForWorkersAsync(bool online, TimeSpan? within = null, int atLeast = 1)
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var counts = new List<int>();
            foreach (var api in Apis)
            {
                var status = await http.GetFromJsonAsync<JsonElement>(new Uri(api, "api/v1/status"));
                counts.Add(status.GetProperty("workersOnline").GetInt32());
            }

            if (counts.All(c => online ? c >= atLeast : c == 0))
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

    /// <summary>kill -9 of one of the cluster's processes, then the same process started again with the same settings
    /// (an API instance on the same port, so clients reach it where they did). Returns the new process.</summary>
    public async Task<HostProcess> KillAndRestartAsync(HostProcess victim, TimeSpan? downFor = null)
    {
        await victim.KillAsync();
        if (downFor is { } pause)
        {
            await Task.Delay(pause);
        }

        return await RestartAsync(victim);
    }

    /// <summary>Starts a killed (or exited) process again with the settings it had.</summary>
    public async Task<HostProcess> RestartAsync(HostProcess stopped)
    {
        var start = _starts[stopped];
        _starts.Remove(stopped);
        _processes.Remove(stopped);
        await stopped.DisposeAsync();
        var restarted = Launch(start);
        if (ReferenceEquals(stopped, ServerBot))
        {
            ServerBot = restarted;
        }
        else if (ReferenceEquals(stopped, SecondServerBot))
        {
            SecondServerBot = restarted;
        }
        else if (ReferenceEquals(stopped, ClientBotProcess))
        {
            ClientBotProcess = restarted;
        }
        else if (ModelHostProcesses.IndexOf(stopped) is var host and >= 0)
        {
            ModelHostProcesses[host] = restarted;
        }
        else
        {
            var index = ApiProcesses.IndexOf(stopped);
            ApiProcesses[index] = restarted;
            await restarted.ListeningAsync(TimeSpan.FromSeconds(90));
        }

        return restarted;
    }

    private HostProcess Launch(HostStart start)
    {
        var process = HostProcess.Start(start.Name, start.Assembly, start.Directory, start.Environment);
        _processes.Add(process);
        _starts[process] = start;
        return process;
    }

    /// <summary>
    /// An admin with no password, as the operator makes one with the setup link the API printed. The tests' users
    /// register as ordinary accounts on the policy as configured.
    /// </summary>
    private Task SeedOperatorAdminAsync() => QueryAsync<object>("""
        INSERT INTO users (id, username, password_hash, role, status, created_at, security_stamp)
        VALUES (gen_random_uuid(), 'operator', '!', 'admin', 'active', now(), 'seeded')
        ON CONFLICT DO NOTHING
        """);

    public async Task<T> QueryAsync<T>(string sql, object? parameters = null)
    {
        // A connection of its own each time: a pooled one opened before a PostgreSQL restart (the seeding at start)
        // would be handed out dead after it (57P01), failing the test's own check instead of the product.
        await using var connection = new NpgsqlConnection(
            new NpgsqlConnectionStringBuilder(DatabaseConnectionString) { Pooling = false }.ConnectionString);
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

        if (_hostNetwork is not null)
        {
            await _hostNetwork.DisposeAsync();
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
}

/// <summary>How one of the cluster's processes was started, to start it again the same way.</summary>
internal sealed record HostStart(string Name, string Assembly, string Directory, IReadOnlyDictionary<string, string> Environment);
