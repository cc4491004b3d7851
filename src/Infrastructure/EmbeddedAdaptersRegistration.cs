using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Identity;
using MeatLizard.Infrastructure.Inference.Fallback;
using MeatLizard.Infrastructure.Memory;
using MeatLizard.Infrastructure.ObjectStorage;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Infrastructure;

/// <summary>The adapters that need no server: in-memory state, the file system, the local fallback.</summary>
public static class EmbeddedAdaptersRegistration
{
    /// <summary>Everything in this process: <see cref="AddProcessAdapters"/> and <see cref="AddMemorySharedState"/>.</summary>
    public static IServiceCollection AddMemoryAdapters(this IServiceCollection services) =>
        services.AddProcessAdapters().AddMemorySharedState();

    /// <summary>
    /// What each process keeps for itself whatever the deployment: the system clock, the password hasher, and the
    /// fallback responder with its start-up training. All singletons; the options they read are bound by the
    /// Application layer.
    /// </summary>
    public static IServiceCollection AddProcessAdapters(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions();

        // Other adapter groups need the clock too; whichever registers first wins, and a test's clock stays.
        services.TryAddSingleton<IClock, SystemClock>();
        services.TryAddSingleton<IRateLimitSettings, ConfiguredRateLimits>();
        services.AddSingleton<IPasswordHasher, IdentityPasswordHasher>();
        services.AddSingleton<UserFallbackChains>();
        services.AddSingleton<IFallbackResponder, FallbackResponder>();
        return services;
    }

    /// <summary>
    /// The state processes share, kept in this one (embedded mode): rate and concurrency limits, chat events, worker
    /// presence, the envelope replay guard and the answer cache. Distributed hosts register the Redis ones instead
    /// (<see cref="Redis.RedisRegistration.AddRedisCache"/>).
    /// </summary>
    public static IServiceCollection AddMemorySharedState(this IServiceCollection services)
    {
        services.AddSingleton<IRateLimiter, MemoryRateLimiter>();
        services.AddSingleton<IConcurrencyLimiter, MemoryConcurrencyLimiter>();
        services.AddSingleton<IChatEvents, MemoryChatEvents>();
        services.AddSingleton<IHostPresence, MemoryHostPresence>();
        services.AddSingleton<IReplayGuard, Relay.MemoryReplayGuard>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IAnswerCacheStore, MemoryAnswerCache>();
        return services;
    }

    /// <summary>Objects as files under <paramref name="root"/> (embedded mode: <c>&lt;Data:Root&gt;/objects</c>).</summary>
    public static IServiceCollection AddFileSystemObjectStore(this IServiceCollection services, string root)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        services.AddOptions<FileSystemObjectStoreOptions>().Configure(options => options.Root = root);
        services.AddSingleton<IObjectStore, FileSystemObjectStore>();
        return services;
    }
}
