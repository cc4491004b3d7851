using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Backup;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Relay;
using MeatLizard.Infrastructure.Relay.Direct;
using MeatLizard.Infrastructure.Telegram;
using MeatLizard.Infrastructure.Telemetry;

namespace MeatLizard.Presentation.Api;

/// <summary>The API host's adapters, in either of its two modes (Relay:Dispatcher).</summary>
public static class PlatformComposition
{
    /// <summary>
    /// Relay:Dispatcher=Local (default): everything in one process. External: the server bot dispatches and this
    /// instance only queues and serves (distributed mode). Telegram goes with the dispatcher: served here with Local,
    /// by the server bot with External (where setting it here stops the host).
    /// </summary>
    /// <returns>The infrastructure settings, read and checked once here, for the rest of the host's composition.</returns>
    public static InfrastructureSettings AddPlatform(this IHostApplicationBuilder builder)
    {
        builder.AddTelemetry();
        var settings = builder.AddInfrastructureSettings();
        if (settings.Dispatcher == DispatcherKind.External)
        {
            builder.AddDistributedApiPlatform(settings);
        }
        else
        {
            builder.AddEmbeddedPlatform(settings);
        }

        builder.Services.AddDoctorChecks(settings, DoctorHost.Api);
        return settings;
    }

    /// <summary>
    /// The relay server, the in-process transport (still encrypted) and a local worker beside the API; with
    /// Relay:Transport=Direct, the relay server and the endpoint that model hosts dial (no local worker).
    /// </summary>
    public static IHostApplicationBuilder AddEmbeddedPlatform(this IHostApplicationBuilder builder, InfrastructureSettings settings)
    {
        if (settings.Transport == RelayTransportKind.Discord)
        {
            throw new ConfigurationException(
                "Relay:Transport 'Discord' is for the bot hosts (Presentation.DiscordServer and Presentation.DiscordClient); the API host relays InProcess, or set Relay:Dispatcher=External to run it beside the server bot.");
        }

        var configuration = builder.Configuration;
        var services = builder.Services;
        var direct = settings.Transport == RelayTransportKind.Direct;
        // The hosts that dial in hold the same keys: an ephemeral one would be this process's alone.
        services.AddLocalAdapters(configuration, settings)
            .AddEnvelopeCipher(configuration, allowEphemeralKey: !direct);
        if (direct)
        {
            services.AddDirectServerRelay(configuration);
        }
        else
        {
            services.AddInProcessRelayTransport();
        }

        if (!direct && configuration[$"{RelayOptions.Section}:{nameof(RelayOptions.PartialInterval)}"] is null)
        {
            // No Discord rate limit in one process, and later pieces stay in memory: stream in small pieces.
            services.Configure<RelayOptions>(o => o.PartialInterval = RelayOptions.InProcessPartialInterval);
        }

        if (settings.CacheProvider == CacheProvider.Redis)
        {
            // API instances that do not dispatch ask this process to cancel and for stream progress.
            services.AddRedisRelayControlServer();
            if (direct)
            {
                // Several instances may relay directly: a host's envelopes go through the instance it is connected to.
                services.AddRedisDirectRelayPeers();
            }
        }

        services.AddStores(configuration, settings)
            .AddDatabaseBackups(configuration, settings, runSchedule: true)
            .AddPlatformDescription(settings, settings.Transport.ToString(), localWorker: !direct)
            .AddRelayServer()
            // No Discord channel to retire in one process.
            .AddSingleton<IChatClosedSignal, NoChatClosedSignal>()
            // The process that dispatches serves Telegram (when Telegram:BotToken is set): here, as no server bot runs.
            .AddTelegramBot(configuration);
        if (!direct)
        {
            services.AddInferenceEngine(configuration, settings).AddRelayWorker();
        }

        return builder;
    }

    /// <summary>
    /// Beside a server bot: no relay end; requests are queued in PostgreSQL (the server bot is woken by its insert
    /// trigger), and cancelling, stream progress and closed chats go to the server bot over Redis.
    /// </summary>
    public static IHostApplicationBuilder AddDistributedApiPlatform(this IHostApplicationBuilder builder, InfrastructureSettings settings)
    {
        if (TelegramOptions.IsSet(builder.Configuration))
        {
            // Two pollers of one bot get Telegram's 409 Conflict: the process that dispatches polls, here the server bot.
            throw new ConfigurationException(
                "Telegram:BotToken is set on an API instance with Relay:Dispatcher=External: the server bot serves Telegram in that set-up; set Telegram:* in the server bot's settings, not the API's.");
        }

        settings.RequireSharedAdapters();
        if (settings.Transport == RelayTransportKind.Direct)
        {
            // The dispatcher must be in the process that holds the host's connection, and the relay process beside
            // External instances (the server bot) relays over Discord only: every instance the hosts may dial runs Local.
            throw new ConfigurationException(
                "Relay:Transport 'Direct' needs Relay:Dispatcher=Local: the model hosts dial an API instance, which dispatches to those connected to it; run every instance with Local (several may, on PostgreSQL and Redis).");
        }

        var configuration = builder.Configuration;
        builder.Services.AddLocalAdapters(configuration, settings)
            .AddRedisRelayControlClient()
            .AddStores(configuration, settings)
            .AddDatabaseBackups(configuration, settings, runSchedule: false)
            .AddPlatformDescription(settings, "External", localWorker: false);
        return builder;
    }
}
