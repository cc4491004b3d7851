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
        if (settings.CacheProvider == CacheProvider.Redis)
        {
            services.AddRedisCache(configuration);
        }
        else
        {
            services.AddMemorySharedState();
        }

        if (settings.ObjectStoreProvider == ObjectStoreProvider.S3)
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
        if (settings.CacheProvider == CacheProvider.Redis)
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
        if (settings.StorageProvider == StorageProvider.Postgres)
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
        services.AddSingleton<IHostIdentity>(
            new Inference.FileHostIdentity(Path.Combine(settings.DataRoot, Inference.FileHostIdentity.FileName)));
        return settings.Engine switch
        {
            EngineKind.None => services,
            EngineKind.OpenAiCompatible => services.AddOpenAiCompatibleEngine(configuration),
            _ => services.AddLlamaCppEngine(configuration, settings.Engine.ToString()),
        };
    }

    /// <summary>
    /// A model host that reads its dispatches from channels it catches up with after a restart (the client bot) keeps
    /// what it began answering in its data folder, so its next run does not answer again what its last one began.
    /// </summary>
    public static IServiceCollection AddBegunJobsMemory(this IServiceCollection services, InfrastructureSettings settings) =>
        services.AddSingleton<IBegunJobs>(provider => new Inference.FileBegunJobs(
            Path.Combine(settings.DataRoot, Inference.FileBegunJobs.FileName), provider.GetRequiredService<IClock>()));

    /// <summary>What the status endpoint and commands report about this deployment.</summary>
    public static IServiceCollection AddPlatformDescription(
        this IServiceCollection services, InfrastructureSettings settings, string transport, bool localWorker) =>
        services.AddSingleton(provider => new PlatformDescription(
            settings.StorageProvider.ToString(),
            settings.CacheProvider.ToString(),
            settings.ObjectStoreProvider.ToString(),
            transport,
            provider.GetService<IInferenceEngine>()?.Name ?? "None",
            localWorker && provider.GetService<IInferenceEngine>() is not null));
}

/// <summary>Storage:Provider: where the data is kept.</summary>
public enum StorageProvider { Sqlite, Postgres }

/// <summary>Cache:Provider: where limits, caches, presence and events live.</summary>
public enum CacheProvider { Memory, Redis }

/// <summary>ObjectStore:Provider: where transcripts and backups go.</summary>
public enum ObjectStoreProvider { FileSystem, S3 }

/// <summary>Relay:Transport: how prompts and replies reach the model hosts.</summary>
public enum RelayTransportKind { InProcess, Discord, Direct }

/// <summary>Inference:Engine: what answers on a model host.</summary>
public enum EngineKind { None, LlamaServer, LlamaCli, OpenAiCompatible }

/// <summary>Relay:Dispatcher: who dispatches the queue.</summary>
public enum DispatcherKind { Local, External }

/// <summary>The infrastructure settings, read and checked once: each provider one of its enum's values.</summary>
public sealed record InfrastructureSettings(
    string DataRoot,
    StorageProvider StorageProvider,
    string SqliteConnectionString,
    CacheProvider CacheProvider,
    ObjectStoreProvider ObjectStoreProvider,
    string ObjectStoreRoot,
    RelayTransportKind Transport,
    EngineKind Engine)
{
    /// <summary>ConnectionStrings:Postgres, checked; set when <see cref="StorageProvider"/> is Postgres.</summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>
    /// Relay:Dispatcher: <c>Local</c> (default) when the API dispatches and runs its worker itself, <c>External</c>
    /// when a server bot does and the API only queues (distributed mode).
    /// </summary>
    public DispatcherKind Dispatcher { get; init; } = DispatcherKind.Local;

    /// <summary>An API that does not dispatch shares its queue, events and presence with the server bot.</summary>
    public void RequireSharedAdapters()
    {
        if (StorageProvider != StorageProvider.Postgres)
        {
            throw new ConfigurationException(
                "Relay:Dispatcher 'External' needs Storage:Provider=Postgres: the server bot reads this API's queue from the shared database.");
        }

        if (CacheProvider != CacheProvider.Redis)
        {
            throw new ConfigurationException(
                "Relay:Dispatcher 'External' needs Cache:Provider=Redis: answers, rate limits and worker presence reach every API instance through Redis.");
        }
    }

    public static InfrastructureSettings Read(IConfiguration configuration)
    {
        var dataRoot = Path.GetFullPath(configuration["Data:Root"] is { Length: > 0 } root ? root : "data",
            Directory.GetCurrentDirectory());
        var storage = Choose(configuration, "Storage:Provider", StorageProvider.Sqlite);
        var cache = Choose(configuration, "Cache:Provider", CacheProvider.Memory);
        var objectStore = Choose(configuration, "ObjectStore:Provider", ObjectStoreProvider.FileSystem);
        var transport = Choose(configuration, "Relay:Transport", RelayTransportKind.InProcess);
        var engine = Choose(configuration, "Inference:Engine", EngineKind.None);
        var dispatcher = Choose(configuration, "Relay:Dispatcher", DispatcherKind.Local);
        var sqlite = configuration.GetConnectionString("Sqlite") is { Length: > 0 } cs
            ? cs
            : $"Data Source={Path.Combine(dataRoot, "meatlizard.db")}";
        var objects = configuration["ObjectStore:Root"] is { Length: > 0 } objectRoot
            ? Path.GetFullPath(objectRoot, Directory.GetCurrentDirectory())
            : Path.Combine(dataRoot, "objects");
        return new InfrastructureSettings(dataRoot, storage, sqlite, cache, objectStore, objects, transport, engine)
        {
            PostgresConnectionString = storage == StorageProvider.Postgres
                ? PostgresConnectionSettings.Check(configuration.GetConnectionString("Postgres"))
                : null,
            Dispatcher = dispatcher,
        };
    }

    /// <summary>The value of <paramref name="key"/>, named in any case; <paramref name="fallback"/> when unset.</summary>
    private static T Choose<T>(IConfiguration configuration, string key, T fallback) where T : struct, Enum
    {
        var value = configuration[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            return fallback;
        }

        var available = Enum.GetNames<T>();
        if (available.FirstOrDefault(a => string.Equals(a, value.Trim(), StringComparison.OrdinalIgnoreCase)) is { } match)
        {
            return Enum.Parse<T>(match);
        }

        throw new ConfigurationException($"{key} '{value}' is not a known value; use {string.Join(" or ", available)}.");
    }
}
