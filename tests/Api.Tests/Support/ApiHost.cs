using MeatLizard.Application.Abstractions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Api.Tests.Support;

/// <summary>
/// The real API on a real Kestrel port (127.0.0.1, random port) with its own data directory, the in-process relay
/// and, unless told otherwise, the scripted engine as its worker.
/// </summary>
public sealed class ApiHost : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly bool _withEngine;

    private readonly string _storageName;
    private readonly Action<IServiceCollection>? _services;
    private StorageProvider? _storage;
    private readonly bool _firstAdmin;

    public const string AdminPassword = "correct horse battery";

    /// <param name="settings">Configuration over the test defaults; a null value leaves a key to the product's default.</param>
    /// <param name="withEngine">False: no worker runs, the fallback answers.</param>
    /// <param name="storage">
    /// <see cref="StorageProvider.Sqlite"/> (embedded, the default) or <see cref="StorageProvider.Postgres"/>: a fresh
    /// PostgreSQL database and Redis, created on start and dropped on dispose. Settings given here win over its.
    /// </param>
    /// <param name="services">Changes to the host's services, e.g. a decorator that counts calls to a port.</param>
    /// <param name="firstAdmin">
    /// True (the default): once started, an admin registers with a setup token (<see cref="FirstAdminAsync"/>), as an
    /// operator does on a new platform, so the tests' users may register; false leaves a platform with no account.
    /// </param>
    public ApiHost(IDictionary<string, string?>? settings = null, bool withEngine = true,
        string storage = StorageProvider.Sqlite, Action<IServiceCollection>? services = null, bool firstAdmin = true)
    {
        _firstAdmin = firstAdmin;
        _storageName = storage;
        _services = services;
        DataRoot = Path.Combine(Path.GetTempPath(), "meatlizard-api-tests", Guid.NewGuid().ToString("N"));
        _withEngine = withEngine;
        _settings = new Dictionary<string, string?>
        {
            ["Data:Root"] = DataRoot,
            ["Relay:PartialInterval"] = "00:00:00.020",
            ["Relay:HeartbeatInterval"] = "00:00:00.200",
            ["Relay:WorkerTimeout"] = "00:00:05",
            ["Relay:PollInterval"] = "00:00:00.100",
            ["RateLimits:PerUserPerMinute"] = "6000",
            ["RateLimits:UserBurst"] = "1000",
            ["RateLimits:PerIpPerMinute"] = "6000",
            ["RateLimits:IpBurst"] = "1000",
            // Tests register, log in and open chats far faster than people; the throttling tests set their own limits.
            ["RateLimits:LogInPerIpPerMinute"] = "0",
            ["RateLimits:LogInFailuresPerMinute"] = "0",
            ["RateLimits:LogInSustainedFailuresPerMinute"] = "0",
            ["RateLimits:RegisterPerIpPerMinute"] = "0",
            ["RateLimits:ChatCreationPerUserPerMinute"] = "0",
            ["RateLimits:ApiKeyCreationPerUserPerMinute"] = "0",
            ["RateLimits:TranscriptStorePerUserPerMinute"] = "0",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                _settings.Remove(key); // the product's default, not the tests'
            }
            else
            {
                _settings[key] = value;
            }
        }

        UseKestrel(0);
    }

    public string DataRoot { get; }

    /// <summary>
    /// The settings that put another host (a server bot beside this API) on this host's database, cache and Redis: its
    /// SQLite file, or its PostgreSQL database and Redis prefix. Read once started.
    /// </summary>
    public IReadOnlyDictionary<string, string?> SharedStoreSettings => _storage is { Settings.Count: > 0 } storage
        ? storage.Settings
        : new Dictionary<string, string?> { ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine(DataRoot, "meatlizard.db")}" };

    public ScriptedEngine Engine { get; } = new();

    /// <summary>
    /// Waits until the hosts the API hears (their heartbeats, in its presence store) are as <paramref name="heard"/>
    /// says, e.g. after a change of the scripted engine's health, which the next heartbeat carries.
    /// </summary>
    public async Task WaitForHostsAsync(Func<IReadOnlyList<HostHealth>, bool> heard, string what)
    {
        var presence = Services.GetRequiredService<IHostPresence>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!heard(await presence.ListAliveAsync(CancellationToken.None)))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"the API did not hear within 30 s that {what}");
            await Task.Delay(50);
        }
    }

    /// <summary>The scripted host says whether its model takes images, and the API has heard it.</summary>
    public async Task TakeImagesAsync(bool taken)
    {
        // Per model: the host names its model ("default") and says it takes images with it, or goes back to naming none.
        Engine.Health = Engine.Health with { Models = taken ? ["default"] : null, Vision = taken ? [""] : null };
        await WaitForHostsAsync(hosts => hosts.All(h => h.TakesImagesFor(null) == taken),
            taken ? "the host takes images" : "the host takes no images");
    }

    /// <summary>The images the object store keeps under the chat <paramref name="chat"/>, by key.</summary>
    public async Task<Dictionary<string, byte[]>> StoredImagesAsync(Guid chat)
    {
        var store = Services.GetRequiredService<IObjectStore>();
        var found = new Dictionary<string, byte[]>();
        foreach (var key in (await StoredImageKeysAsync()).Where(k => k.Contains($"/{chat:D}/", StringComparison.Ordinal)))
        {
            await using var stream = (await store.GetAsync(key, CancellationToken.None))!;
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            found[key] = copy.ToArray();
        }

        return found;
    }

    /// <summary>The keys of every image the object store keeps.</summary>
    public async Task<List<string>> StoredImageKeysAsync()
    {
        var keys = new List<string>();
        await foreach (var key in Services.GetRequiredService<IObjectStore>().ListAsync("images/", CancellationToken.None))
        {
            keys.Add(key);
        }

        return keys;
    }

    /// <summary>What the host logged at warning level and above.</summary>
    public RecordingLoggerProvider Logs { get; } = new();

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Starts the server and, with an engine, waits until its worker has announced itself.</summary>
    public async Task<ApiHost> StartAsync()
    {
        _storage = await StorageProvider.CreateAsync(_storageName);
        foreach (var (key, value) in _storage.Settings)
        {
            _settings.TryAdd(key, value);
        }

        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
            .Addresses.First();
        BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
        if (_withEngine)
        {
            var presence = Services.GetRequiredService<IHostPresence>();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while ((await presence.ListAliveAsync(CancellationToken.None)).Count == 0)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException("The local worker did not send a heartbeat within 10 s.");
                }

                await Task.Delay(20);
            }
        }

        if (_firstAdmin)
        {
            await RegisterOperatorAsync();
        }

        return this;
    }

    public const string OperatorName = "operator";

    private ApiClient? _operator;

    /// <summary>A new setup token, as the host's `admin setup-link` verb makes one; null once there is an admin.</summary>
    public async Task<string?> SetupTokenAsync()
    {
        await using var scope = Services.CreateAsyncScope();
        var setup = await scope.ServiceProvider.GetRequiredService<MediatR.IMediator>()
            .Send(new MeatLizard.Application.Admin.Commands.CreateSetupLink());
        return setup?.Token;
    }

    /// <summary>
    /// The operator registers with a setup token, as on a new platform (a second host on the same database finds the
    /// admin there). In process, not over HTTP: the tests' own rate limits per address stay whole.
    /// </summary>
    private async Task RegisterOperatorAsync()
    {
        if (await SetupTokenAsync() is not { } token)
        {
            return;
        }

        await using var scope = Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<MediatR.IMediator>().Send(
            new MeatLizard.Application.Auth.Commands.RegisterUser(OperatorName, AdminPassword, SetupToken: token));
    }

    /// <summary>The operator (the first admin), signed in on first use.</summary>
    public async Task<ApiClient> FirstAdminAsync()
    {
        if (_operator is null)
        {
            var client = NewClient();
            await client.SignInAsync(OperatorName, AdminPassword);
            _operator = client;
        }

        return _operator;
    }

    public ApiClient NewClient() => new(new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) });

    /// <summary>
    /// A client signed in as a new user whom the first admin promotes (<c>POST /api/v1/admin/users/{id}/promote</c>): it
    /// signs in again after the promotion, so its token says so.
    /// </summary>
    public async Task<ApiClient> AdminClientAsync()
    {
        var admin = await FirstAdminAsync();
        var client = NewClient();
        var username = await client.SignUpAsync();
        var me = await ApiClient.ReadAsync(await client.GetAsync("api/v1/auth/me"));
        (await admin.PostAsync($"api/v1/admin/users/{me.GetProperty("id").GetString()}/promote", null))
            .EnsureSuccessStatusCode();
        await client.SignInAsync(username, "correct horse battery");
        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.UseSetting("Urls", "http://127.0.0.1:0");
        builder.ConfigureLogging(logging => logging.AddProvider(Logs));
        builder.ConfigureTestServices(services =>
        {
            if (_withEngine)
            {
                services.AddSingleton<IInferenceEngine>(Engine);
            }

            _services?.Invoke(services);
        });
    }

    public override async ValueTask DisposeAsync()
    {
        _operator?.Dispose();
        await base.DisposeAsync();
        if (_storage is not null)
        {
            await _storage.DisposeAsync();
        }

        try
        {
            Directory.Delete(DataRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
