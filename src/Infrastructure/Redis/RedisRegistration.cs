using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Memory;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Infrastructure.Redis;

public static class RedisRegistration
{
    /// <summary>
    /// Replaces the in-process rate limiter, chat-event bus, replay guard and worker presence with their Redis
    /// versions, tells the relay processes of each other's outages, and tells the user cache of other processes' writes (call after <see cref="EmbeddedAdaptersRegistration.AddMemoryAdapters"/> and
    /// <see cref="RelayRegistration.AddEnvelopeCipher"/>). Reads <c>ConnectionStrings:Redis</c> and section
    /// <c>Cache:Redis</c>; a bad value throws a <see cref="ConfigurationException"/> naming the key.
    /// </summary>
    public static IServiceCollection AddRedisCache(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = ReadOptions(configuration);

        services.AddMetrics();
        services.AddOptions<RedisOptions>().Configure(o =>
        {
            o.Configuration = options.Configuration;
            o.KeyPrefix = options.KeyPrefix;
            o.FailMode = options.FailMode;
            o.FailClosedRetryAfter = options.FailClosedRetryAfter;
            o.ChatSubscriptionLinger = options.ChatSubscriptionLinger;
        });
        services.TryAddSingleton<IClock, SystemClock>();
        services.AddSingleton<RedisConnection>();
        services.AddSingleton<RedisOutages>();
        services.TryAddSingleton<RedisCacheInvalidations>();
        services.TryAddSingleton<IRateLimitSettings, ConfiguredRateLimits>();
        // The in-process guard and presence are the Redis ones' first level, not ports of their own here.
        services.AddSingleton<MemoryReplayGuard>();
        services.AddSingleton<MemoryHostPresence>();
        services.AddSingleton<IRateLimiter, RedisRateLimiter>();
        services.AddSingleton<IConcurrencyLimiter, RedisConcurrencyLimiter>();
        services.AddSingleton<IChatEvents, RedisChatEvents>();
        services.AddSingleton<IReplayGuard, RedisReplayGuard>();
        services.AddSingleton<IHostPresence, RedisHostPresence>();
        services.AddSingleton<IUserCachePeers, RedisUserCachePeers>();
        services.AddSingleton<IRelayPeerOutages, RedisRelayPeerOutages>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IAnswerCacheStore, RedisAnswerCache>();
        return services;
    }

    /// <summary>
    /// Admin settings read through the cache shared in Redis, invalidated in every process on a write (instead of the
    /// per-process cache, <see cref="Persistence.CachedRuntimeSettings"/>).
    /// </summary>
    public static IServiceCollection AddRedisRuntimeSettings(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IRuntimeSettings, RedisRuntimeSettings>();
        return services;
    }

    /// <summary>Reads and checks the Redis settings; the connection string is parsed now so a typo stops start-up.</summary>
    public static RedisOptions ReadOptions(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new RedisOptions();
        try
        {
            configuration.GetSection(RedisOptions.Section).Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key and the value it could not convert.
            throw new ConfigurationException(ex.Message);
        }

        options.Configuration = configuration.GetConnectionString("Redis") ?? string.Empty;
        RedisConnection.ParseConfiguration(options.Configuration);
        if (string.IsNullOrWhiteSpace(options.KeyPrefix))
        {
            throw new ConfigurationException($"{RedisOptions.Section}:KeyPrefix may not be empty.");
        }

        if (options.FailClosedRetryAfter <= TimeSpan.Zero)
        {
            throw new ConfigurationException($"{RedisOptions.Section}:FailClosedRetryAfter must be positive.");
        }

        if (options.ChatSubscriptionLinger < TimeSpan.Zero || options.ChatSubscriptionLinger > RedisOptions.MaxChatSubscriptionLinger)
        {
            throw new ConfigurationException(
                $"{RedisOptions.Section}:ChatSubscriptionLinger must be between 00:00:00 and 1.00:00:00 (a day), not {options.ChatSubscriptionLinger}.");
        }

        return options;
    }
}
