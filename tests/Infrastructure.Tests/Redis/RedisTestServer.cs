using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using MeatLizard.Infrastructure.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Redis;

/// <summary>
/// The Redis that ./test.sh starts (scripts/test-services/redis.sh). Each test uses its own key prefix, so tests do
/// not see each other's keys. Connections made here are disposed by <see cref="DisposeAsync"/>.
/// </summary>
public sealed class RedisTestServer : IAsyncDisposable
{
    private readonly List<RedisConnection> _connections = [];
    private readonly ServiceProvider _metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public RedisTestServer(string? endpoint = null)
    {
        Endpoint = endpoint ?? RequiredEnvironment("MEATLIZARD_TEST_REDIS", "Redis");
        KeyPrefix = $"test:{Guid.NewGuid():N}:";
    }

    public string Endpoint { get; }

    public string KeyPrefix { get; }

    public IMeterFactory MeterFactory => _metrics.GetRequiredService<IMeterFactory>();

    public static string RequiredEnvironment(string name, string server)
    {
        var value = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Fail($"{name} is not set: run ./test.sh, which starts {server}.");
        }

        return value!;
    }

    public RedisOptions Options(RedisFailMode failMode = RedisFailMode.Open, string? extra = null) => new()
    {
        Configuration = extra is null ? Endpoint : $"{Endpoint},{extra}",
        KeyPrefix = KeyPrefix,
        FailMode = failMode,
        FailClosedRetryAfter = TimeSpan.FromSeconds(3),
    };

    /// <summary>A new multiplexer, as a separate API instance would have.</summary>
    public RedisConnection Connect(RedisOptions? options = null)
    {
        var connection = new RedisConnection(Microsoft.Extensions.Options.Options.Create(options ?? Options()),
            NullLogger<RedisConnection>.Instance);
        _connections.Add(connection);
        return connection;
    }

    /// <summary>
    /// A new multiplexer that has finished connecting. Tests about what one instance sees of another's writes use it:
    /// a connect slowed by a loaded machine would otherwise send the first command to the instance's outage fallback,
    /// and the test would measure the machine's speed rather than the sharing.
    /// </summary>
    public async Task<RedisConnection> ConnectedAsync(RedisOptions? options = null)
    {
        var connection = Connect(options);
        var multiplexer = (await connection.GetDatabaseAsync()).Multiplexer;
        var waited = Stopwatch.StartNew();
        while (!multiplexer.IsConnected)
        {
            Assert.That(waited.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), $"no connection to Redis at {Endpoint} within 30 s");
            await Task.Delay(50);
        }

        return connection;
    }

    public RedisOutages Outages() => new(MeterFactory, NullLogger<RedisOutages>.Instance);

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }

        await _metrics.DisposeAsync();
    }
}

/// <summary>
/// A Redis of the test's own (the binary ./test.sh installed, from MEATLIZARD_TEST_REDIS_SERVER), so a test can stop
/// and restart it without disturbing the shared one. It comes back on the same port.
/// </summary>
public sealed class OwnRedisServer : IDisposable
{
    private readonly string _binary;
    private readonly string _directory;
    private Process? _process;

    public OwnRedisServer()
    {
        _binary = RedisTestServer.RequiredEnvironment("MEATLIZARD_TEST_REDIS_SERVER", "Redis");
        _directory = Directory.CreateTempSubdirectory("meatlizard-redis-").FullName;
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
    }

    public int Port { get; }

    public string Endpoint => $"127.0.0.1:{Port}";

    public async Task StartAsync()
    {
        _process = Process.Start(new ProcessStartInfo(_binary)
        {
            ArgumentList = { "--bind", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--dir", _directory, "--save", "", "--appendonly", "no" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        Assert.Fail($"redis-server did not listen on {Endpoint} within 10 s.");
    }

    /// <summary>Kills the server at once, as a crash would.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process?.Dispose();
        _process = null;
    }

    public void Dispose()
    {
        Kill();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
