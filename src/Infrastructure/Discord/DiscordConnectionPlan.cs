using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord;

/// <summary>
/// What a Discord bot host does until the Discord client exists: its configuration is validated at composition,
/// and at start it says what it would connect to, then idles until Ctrl-C. The token is never logged.
/// </summary>
public sealed partial class DiscordConnectionPlan(string role, DiscordOptions options, ILogger<DiscordConnectionPlan> logger)
    : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogPlan(logger, role, options.ApiBaseUrl, options.GatewayUrl ?? "(from GET /gateway/bot)", options.GuildId,
            options.ApplicationId ?? "(not needed)", options.CategoryId ?? "(none)");
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "{Role}: configuration is valid. Would connect to Discord REST {ApiBaseUrl} and gateway {GatewayUrl} for guild {GuildId} (application {ApplicationId}, category {CategoryId}); the Discord relay is not built yet, so this host idles until Ctrl-C")]
    private static partial void LogPlan(ILogger logger, string role, string apiBaseUrl, string gatewayUrl, string? guildId,
        string applicationId, string categoryId);
}

public static class DiscordHostRegistration
{
    /// <summary>
    /// Checks the Discord settings and the relay keys both bots must share (an ephemeral key is never acceptable
    /// across processes), then registers the connection plan.
    /// </summary>
    public static IHostApplicationBuilder AddDiscordBotShell(this IHostApplicationBuilder builder, string role, bool needsApplication)
    {
        var configuration = builder.Configuration;
        builder.Services.AddSingleton(RelayKeyRing.FromOptions(
            configuration.GetSection(RelayKeyOptions.Section).Get<RelayKeyOptions>() ?? new RelayKeyOptions(),
            allowEphemeralKey: false,
            transport: "Discord"));
        var options = DiscordOptions.Read(configuration, needsApplication);
        builder.Services.AddHostedService(provider =>
            new DiscordConnectionPlan(role, options, provider.GetRequiredService<ILogger<DiscordConnectionPlan>>()));
        return builder;
    }
}
