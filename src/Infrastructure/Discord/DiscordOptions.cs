using Microsoft.Extensions.Configuration;

namespace MeatLizard.Infrastructure.Discord;

/// <summary>What becomes of a chat's channel when the chat is closed (or deleted).</summary>
public enum ClosedChannelAction
{
    /// <summary>Locked (both bots may read, neither write) and moved to <see cref="DiscordOptions.ArchiveCategoryId"/> if set.</summary>
    Archive,

    /// <summary>Deleted.</summary>
    Delete,
}

/// <summary>Section "Discord": the bot's credentials, where its relay channels live, and the other bots' user ids.</summary>
public sealed class DiscordOptions
{
    public const string Section = "Discord";

    public string? BotToken { get; set; }

    public string? ApplicationId { get; set; }

    public string? GuildId { get; set; }

    public string? CategoryId { get; set; }

    public string? MetricsChannelId { get; set; }

    public string? AdminRoleId { get; set; }

    /// <summary>How often the server bot posts the metrics summary to <see cref="MetricsChannelId"/>.</summary>
    public TimeSpan MetricsInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The API's public address (e.g. https://chat.example.com): download links that are paths on the API (file-system
    /// object store) are shown in Discord as full links under it.
    /// </summary>
    public string? PublicBaseUrl { get; set; }

    public string ApiBaseUrl { get; set; } = "https://discord.com/api/v10";

    public string? GatewayUrl { get; set; }

    /// <summary>One client bot's user id: the short form of <see cref="ClientBotUserIds"/> for a single host.</summary>
    public string? ClientBotUserId { get; set; }

    /// <summary>
    /// Every client bot's user id (one Discord bot per host), after <see cref="Read"/>: <c>Discord:ClientBotUserIds</c>
    /// (a list, <c>Discord:ClientBotUserIds:0</c>…, or one comma-separated value) merged with
    /// <c>Discord:ClientBotUserId</c>, duplicates dropped. The server bot lets each into the relay channels and reads
    /// only their messages (and its own).
    /// </summary>
    public IReadOnlyList<string> ClientBotUserIds { get; private set; } = [];

    /// <summary>
    /// The channels where members chat with the model by mentioning the server bot or replying to it
    /// (<c>Discord:ChatChannelIds</c>, a list or one comma-separated value), besides those admins add with
    /// <c>/chat-channels add</c>. Everywhere else the bot stays silent.
    /// </summary>
    public IReadOnlyList<string> ChatChannelIds { get; private set; } = [];

    /// <summary>The server bot's user id: the client bot reads only its messages.</summary>
    public string? ServerBotUserId { get; set; }

    /// <summary>The channel (under the category) that carries worker heartbeats.</summary>
    public string ControlChannelName { get; set; } = "ml-control";

    /// <summary>Discord allows 50 channels per category; older closed chats' channels are reclaimed before that.</summary>
    public int MaxCategoryChannels { get; set; } = 50;

    /// <summary>
    /// How many open chats of one user may hold a channel at once: a channel is a shared resource (a category holds
    /// 50), so beyond this the user's least recently used idle chat gives its channel back first. 1–49. The default
    /// leaves room for a user's chats that answer at once (a chat with a request in flight keeps its channel, and a
    /// user over the cap with every chat busy gets the fallback for the next one), while two or three users cannot fill
    /// the category with idle chats: a full category takes idle chats' channels back anyway.
    /// </summary>
    public int MaxChannelsPerUser { get; set; } = 20;

    /// <summary>Discord allows 500 channels per guild.</summary>
    public int MaxGuildChannels { get; set; } = 500;

    /// <summary>
    /// How often the client bot re-sends "typing" in a chat's channel while the model generates (Discord shows it for
    /// 10 s after each call, and hides it when the bot posts).
    /// </summary>
    public TimeSpan TypingInterval { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>What the server bot does with a chat's channel as soon as the chat is closed.</summary>
    public ClosedChannelAction ClosedChannels { get; set; } = ClosedChannelAction.Archive;

    /// <summary>Where archived chat channels go (a category of their own); unset = they stay, locked, where they are.</summary>
    public string? ArchiveCategoryId { get; set; }

    /// <summary>
    /// How often the server bot looks for chats closed where it could not hear it (another process, or while it was
    /// down) whose channels are still open.
    /// </summary>
    public TimeSpan ClosedChannelSweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Envelopes sent as files are refused above this size (Discord's default upload limit is 10 MiB).</summary>
    public long MaxAttachmentBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>Reads and checks the section; the first problem is thrown as one line naming the key.</summary>
    public static DiscordOptions Read(IConfiguration configuration, bool needsApplication)
    {
        DiscordOptions options;
        try
        {
            options = configuration.GetSection(Section).Get<DiscordOptions>() ?? new DiscordOptions();
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key and the value it could not convert (e.g. a bad time span).
            throw new ConfigurationException(ex.InnerException?.Message is { } inner ? $"{ex.Message} {inner}" : ex.Message);
        }

        Require(options.BotToken, "Discord:BotToken", "the bot token from the Discord Developer Portal");
        Snowflake(options.GuildId, "Discord:GuildId", required: true);
        if (needsApplication)
        {
            Snowflake(options.ApplicationId, "Discord:ApplicationId", required: true);
        }

        Snowflake(options.CategoryId, "Discord:CategoryId", required: false);
        Snowflake(options.MetricsChannelId, "Discord:MetricsChannelId", required: false);
        Snowflake(options.ArchiveCategoryId, "Discord:ArchiveCategoryId", required: false);
        options.ArchiveCategoryId = string.IsNullOrWhiteSpace(options.ArchiveCategoryId) ? null : options.ArchiveCategoryId;
        if (!Enum.IsDefined(options.ClosedChannels))
        {
            throw new ConfigurationException($"Discord:ClosedChannels must be Archive or Delete; got '{options.ClosedChannels}'.");
        }

        if (options.ArchiveCategoryId is not null && options.ArchiveCategoryId == options.CategoryId)
        {
            throw new ConfigurationException(
                "Discord:ArchiveCategoryId must be another category than Discord:CategoryId (archived chats leave the relay's category).");
        }

        if (options.ClosedChannelSweepInterval < TimeSpan.FromSeconds(1) || options.ClosedChannelSweepInterval > TimeSpan.FromDays(1))
        {
            throw new ConfigurationException(
                $"Discord:ClosedChannelSweepInterval must be between 00:00:01 and 1.00:00:00 (e.g. 00:01:00); got {options.ClosedChannelSweepInterval}.");
        }

        Snowflake(options.AdminRoleId, "Discord:AdminRoleId", required: false);
        Snowflake(options.ClientBotUserId, "Discord:ClientBotUserId", required: false);
        options.ClientBotUserIds = ReadSnowflakeList(configuration.GetSection(Section).GetSection(nameof(ClientBotUserIds)),
            "Discord:ClientBotUserIds", options.ClientBotUserId);
        options.ChatChannelIds = ReadSnowflakeList(configuration.GetSection(Section).GetSection(nameof(ChatChannelIds)),
            "Discord:ChatChannelIds", null);
        Snowflake(options.ServerBotUserId, "Discord:ServerBotUserId", required: false);
        if (options.MaxCategoryChannels is < 2 or > 50)
        {
            throw new ConfigurationException($"Discord:MaxCategoryChannels must be between 2 and 50; got {options.MaxCategoryChannels}.");
        }

        if (options.MaxChannelsPerUser is < 1 or > 49)
        {
            throw new ConfigurationException(
                $"Discord:MaxChannelsPerUser must be between 1 and 49 (a category holds 50 channels, one is the control channel); got {options.MaxChannelsPerUser}.");
        }

        if (options.MaxGuildChannels is < 2 or > 500)
        {
            throw new ConfigurationException($"Discord:MaxGuildChannels must be between 2 and 500; got {options.MaxGuildChannels}.");
        }
        if (options.TypingInterval < TimeSpan.FromSeconds(1) || options.TypingInterval > TimeSpan.FromSeconds(9))
        {
            throw new ConfigurationException(
                $"Discord:TypingInterval must be between 00:00:01 and 00:00:09 (Discord shows typing for 10 s); got {options.TypingInterval}.");
        }

        if (options.MetricsInterval < TimeSpan.FromSeconds(1) || options.MetricsInterval > TimeSpan.FromDays(1))
        {
            throw new ConfigurationException(
                $"Discord:MetricsInterval must be between 00:00:01 and 1.00:00:00 (e.g. 00:05:00); got {options.MetricsInterval}.");
        }

        if (!string.IsNullOrWhiteSpace(options.PublicBaseUrl))
        {
            Url(options.PublicBaseUrl, "Discord:PublicBaseUrl", "http", "https");
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
            if (ClientBotUserIds.Count == 0)
            {
                throw new ConfigurationException(
                    "Discord:ClientBotUserIds is required: the user id of each client bot (Discord:ClientBotUserIds:0, :1, … or one comma-separated value; Discord:ClientBotUserId for a single one).");
            }
        }
        else
        {
            Snowflake(ServerBotUserId, "Discord:ServerBotUserId", required: true);
        }

        return this;
    }

    /// <summary>
    /// The listed ids (children <c>:0</c>, <c>:1</c>, … or one comma-separated value) after the short form, each checked
    /// as a snowflake and named by its place in the list when it is not one.
    /// </summary>
    private static IReadOnlyList<string> ReadSnowflakeList(IConfigurationSection list, string key, string? shortForm)
    {
        var listed = new List<(string Key, string? Value)>();
        var children = list.GetChildren().ToList();
        if (children.Count > 0)
        {
            if (children.Any(c => c.GetChildren().Any()))
            {
                throw new ConfigurationException($"{key} must be a list of Discord ids ({key}:0, {key}:1, …), not objects.");
            }

            listed.AddRange(children
                .OrderBy(c => int.TryParse(c.Key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i) ? i : int.MaxValue)
                .Select(c => ($"{key}:{c.Key}", c.Value)));
        }
        else if (!string.IsNullOrWhiteSpace(list.Value))
        {
            listed.AddRange(list.Value.Split(',').Select((value, i) => ($"{key}:{i}", (string?)value.Trim())));
        }

        var ids = new List<string>();
        if (!string.IsNullOrWhiteSpace(shortForm))
        {
            ids.Add(shortForm);
        }

        foreach (var (name, value) in listed)
        {
            Snowflake(value, name, required: true);
            ids.Add(value!);
        }

        return [.. ids.Distinct(StringComparer.Ordinal)];
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
