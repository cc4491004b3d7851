using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;
using MeatLizard.Infrastructure.Backup;
using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using MeatLizard.Infrastructure.ObjectStorage;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Persistence.Postgres;
using MeatLizard.Infrastructure.Power;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MeatLizard.Infrastructure;

/// <summary>Which process is being composed; each runs a different part of the relay.</summary>
public enum HostRole
{
    /// <summary>The API with everything in one process: relay server, in-process transport and a local worker.</summary>
    Embedded,

    /// <summary>The server bot: dispatcher and relay server.</summary>
    DiscordServer,

    /// <summary>The client bot: the worker beside llama.cpp.</summary>
    DiscordClient,

    /// <summary>
    /// The API beside a server bot (Relay:Dispatcher=External): it queues requests in PostgreSQL (the outbox) and
    /// serves reads and streams from PostgreSQL and Redis; the server bot dispatches and answers.
    /// </summary>
    DistributedApi,
}

public static class DependencyInjection
{
    /// <summary>
    /// Wires every adapter from configuration. Every setting is checked here, so a bad value stops the host at start
    /// with one line naming the key (<see cref="ConfigurationException"/>).
    /// </summary>
    public static IHostApplicationBuilder AddInfrastructureServices(this IHostApplicationBuilder builder, HostRole role)
    {
        var configuration = builder.Configuration;
        var services = builder.Services;
        var settings = InfrastructureSettings.Read(configuration);
        if (role == HostRole.DistributedApi)
        {
            settings.RequireSharedAdapters();
        }

        services.AddSingleton(settings);
        services.AddMemoryAdapters();
        if (settings.ObjectStoreProvider == "S3")
        {
            services.AddS3ObjectStore(configuration);
        }
        else
        {
            services.AddFileSystemObjectStore(settings.ObjectStoreRoot);
            services.AddFileSystemObjectLinks(configuration);
        }

        // A distributed API has no relay end: the server bot seals, sends and receives envelopes, woken by
        // PostgreSQL's insert trigger when this instance queues a request.
        if (role != HostRole.DistributedApi)
        {
            AddRelayEnd(services, configuration, settings, role);
        }

        if (settings.CacheProvider == "Redis")
        {
            services.AddRedisCache(configuration);
            if (role == HostRole.DistributedApi)
            {
                services.AddRedisRelayControlClient();
            }
            else if (role is HostRole.Embedded or HostRole.DiscordServer)
            {
                // API instances that do not dispatch ask this process to cancel and for stream progress.
                services.AddRedisRelayControlServer();
            }
        }

        services.AddPersistence(settings);

        // Every request reads its caller; with Redis, a write in any process drops the cached row in all of them.
        services.AddUserReadCache(configuration);

        if (settings.CacheProvider == "Redis")
        {
            services.AddRedisRuntimeSettings();
        }

        // One process per deployment runs the schedule: the embedded host, or the server bot in distributed mode.
        services.AddDatabaseBackups(configuration, settings, runSchedule: role is HostRole.Embedded or HostRole.DiscordServer);
        services.AddSingleton(provider => new PlatformDescription(
            settings.StorageProvider,
            settings.CacheProvider,
            settings.ObjectStoreProvider,
            role == HostRole.DistributedApi ? "External" : settings.Transport,
            provider.GetService<IInferenceEngine>()?.Name ?? "None",
            role == HostRole.Embedded && provider.GetService<IInferenceEngine>() is not null));

        if (role is HostRole.Embedded or HostRole.DiscordServer)
        {
            services.AddRelayServer();
        }

        if (role is HostRole.Embedded or HostRole.DiscordClient)
        {
            // No Discord channel to retire: the server bot retires its own, the distributed API tells it over Redis.
            services.AddSingleton<ISessionClosedSignal, NoSessionClosedSignal>();
        }

        if (role is HostRole.Embedded or HostRole.DiscordClient)
        {
            if (settings.Engine != "None")
            {
                services.AddLlamaCppEngine(configuration, settings.Engine);
            }

            services.AddRelayWorker();
        }

        if (role is HostRole.DiscordClient)
        {
            // Only the client bot stops itself on low battery; in embedded mode the web app must keep running.
            services.AddPowerWatch(configuration);
        }

        return builder;
    }

    /// <summary>
    /// The configured database, and the queue signal that goes with it: PostgreSQL's (LISTEN/NOTIFY, registered by
    /// <see cref="PostgresPersistenceRegistration.AddPostgresPersistence"/>) wakes the dispatcher in every process; with
    /// SQLite everything runs in one process, so an in-process signal does.
    /// </summary>
    public static IServiceCollection AddPersistence(this IServiceCollection services, InfrastructureSettings settings)
    {
        if (settings.StorageProvider == "Postgres")
        {
            services.AddPostgresPersistence(settings.PostgresConnectionString!).AddBatchedMetrics();
        }
        else
        {
            services.AddSqlitePersistence(settings.SqliteConnectionString).AddBatchedMetrics();
            services.AddSingleton<IRelayQueueSignal, InProcessRelayQueueSignal>();
        }

        return services;
    }

    private static void AddRelayEnd(
        IServiceCollection services, IConfiguration configuration, InfrastructureSettings settings, HostRole role)
    {
        if (settings.Transport == "Discord")
        {
            if (role == HostRole.Embedded)
            {
                throw new ConfigurationException(
                    "Relay:Transport 'Discord' is for the bot hosts (Presentation.DiscordServer and Presentation.DiscordClient); the API host relays InProcess, or set Relay:Dispatcher=External to run it beside the server bot.");
            }

            services.AddEnvelopeCipher(configuration, allowEphemeralKey: false);
            services.AddDiscordRelay(configuration, serverBot: role == HostRole.DiscordServer);
        }
        else
        {
            services.AddEnvelopeCipher(configuration, allowEphemeralKey: true);
            services.AddInProcessRelayTransport();
        }
    }
}

/// <summary>The infrastructure settings, read and checked once.</summary>
public sealed record InfrastructureSettings(
    string DataRoot,
    string StorageProvider,
    string SqliteConnectionString,
    string CacheProvider,
    string ObjectStoreProvider,
    string ObjectStoreRoot,
    string Transport,
    string Engine)
{
    /// <summary>ConnectionStrings:Postgres, checked; set when <see cref="StorageProvider"/> is Postgres.</summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>
    /// Relay:Dispatcher: <c>Local</c> (default) when the API dispatches and runs its worker itself, <c>External</c>
    /// when a server bot does and the API only queues (distributed mode).
    /// </summary>
    public string Dispatcher { get; init; } = "Local";

    /// <summary>The role the API host runs in, from <see cref="Dispatcher"/>.</summary>
    public HostRole ApiRole => Dispatcher == "External" ? HostRole.DistributedApi : HostRole.Embedded;

    /// <summary>An API that does not dispatch shares its queue, events and presence with the server bot.</summary>
    public void RequireSharedAdapters()
    {
        if (StorageProvider != "Postgres")
        {
            throw new ConfigurationException(
                "Relay:Dispatcher 'External' needs Storage:Provider=Postgres: the server bot reads this API's queue from the shared database.");
        }

        if (CacheProvider != "Redis")
        {
            throw new ConfigurationException(
                "Relay:Dispatcher 'External' needs Cache:Provider=Redis: answers, rate limits and worker presence reach every API instance through Redis.");
        }
    }

    public static InfrastructureSettings Read(IConfiguration configuration)
    {
        var dataRoot = Path.GetFullPath(configuration["Data:Root"] is { Length: > 0 } root ? root : "data",
            Directory.GetCurrentDirectory());
        var storage = Choose(configuration, "Storage:Provider", "Sqlite", ["Sqlite", "Postgres"], []);
        var cache = Choose(configuration, "Cache:Provider", "Memory", ["Memory", "Redis"], []);
        var objectStore = Choose(configuration, "ObjectStore:Provider", "FileSystem", ["FileSystem", "S3"], []);
        var transport = Choose(configuration, "Relay:Transport", "InProcess", ["InProcess", "Discord"], []);
        var engine = Choose(configuration, "Inference:Engine", "None", ["None", "LlamaServer", "LlamaCli"], []);
        var dispatcher = Choose(configuration, "Relay:Dispatcher", "Local", ["Local", "External"], []);
        var sqlite = configuration.GetConnectionString("Sqlite") is { Length: > 0 } cs
            ? cs
            : $"Data Source={Path.Combine(dataRoot, "meatlizard.db")}";
        var objects = configuration["ObjectStore:Root"] is { Length: > 0 } objectRoot
            ? Path.GetFullPath(objectRoot, Directory.GetCurrentDirectory())
            : Path.Combine(dataRoot, "objects");
        return new InfrastructureSettings(dataRoot, storage, sqlite, cache, objectStore, objects, transport, engine)
        {
            PostgresConnectionString = storage == "Postgres"
                ? PostgresConnectionSettings.Check(configuration.GetConnectionString("Postgres"))
                : null,
            Dispatcher = dispatcher,
        };
    }

    private static string Choose(IConfiguration configuration, string key, string fallback, string[] available,
        string[] planned)
    {
        var value = configuration[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            return fallback;
        }

        if (available.FirstOrDefault(a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase)) is { } match)
        {
            return match;
        }

        if (planned.Any(p => string.Equals(p, value, StringComparison.OrdinalIgnoreCase)))
        {
            throw new ConfigurationException(
                $"{key} '{value}' is not available in this build yet; use {string.Join(" or ", available)}.");
        }

        throw new ConfigurationException(
            $"{key} '{value}' is not a known value; use {string.Join(" or ", available.Concat(planned))}.");
    }
}
