using MeatLizard.Infrastructure.Discord;

namespace MeatLizard.Presentation.DiscordClient;

/// <summary>
/// The client bot: the worker beside llama.cpp. Until the Discord client exists this host validates its configuration, says what it would
/// connect to, and waits for Ctrl-C. The token is never logged.
/// </summary>
public sealed partial class DiscordConnectionPlan(DiscordOptions options, ILogger<DiscordConnectionPlan> logger)
    : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogPlan(logger, options.ApiBaseUrl, options.GatewayUrl ?? "(from GET /gateway/bot)", options.GuildId,
            options.ApplicationId ?? "(not needed)", options.CategoryId ?? "(none)");
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Configuration is valid. Would connect to Discord REST {ApiBaseUrl} and gateway {GatewayUrl} for guild {GuildId} (application {ApplicationId}, category {CategoryId}); the Discord relay is not built yet, so this host idles until Ctrl-C")]
    private static partial void LogPlan(ILogger logger, string apiBaseUrl, string gatewayUrl, string? guildId,
        string applicationId, string categoryId);
}
