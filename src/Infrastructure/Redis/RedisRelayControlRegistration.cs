using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Redis;

public static class RedisRelayControlRegistration
{
    /// <summary>
    /// An API instance beside a server bot: it has none of the relay server's parts, and asks the relay server over
    /// Redis to cancel, for stream progress and to make embeddings, and reads the pieces of answers it keeps (call after <see cref="RedisRegistration.AddRedisCache"/>).
    /// </summary>
    public static IServiceCollection AddRedisRelayControlClient(this IServiceCollection services)
    {
        // One reply channel per process: a singleton, disposed with the process, never with a request's scope.
        services.AddSingleton<RedisRelayControl>();
        services.AddScoped<IRelayControl, RemoteRelayControl>();
        services.AddScoped<IEmbeddingRelay, RemoteEmbeddings>();
        services.AddSingleton<IChatClosedSignal, RedisChatClosedSignal>();
        // Read by the followers of answers: a piece whose event was lost is filled from what the server bot keeps.
        services.AddSingleton<IAnswerPieces, RedisAnswerPieces>();
        return services;
    }

    /// <summary>
    /// A process that runs the relay server answers those calls, and keeps the pieces of answers in flight where the
    /// other relay server processes read them (call after <see cref="RedisRegistration.AddRedisCache"/>).
    /// </summary>
    public static IServiceCollection AddRedisRelayControlServer(this IServiceCollection services)
    {
        services.AddSingleton<IAnswerPieces, RedisAnswerPieces>();
        services.AddSingleton<RedisRelayControlServer>();
        services.AddHostedService(provider => provider.GetRequiredService<RedisRelayControlServer>());
        services.AddHostedService<RedisChatClosedListener>();
        return services;
    }

    /// <summary>
    /// API instances that run the direct relay side by side: an envelope for a host connected to another instance (a
    /// cancel asked here) reaches it through that instance (call with <c>AddDirectServerRelay</c>).
    /// </summary>
    public static IServiceCollection AddRedisDirectRelayPeers(this IServiceCollection services)
    {
        services.AddSingleton<RedisDirectRelayPeers>();
        services.AddSingleton<Relay.Direct.IDirectRelayPeers>(provider => provider.GetRequiredService<RedisDirectRelayPeers>());
        services.AddHostedService(provider => provider.GetRequiredService<RedisDirectRelayPeers>());
        return services;
    }
}
