using MeatLizard.Application;
using MeatLizard.Application.Relay;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Backup;
using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Infrastructure.Metrics;
using MeatLizard.Infrastructure.Power;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Relay;
using MeatLizard.Infrastructure.Relay.Direct;
using MeatLizard.Infrastructure.Telegram;
using MeatLizard.Infrastructure.Telemetry;

namespace MeatLizard.Presentation.DiscordClient;

/// <summary>The client bot's composition; public so tests run exactly what the host runs.</summary>
public static class ClientBotComposition
{
    /// <summary>
    /// The client bot: the worker beside llama.cpp, over the Discord relay, or (Relay:Transport=Direct) dialling the
    /// API's relay endpoint, with no Discord setting at all.
    /// </summary>
    public static IHostApplicationBuilder AddDiscordClientBot(this IHostApplicationBuilder builder)
    {
        if (TelegramOptions.IsSet(builder.Configuration))
        {
            // Set here, the operator expects an answer in Telegram that no process would give.
            throw new ConfigurationException(
                "Telegram:BotToken is set on the client bot, which serves no chat network: set it on the API host (with Relay:Dispatcher=Local) or on the server bot.");
        }

        builder.AddTelemetry();
        builder.UseDiscordTransport(directAllowed: true);
        builder.AddApplicationServices();
        var settings = builder.AddInfrastructureSettings();
        var configuration = builder.Configuration;
        var services = builder.Services;
        services.AddLocalAdapters(configuration, settings)
            .AddEnvelopeCipher(configuration, allowEphemeralKey: false);
        if (settings.Transport == RelayTransportKind.Direct)
        {
            services.AddDirectHostRelay(configuration);
        }
        else
        {
            services.AddDiscordHostRelay(configuration);
        }

        services.AddStores(configuration, settings)
            .AddDatabaseBackups(configuration, settings, runSchedule: false)
            .AddPlatformDescription(settings, settings.Transport.ToString(), localWorker: false)
            .AddInferenceEngine(configuration, settings)
            .AddBegunJobsMemory(settings)
            .AddRelayWorker()
            // Only the client bot stops itself on low battery; in embedded mode the web app must keep running.
            .AddPowerWatch(configuration)
            // It has no queue of its own to sample: the server bot and the API report it.
            .AddMetricsExposition(configuration, sampleStatus: false)
            .AddDoctorChecks(settings, DoctorHost.ClientBot);
        return builder;
    }
}
