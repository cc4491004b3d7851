using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using MeatLizard.Infrastructure.Inference.OpenAiCompatible;
using MeatLizard.Infrastructure.ObjectStorage;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Persistence.Postgres;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MeatLizard.Infrastructure;

/// <summary>
/// The adapters' shared pieces. Each host composes the ones it needs (Presentation.Api, Presentation.DiscordServer,
/// Presentation.DiscordClient); every setting is checked where it is read, so a bad value stops the host at start with
/// one line naming the key (<see cref="ConfigurationException"/>).
/// </summary>
public static class DependencyInjection
{
    /// <summary>Reads and checks the infrastructure settings once, and registers them for the adapters.</summary>
    public static InfrastructureSettings AddInfrastructureSettings(this IHostApplicationBuilder builder)
    {
        var settings = InfrastructureSettings.Read(builder.Configuration);
        builder.Services.AddSingleton(settings);
        return settings;
    }

    /// <summary>
    /// What every host keeps in its own process (clock, hasher, fallback), the shared state — in this process, or in
    /// Redis when Cache:Provider is Redis — and the object store.
    /// </summary>
    public static IServiceCollection AddLocalAdapters(
        this IServiceCollection services, IConfiguration configuration, InfrastructureSettings settings)
    {
        services.AddProcessAdapters();
        if (settings.CacheProvider == "Redis")
        {
            services.AddRedisCache(configuration);
        }
        else
        {
            services.AddMemorySharedState();
        }

        if (settings.ObjectStoreProvider == "S3")
        {
            services.AddS3ObjectStore(configuration);
        }
        else
        {
            services.AddFileSystemObjectStore(settings.ObjectStoreRoot);
            services.AddFileSystemObjectLinks(configuration);
        }

        return services;
    }

    /// <summary>
    /// The database, the user read cache and the admins' runtime settings: cached in this process, or with Redis in
    /// the cache every process shares.
    /// </summary>
    public static IServiceCollection AddStores(
        this IServiceCollection services, IConfiguration configuration, InfrastructureSettings settings)
    {
        services.AddPersistence(settings);

        // Every request reads its caller; with Redis, a write in any process drops the cached row in all of them.
        services.AddUserReadCache(configuration);
        if (settings.CacheProvider == "Redis")
        {
            services.AddRedisRuntimeSettings();
        }
        else
        {
            services.AddCachedRuntimeSettings();
        }

        return services;
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

    /// <summary>The inference engine named by Inference:Engine, if any (none: the worker answers with the fallback).</summary>
    public static IServiceCollection AddInferenceEngine(
        this IServiceCollection services, IConfiguration configuration, InfrastructureSettings settings)
    {
        // The host keeps its id across restarts (requests are addressed to it), in its data folder.
        services.AddSingleton<IWorkerIdentity>(
            new Inference.FileWorkerIdentity(Path.Combine(settings.DataRoot, Inference.FileWorkerIdentity.FileName)));
        return settings.Engine switch
        {
            "None" => services,
            "OpenAiCompatible" => services.AddOpenAiCompatibleEngine(configuration),
            _ => services.AddLlamaCppEngine(configuration, settings.Engine),
        };
    }

    /// <summary>What the status endpoint and commands report about this deployment.</summary>
    public static IServiceCollection AddPlatformDescription(
        this IServiceCollection services, InfrastructureSettings settings, string transport, bool localWorker) =>
        services.AddSingleton(provider => new PlatformDescription(
            settings.StorageProvider,
            settings.CacheProvider,
            settings.ObjectStoreProvider,
            transport,
            provider.GetService<IInferenceEngine>()?.Name ?? "None",
            localWorker && provider.GetService<IInferenceEngine>() is not null));
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
        var engine = Choose(configuration, "Inference:Engine", "None", ["None", "LlamaServer", "LlamaCli", "OpenAiCompatible"], []);
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
