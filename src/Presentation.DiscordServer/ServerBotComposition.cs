using MeatLizard.Application;
using MeatLizard.Application.Channels;
using MeatLizard.Application.Relay;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Backup;
using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Discord.Gateway;
using MeatLizard.Infrastructure.Discord.Setup;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Infrastructure.Metrics;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Relay;
using MeatLizard.Infrastructure.Telegram;
using MeatLizard.Infrastructure.Telemetry;
using MeatLizard.Presentation.DiscordServer.Commands;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Presentation.DiscordServer;

/// <summary>The server bot's composition; public so tests run exactly what the host runs.</summary>
public static class ServerBotComposition
{
    /// <summary>
    /// The server bot: dispatcher and relay server over the Discord relay, members' chat in the allowed channels (and Telegram chats when configured), admin
    /// slash commands, metrics channel.
    /// </summary>
    public static IHostApplicationBuilder AddDiscordServerBot(this IHostApplicationBuilder builder)
    {
        builder.AddTelemetry();
        builder.UseDiscordTransport();
        builder.AddApplicationServices();
        var settings = builder.AddInfrastructureSettings();
        var configuration = builder.Configuration;
        var services = builder.Services;
        services.AddLocalAdapters(configuration, settings)
            .AddEnvelopeCipher(configuration, allowEphemeralKey: false)
            .AddDiscordServerRelay(configuration)
            .AddDiscordChat()
            // Telegram through the same channel handler, when Telegram:BotToken is set (long polling: outbound only).
            .AddTelegramBot(configuration)
            // A server bot's only callers are the members whose questions it answers.
            .AddChannelMembersAsCallers()
            .AddAdminSlashCommands();
        if (settings.CacheProvider == CacheProvider.Redis)
        {
            // API instances that do not dispatch ask this process to cancel, for stream progress and to retire channels.
            services.AddRedisRelayControlServer();
        }

        services.AddStores(configuration, settings)
            // One process per deployment runs the backup schedule: in distributed mode, the server bot.
            .AddDatabaseBackups(configuration, settings, runSchedule: true)
            .AddPlatformDescription(settings, settings.Transport.ToString(), localWorker: false)
            .AddRelayServer()
            .AddMetricsExposition(configuration, sampleStatus: true)
            .AddDoctorChecks(settings, DoctorHost.ServerBot);
        // Listed in the status while it runs: one or a pair of server bots share the work.
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<Application.Common.DutyRunner>();
        services.AddHostedService<ServerBotPresence>();
        return builder;
    }

    /// <summary>
    /// The <c>setup</c> verb: Discord's REST client only, since it runs before the relay's ids exist (no category, relay
    /// keys or database needed); with <paramref name="admin"/> (<c>--admin USER</c>) also the web admin step, on the
    /// stores the server bot runs with (<see cref="WebAdminSetup"/>) — or, with no database configured, a step that
    /// only says which setting is missing.
    /// </summary>
    public static IHostApplicationBuilder AddDiscordServerSetup(this IHostApplicationBuilder builder, string? admin = null)
    {
        builder.Services.AddDiscordSetup(builder.Configuration);
        if (admin is null)
        {
            return builder;
        }

        var services = builder.Services;
        if (!WebAdminSetup.DatabaseConfigured(builder.Configuration))
        {
            services.AddSingleton<ISetupStep>(new WebAdminSetup.WithoutDatabase(admin));
            return builder;
        }

        // The commands and stores as the server bot composes them (the user cache tells the other processes through
        // Redis when it is configured), without its relay, gateway or hosted services: nothing is started.
        builder.AddApplicationServices();
        var settings = builder.AddInfrastructureSettings();
        services.AddLocalAdapters(builder.Configuration, settings)
            .AddStores(builder.Configuration, settings);
        // The migrator's lines would come between setup's own; what it did is one line of the step.
        builder.Logging.AddFilter("MeatLizard.Infrastructure.Persistence", LogLevel.Warning);
        services.AddSingleton<ISetupStep>(provider => new WebAdminSetup(admin, provider.GetRequiredService<IServiceScopeFactory>(),
            provider.GetRequiredService<IDatabaseStatus>(), provider.GetRequiredService<IDatabaseInitializer>(), settings,
            provider.GetRequiredService<DiscordOptions>().PublicBaseUrl));
        return builder;
    }

    /// <summary>
    /// Runs the <c>setup</c> verb with the admin slash commands the bot registers at start; the ids go into
    /// <paramref name="configOut"/>, or the host's <c>appsettings.{Environment}.json</c> in its content root (which the
    /// host loads at its next start). Returns the exit code.
    /// </summary>
    public static Task<int> RunDiscordServerSetupAsync(this IHost host, string? configOut, TextWriter output, CancellationToken cancellationToken = default)
    {
        var environment = host.Services.GetRequiredService<IHostEnvironment>();
        var settings = SettingsFile.Open(configOut
                                         ?? Path.Combine(environment.ContentRootPath, $"appsettings.{environment.EnvironmentName}.json"));
        return host.Services.GetRequiredService<DiscordSetup>()
            .RunAsync(DiscordAdminCommands.Definitions, settings, output, cancellationToken);
    }

    /// <summary>The admin slash commands and the metrics channel poster.</summary>
    public static IServiceCollection AddAdminSlashCommands(this IServiceCollection services)
    {
        // Two server bots side by side answer each command once and post the metrics once.
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<Application.Common.DutyRunner>();
        services.AddSingleton<DiscordAdminCommands>();
        services.AddSingleton<IDiscordEventHandler>(provider => provider.GetRequiredService<DiscordAdminCommands>());
        services.AddHostedService(provider => provider.GetRequiredService<DiscordAdminCommands>());
        services.AddHostedService<DiscordMetricsPoster>();
        return services;
    }

    /// <summary>Brings the database up to date, then runs the server bot until it stops.</summary>
    public static async Task RunDiscordServerBotAsync(this IHost host, CancellationToken cancellationToken = default)
    {
        await host.Services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(cancellationToken);
        await host.RunAsync(cancellationToken);
    }
}
