using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Infrastructure.Relay.Direct;

/// <summary>The direct relay (Relay:Transport=Direct): the server's end in the API, the worker's in the client bot.</summary>
public static class DirectRelayRegistration
{
    /// <summary>
    /// The server's end: the transport the relay server sends and reads on, the hosts' links and which hosts they reach
    /// (<see cref="IRelayReach"/>), what it tells the relay of
    /// the way to the hosts (cut off, and their redial after a start), and the door that checks host tokens at the
    /// endpoint (mapped by the API host). Settings are checked here (one line naming the key).
    /// </summary>
    public static IServiceCollection AddDirectServerRelay(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(DirectRelayOptions.Read(configuration, clientBot: false));
        services.AddDirectRelayCounters();
        services.AddSingleton<DirectServerRelayTransport>();
        // Alone unless Redis joins it to other instances (AddRedisDirectRelayPeers).
        services.TryAddSingleton<IDirectRelayPeers, NoDirectRelayPeers>();
        services.AddSingleton<IServerRelayTransport>(provider => provider.GetRequiredService<DirectServerRelayTransport>());
        services.AddSingleton<IRelayHostLinks>(provider => provider.GetRequiredService<DirectServerRelayTransport>());
        services.AddSingleton<IRelayReachability>(provider => provider.GetRequiredService<DirectServerRelayTransport>());
        // Several API instances may run it, each reaching the hosts connected to it.
        services.AddSingleton<IRelayReach>(provider => provider.GetRequiredService<DirectServerRelayTransport>());
        services.AddSingleton<IRelayListening, DirectRelayListening>();
        services.AddSingleton<DirectRelayDoor>();
        return services;
    }

    /// <summary>
    /// The worker's end: its transport and the dialer that keeps its connection to Relay:ServerUrl with
    /// Relay:HostToken. Settings are checked here (one line naming the key). No Discord rate limit on the way: unless
    /// Relay:PartialInterval says otherwise, answers stream token by token (<see cref="RelayOptions.DirectPartialInterval"/>).
    /// </summary>
    public static IServiceCollection AddDirectHostRelay(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddSingleton(DirectRelayOptions.Read(configuration, clientBot: true));
        if (configuration[$"{RelayOptions.Section}:{nameof(RelayOptions.PartialInterval)}"] is null)
        {
            services.Configure<RelayOptions>(o => o.PartialInterval = RelayOptions.DirectPartialInterval);
        }

        services.AddDirectRelayCounters();
        services.AddSingleton<DirectHostRelayTransport>();
        services.AddSingleton<IHostRelayTransport>(provider => provider.GetRequiredService<DirectHostRelayTransport>());
        services.AddSingleton<DirectRelayDialer>();
        services.AddHostedService(provider => provider.GetRequiredService<DirectRelayDialer>());
        return services;
    }

    private static void AddDirectRelayCounters(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<DirectRelayCounters>();
    }
}
