using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Discord.Gateway;
using MeatLizard.Infrastructure.Discord.Relay;
using MeatLizard.Infrastructure.Discord.Rest;
using MeatLizard.Infrastructure.Discord.Setup;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord;

public static partial class DiscordRegistration
{
    /// <summary>Both bots read other bots' envelopes, so both need MESSAGE_CONTENT (privileged).</summary>
    public const GatewayIntents BotIntents = GatewayIntents.Guilds | GatewayIntents.GuildMessages | GatewayIntents.MessageContent;

    /// <summary>The server bot also reads members' reactions on its answers in the chat channels: 👍/👎 rate them.</summary>
    public const GatewayIntents ServerBotIntents = BotIntents | GatewayIntents.GuildMessageReactions;

    /// <summary>
    /// The server bot's relay over Discord: the connection, the server's transport, the control channel and the
    /// retirement of closed chats' channels. Settings are checked here (one line naming the key).
    /// </summary>
    public static IServiceCollection AddDiscordServerRelay(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddDiscordConnection(configuration, serverBot: true);
        services.AddSingleton<DiscordServerRelayTransport>();
        services.AddSingleton<IServerRelayTransport>(provider => provider.GetRequiredService<DiscordServerRelayTransport>());
        services.AddHostedService<DiscordControlChannelSetup>();
        services.AddSingleton<DiscordChannelRetirement>();
        services.AddSingleton<IChatClosedSignal>(provider => provider.GetRequiredService<DiscordChannelRetirement>());
        services.AddHostedService(provider => provider.GetRequiredService<DiscordChannelRetirement>());
        services.AddSingleton<DiscordReachabilityProbe>();
        services.AddSingleton<IRelayReachability>(provider => provider.GetRequiredService<DiscordReachabilityProbe>());
        services.AddHostedService(provider => provider.GetRequiredService<DiscordReachabilityProbe>());
        services.AddSingleton<IRelayListening>(provider => provider.GetRequiredService<DiscordRelayListening>());
        return services;
    }

    /// <summary>
    /// The client bot's relay over Discord: the connection, the worker's transport and the typing indicator. Settings
    /// are checked here (one line naming the key).
    /// </summary>
    public static IServiceCollection AddDiscordHostRelay(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddDiscordConnection(configuration, serverBot: false);
        services.AddSingleton<IHostRelayTransport, DiscordHostRelayTransport>();
        services.AddSingleton<DiscordTypingIndicator>();
        services.AddSingleton<IGenerationIndicator>(provider => provider.GetRequiredService<DiscordTypingIndicator>());
        return services;
    }

    /// <summary>
    /// The server bot's <c>setup</c> verb: only the REST client, so it runs before the relay's ids exist (no category,
    /// no client bot ids, no relay keys or database needed). Settings are checked here (one line naming the key).
    /// </summary>
    public static IServiceCollection AddDiscordSetup(this IServiceCollection services, IConfiguration configuration)
    {
        var options = DiscordOptions.Read(configuration, needsApplication: false);
        services.AddDiscordRest(options);
        services.AddSingleton<DiscordSetup>();
        return services;
    }

    /// <summary>The bot's options, its REST client and the client's rate limiter and metrics.</summary>
    private static void AddDiscordRest(this IServiceCollection services, DiscordOptions options)
    {
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(provider => new DiscordRateLimiter(provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton(provider => new DiscordRestClient(
            new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            {
                Timeout = TimeSpan.FromSeconds(30),
            },
            options,
            provider.GetRequiredService<DiscordRateLimiter>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<DiscordRestClient>>(),
            provider.GetRequiredService<DiscordRestMetrics>(),
            provider.GetService<Application.Relay.RelayTransportHealth>()));
        services.AddSingleton<DiscordRestMetrics>();
        services.AddMetrics();
    }

    /// <summary>REST and gateway clients, the relay inbox and the gateway session as a hosted service.</summary>
    private static DiscordOptions AddDiscordConnection(this IServiceCollection services, IConfiguration configuration, bool serverBot)
    {
        var options = DiscordOptions.Read(configuration, needsApplication: serverBot).RequireRelaySettings(serverBot);
        services.AddDiscordRest(options);
        services.TryAddSingleton(new GatewayTimings());
        services.AddSingleton(provider => new DiscordGatewayClient(
            provider.GetRequiredService<DiscordRestClient>(), options, serverBot ? ServerBotIntents : BotIntents,
            provider.GetRequiredService<GatewayTimings>(),
            provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<DiscordGatewayClient>>()));
        services.AddSingleton<DiscordSelf>();
        services.AddSingleton<DiscordIgnoredMessages>();
        services.AddSingleton<DiscordRelayChannels>();
        services.AddSingleton<DiscordRelayListening>();
        services.AddSingleton(provider => new DiscordRelayInbox(
            provider.GetRequiredService<DiscordRestClient>(),
            provider.GetRequiredService<DiscordRelayChannels>(),
            provider.GetRequiredService<DiscordIgnoredMessages>(),
            options,
            provider.GetRequiredService<DiscordSelf>(),
            serverBot ? DiscordRelayPeers.ForServerBot(options) : DiscordRelayPeers.ForClientBot(options),
            new DiscordChannelCursors(
                // The server bot keeps its places in its database; the client bot has none: a file in its data folder.
                serverBot
                    ? new DatabaseRelayCursorStore(provider.GetRequiredService<IServiceScopeFactory>())
                    : new FileRelayCursorStore(Path.Combine(DataRootOf(provider, configuration), CursorFileName)),
                provider.GetRequiredService<ILoggerFactory>().CreateLogger<DiscordChannelCursors>()),
            provider.GetRequiredService<ILoggerFactory>().CreateLogger<DiscordRelayInbox>(),
            provider.GetRequiredService<DiscordRelayListening>()));
        services.AddSingleton<IDiscordEventHandler>(provider => provider.GetRequiredService<DiscordRelayInbox>());
        services.AddSingleton<DiscordBotConnection>();
        services.AddHostedService<DiscordGatewayService>();
        return options;
    }

    /// <summary>The client bot's places in its Discord channels, under Data:Root.</summary>
    public const string CursorFileName = "discord-channel-places.json";

    private static string DataRootOf(IServiceProvider provider, IConfiguration configuration) =>
        provider.GetService<InfrastructureSettings>()?.DataRoot ?? InfrastructureSettings.Read(configuration).DataRoot;

    /// <summary>
    /// The bot hosts relay over Discord: Relay:Transport defaults to Discord there; the client bot may dial the API
    /// instead (<paramref name="directAllowed"/>: Direct), and any other value is refused. Both ends must share configured
    /// keys: an ephemeral key is never acceptable across processes.
    /// </summary>
    public static IHostApplicationBuilder UseDiscordTransport(this IHostApplicationBuilder builder, bool directAllowed = false)
    {
        var configured = builder.Configuration["Relay:Transport"];
        var direct = directAllowed && string.Equals(configured?.Trim(), "Direct", StringComparison.OrdinalIgnoreCase);
        if (string.IsNullOrWhiteSpace(configured))
        {
            builder.Configuration["Relay:Transport"] = "Discord";
        }
        else if (!direct && !string.Equals(configured, "Discord", StringComparison.OrdinalIgnoreCase))
        {
            throw new ConfigurationException(directAllowed
                ? $"Relay:Transport '{configured}' cannot be used by the client bot: it relays over Discord or dials the API (leave it unset, or set Discord or Direct)."
                : $"Relay:Transport '{configured}' cannot be used by a Discord bot host: the bots relay over Discord (leave it unset or set Discord).");
        }

        RelayKeyRing.FromOptions(
            builder.Configuration.GetSection(RelayKeyOptions.Section).Get<RelayKeyOptions>() ?? new RelayKeyOptions(),
            allowEphemeralKey: false,
            transport: direct ? "Direct" : "Discord");
        return builder;
    }
}

/// <summary>The server bot makes sure the control channel exists once it is connected, so workers can heartbeat.</summary>
public sealed partial class DiscordControlChannelSetup(DiscordServerRelayTransport transport, ILogger<DiscordControlChannelSetup> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        for (var attempt = 1; !stoppingToken.IsCancellationRequested; attempt++)
        {
            try
            {
                var id = await transport.ControlChannelAsync(stoppingToken);
                LogReady(logger, id);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogFailed(logger, attempt, ex);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(60, attempt * 5)), stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Discord control channel {ChannelId} is ready")]
    private static partial void LogReady(ILogger logger, string channelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not set up the Discord control channel (attempt {Attempt}); retrying")]
    private static partial void LogFailed(ILogger logger, int attempt, Exception exception);
}
