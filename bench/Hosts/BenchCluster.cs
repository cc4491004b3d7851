using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Application;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Relay;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MeatLizard.Bench.Hosts;

/// <summary>
/// The deployment under test, in this process: the server (dispatcher and relay server, composed as the server bot
/// composes them, with the hub in place of Discord), the API in distributed mode beside it, and the model hosts
/// (composed as the client bot composes its worker, each with its own data folder, so its own host id).
/// </summary>
internal sealed class BenchCluster(string work, IReadOnlyDictionary<string, string?> shared) : IAsyncDisposable
{
    public const string Model = "bench";

    private readonly HubTransport _hub = new();
    private readonly List<IHost> _hosts = [];
    private readonly List<FixedTimeEngine> _engines = [];
    private IHost? _server;
    private ApiFactory? _api;

    /// <summary>The model hosts' engines, in the order the hosts were added.</summary>
    public IReadOnlyList<FixedTimeEngine> Engines => _engines;

    /// <summary>The chat events, as the server publishes them (through Redis, as the API instances read them).</summary>
    public IChatEvents Events => _server!.Services.GetRequiredService<IChatEvents>();

    /// <summary>The most answers each host ran at once so far.</summary>
    public IEnumerable<int> MostAtOnce => _engines.Select(e => e.MostAtOnce);

    /// <summary>Starts the server (which brings the database up to date) and the API; the API's address.</summary>
    public async Task<Uri> StartAsync()
    {
        var builder = HostBuilder("server", shared);
        builder.AddApplicationServices();
        var settings = builder.AddInfrastructureSettings();
        builder.Services.AddLocalAdapters(builder.Configuration, settings)
            .AddEnvelopeCipher(builder.Configuration, allowEphemeralKey: false)
            .AddSingleton(_hub.Server)
            .AddRedisRelayControlServer()
            .AddStores(builder.Configuration, settings)
            .AddPlatformDescription(settings, "Hub", localWorker: false)
            .AddRelayServer()
            .AddSingleton<IChatClosedSignal, NoChatClosedSignal>();
        _server = builder.Build();
        await _server.Services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);
        await BenchOperator.SeedAsync(_server.Services);
        await _server.StartAsync();
        _api = new ApiFactory(Path.Combine(work, "api"), shared);
        return _api.Start();
    }

    /// <summary>Adds model hosts until there are <paramref name="count"/>, and waits until the API lists them all.</summary>
    public async Task AddHostsAsync(int count, TimeSpan answerTime, int slots, HttpClient api)
    {
        while (_hosts.Count < count)
        {
            var name = $"host-{_hosts.Count + 1}";
            var settings = shared
                .Where(p => !p.Key.StartsWith("Storage:", StringComparison.Ordinal) && !p.Key.StartsWith("Cache:", StringComparison.Ordinal)
                    && !p.Key.StartsWith("ConnectionStrings:", StringComparison.Ordinal))
                .Append(new("Inference:Engine", "None"))
                .Append(new("Host:HostName", name))
                .ToDictionary();
            var builder = HostBuilder(name, settings);
            builder.AddApplicationServices();
            var infrastructure = builder.AddInfrastructureSettings();
            var engine = new FixedTimeEngine(answerTime, slots, Model);
            builder.Services.AddLocalAdapters(builder.Configuration, infrastructure)
                .AddEnvelopeCipher(builder.Configuration, allowEphemeralKey: false)
                .AddSingleton(_hub.AddHost())
                .AddStores(builder.Configuration, infrastructure)
                .AddInferenceEngine(builder.Configuration, infrastructure)
                .AddSingleton<IInferenceEngine>(engine)
                .AddRelayWorker();
            var host = builder.Build();
            await host.StartAsync();
            _hosts.Add(host);
            _engines.Add(engine);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var models = await api.GetFromJsonAsync<JsonElement>("api/v1/models");
            var bench = models.EnumerateArray().FirstOrDefault(m => m.GetProperty("name").GetString() == Model);
            if (bench.ValueKind == JsonValueKind.Object && bench.GetProperty("hosts").GetInt32() == count)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The API never listed {count} hosts serving '{Model}': {models}");
            }

            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.StopAsync();
            host.Dispose();
        }

        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.StopAsync();
            _server.Dispose();
        }
    }

    private HostApplicationBuilder HostBuilder(string name, IReadOnlyDictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Configuration["Data:Root"] = Directory.CreateDirectory(Path.Combine(work, name)).FullName;
        return builder;
    }

    /// <summary>The real API host on a loopback Kestrel port, in distributed mode (it queues; the server dispatches).</summary>
    private sealed class ApiFactory(string dataRoot, IReadOnlyDictionary<string, string?> shared) : WebApplicationFactory<Program>
    {
        public Uri Start()
        {
            // The API's content root is its own folder in the repository (appsettings.json lives there).
            Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_MEATLIZARD_PRESENTATION_API",
                Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "Presentation.Api")));
            UseKestrel(0);
            StartServer();
            return new Uri(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Production");
            foreach (var (key, value) in shared)
            {
                builder.UseSetting(key, value);
            }

            builder.UseSetting("Data:Root", Directory.CreateDirectory(dataRoot).FullName);
            builder.UseSetting("Relay:Dispatcher", "External");
            builder.UseSetting("Urls", "http://127.0.0.1:0");
        }
    }
}
