using MeatLizard.Application;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MeatLizard.Infrastructure.Discord;

/// <summary>The two bot hosts' composition, shared so tests run exactly what the hosts run.</summary>
public static class DiscordBotComposition
{
    /// <summary>The server bot: dispatcher and response handling over the Discord relay.</summary>
    public static IHostApplicationBuilder AddDiscordServerBot(this IHostApplicationBuilder builder)
    {
        CheckKeys(builder.UseDiscordTransport().Configuration);
        builder.AddApplicationServices();
        builder.AddInfrastructureServices(HostRole.DiscordServer);
        return builder;
    }

    /// <summary>The client bot: the worker beside llama.cpp, over the Discord relay.</summary>
    public static IHostApplicationBuilder AddDiscordClientBot(this IHostApplicationBuilder builder)
    {
        CheckKeys(builder.UseDiscordTransport().Configuration);
        builder.AddApplicationServices();
        builder.AddInfrastructureServices(HostRole.DiscordClient);
        return builder;
    }

    /// <summary>Prepares what the host needs (the server bot's database) and runs it until it stops.</summary>
    public static async Task RunDiscordBotAsync(this IHost host, CancellationToken cancellationToken = default)
    {
        if (host.Services.GetService<DiscordServerRelayTransportMarker>() is not null)
        {
            await host.Services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(cancellationToken);
        }

        await host.RunAsync(cancellationToken);
    }

    // Both bots must share configured keys: an ephemeral key is never acceptable across processes.
    private static void CheckKeys(IConfiguration configuration) => RelayKeyRing.FromOptions(
        configuration.GetSection(RelayKeyOptions.Section).Get<RelayKeyOptions>() ?? new RelayKeyOptions(),
        allowEphemeralKey: false,
        transport: "Discord");
}

/// <summary>Registered by the server bot only, so shared start-up code knows which bot it runs.</summary>
public sealed class DiscordServerRelayTransportMarker;
