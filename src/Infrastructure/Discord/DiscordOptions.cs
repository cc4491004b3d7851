using Microsoft.Extensions.Configuration;

namespace MeatLizard.Infrastructure.Discord;

/// <summary>Section "Discord". The client for it arrives with the Discord issue; the hosts validate it already.</summary>
public sealed class DiscordOptions
{
    public const string Section = "Discord";

    public string? BotToken { get; set; }

    public string? ApplicationId { get; set; }

    public string? GuildId { get; set; }

    public string? CategoryId { get; set; }

    public string? MetricsChannelId { get; set; }

    public string? AdminRoleId { get; set; }

    public string ApiBaseUrl { get; set; } = "https://discord.com/api/v10";

    public string? GatewayUrl { get; set; }

    /// <summary>Reads and checks the section; the first problem is thrown as one line naming the key.</summary>
    public static DiscordOptions Read(IConfiguration configuration, bool needsApplication)
    {
        var options = configuration.GetSection(Section).Get<DiscordOptions>() ?? new DiscordOptions();
        Require(options.BotToken, "Discord:BotToken", "the bot token from the Discord Developer Portal");
        Snowflake(options.GuildId, "Discord:GuildId", required: true);
        if (needsApplication)
        {
            Snowflake(options.ApplicationId, "Discord:ApplicationId", required: true);
        }

        Snowflake(options.CategoryId, "Discord:CategoryId", required: false);
        Snowflake(options.MetricsChannelId, "Discord:MetricsChannelId", required: false);
        Snowflake(options.AdminRoleId, "Discord:AdminRoleId", required: false);
        Url(options.ApiBaseUrl, "Discord:ApiBaseUrl", "http", "https");
        if (!string.IsNullOrWhiteSpace(options.GatewayUrl))
        {
            Url(options.GatewayUrl, "Discord:GatewayUrl", "ws", "wss");
        }

        return options;
    }

    private static void Require(string? value, string key, string what)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ConfigurationException($"{key} is required: {what}.");
        }
    }

    private static void Snowflake(string? value, string key, bool required)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required)
            {
                throw new ConfigurationException($"{key} is required: a Discord id (a number such as 123456789012345678).");
            }

            return;
        }

        if (!ulong.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
        {
            throw new ConfigurationException($"{key} must be a Discord id (digits only); got '{value}'.");
        }
    }

    private static void Url(string? value, string key, params string[] schemes)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || !schemes.Contains(uri.Scheme))
        {
            throw new ConfigurationException($"{key} must be an absolute {string.Join("/", schemes)} URL; got '{value}'.");
        }
    }
}
