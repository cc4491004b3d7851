using Microsoft.Extensions.Configuration;

namespace MeatLizard.Infrastructure.Discord;

/// <summary>Section "Discord": the bot's credentials, where its relay channels live, and the other bot's user id.</summary>
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

    /// <summary>The client bot's user id: the server bot lets it into session channels and reads only its messages.</summary>
    public string? ClientBotUserId { get; set; }

    /// <summary>The server bot's user id: the client bot reads only its messages.</summary>
    public string? ServerBotUserId { get; set; }

    /// <summary>The channel (under the category) that carries worker heartbeats.</summary>
    public string ControlChannelName { get; set; } = "ml-control";

    /// <summary>Discord allows 50 channels per category; older closed chats' channels are reclaimed before that.</summary>
    public int MaxCategoryChannels { get; set; } = 50;

    /// <summary>Discord allows 500 channels per guild.</summary>
    public int MaxGuildChannels { get; set; } = 500;

    /// <summary>Envelopes sent as files are refused above this size (Discord's default upload limit is 10 MiB).</summary>
    public long MaxAttachmentBytes { get; set; } = 10 * 1024 * 1024;

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
        Snowflake(options.ClientBotUserId, "Discord:ClientBotUserId", required: false);
        Snowflake(options.ServerBotUserId, "Discord:ServerBotUserId", required: false);
        if (options.MaxCategoryChannels is < 2 or > 50)
        {
            throw new ConfigurationException($"Discord:MaxCategoryChannels must be between 2 and 50; got {options.MaxCategoryChannels}.");
        }

        if (options.MaxGuildChannels is < 2 or > 500)
        {
            throw new ConfigurationException($"Discord:MaxGuildChannels must be between 2 and 500; got {options.MaxGuildChannels}.");
        }
        Url(options.ApiBaseUrl, "Discord:ApiBaseUrl", "http", "https");
        if (!string.IsNullOrWhiteSpace(options.GatewayUrl))
        {
            Url(options.GatewayUrl, "Discord:GatewayUrl", "ws", "wss");
        }

        return options;
    }

    /// <summary>Checks the settings the Discord relay needs on top of <see cref="Read"/>, for the given bot.</summary>
    public DiscordOptions RequireRelaySettings(bool serverBot)
    {
        Snowflake(CategoryId, "Discord:CategoryId", required: true);
        if (serverBot)
        {
            Snowflake(ClientBotUserId, "Discord:ClientBotUserId", required: true);
        }
        else
        {
            Snowflake(ServerBotUserId, "Discord:ServerBotUserId", required: true);
        }

        return this;
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
