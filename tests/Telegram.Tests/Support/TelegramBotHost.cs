using MeatLizard.Application.Channels;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Persistence.Postgres;
using MeatLizard.Infrastructure.Telegram;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using MeatLizard.Telegram.Tests.Fake;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Telegram.Tests.Support;

/// <summary>Which database a test's bot keeps its place in.</summary>
public enum TestDatabaseKind
{
    Sqlite,
    Postgres,
}

/// <summary>
/// One run of the Telegram bot as the server bot host wires it (<see cref="TelegramRegistration.AddTelegramBot"/>),
/// on a real database, against the fake Bot API. Disposing it stops it like a host shutdown; another one on the same
/// database is a restart.
/// </summary>
public sealed class TelegramBotHost : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly IHostedService[] _hosted;

    private TelegramBotHost(ServiceProvider services)
    {
        _services = services;
        _hosted = [.. services.GetServices<IHostedService>()];
    }

    public IServiceProvider Services => _services;

    public static readonly TimeSpan ShutdownTime = TimeSpan.FromSeconds(2);

    public static async Task<ITestDatabase> CreateDatabaseAsync(TestDatabaseKind kind) => kind switch
    {
        TestDatabaseKind.Sqlite => await SqliteTestDatabase.CreateAsync(),
        _ => await PostgresTestDatabase.CreateAsync(),
    };

    /// <param name="configure">Replaces parts (a recording handler, the channel handler) before the host starts.</param>
    public static async Task<TelegramBotHost> StartAsync(
        ITestDatabase database, FakeTelegramServer telegram, IEnumerable<long> allowedChatIds, RecordedLogs logs,
        Action<IServiceCollection>? configure = null, int pollTimeoutSeconds = 1)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Telegram:BotToken"] = telegram.Token,
            ["Telegram:ApiBaseUrl"] = telegram.BaseUrl,
            ["Telegram:AllowedChatIds"] = string.Join(',', allowedChatIds),
            ["Telegram:PollTimeoutSeconds"] = pollTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        switch (database)
        {
            case SqliteTestDatabase sqlite:
                services.AddSqlitePersistence(sqlite.ConnectionString);
                break;
            case PostgresTestDatabase postgres:
                services.AddPostgresPersistence(postgres.ConnectionString);
                break;
        }

        services.AddCachedRuntimeSettings();
        services.AddTelegramBot(configuration);
        configure?.Invoke(services);
        var host = new TelegramBotHost(services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true }));
        foreach (var hosted in host._hosted)
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        return host;
    }

    public async ValueTask DisposeAsync()
    {
        // As a host stops: each service gets the shutdown time (short here) to finish what it is doing.
        using var shutdown = new CancellationTokenSource(ShutdownTime);
        foreach (var hosted in _hosted.Reverse())
        {
            await hosted.StopAsync(shutdown.Token);
        }

        await _services.DisposeAsync();
    }
}

/// <summary>Waits for a condition the bot makes true in the background.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(20));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                NUnit.Framework.Assert.Fail($"Timed out waiting for: {what}");
            }

            await Task.Delay(20);
        }
    }
}
