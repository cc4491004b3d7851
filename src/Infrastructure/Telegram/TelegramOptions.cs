using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace MeatLizard.Infrastructure.Telegram;

/// <summary>
/// Section "Telegram": the bot's token from @BotFather, where the Bot API is (tests point it at a loopback server) and
/// the chats the bot answers in. Without a token the bot does not run.
/// </summary>
public sealed partial class TelegramOptions
{
    public const string Section = "Telegram";

    public string? BotToken { get; set; }

    public string ApiBaseUrl { get; set; } = "https://api.telegram.org";

    /// <summary>
    /// The chats the bot answers in (a private chat's id is the person's user id; a group's is negative). Every other
    /// chat gets silence: a bot anyone can find must not spend the operator's model on strangers. A list
    /// (<c>Telegram:AllowedChatIds:0</c>…) or one comma-separated value.
    /// </summary>
    public IReadOnlyList<long> AllowedChatIds { get; private set; } = [];

    /// <summary>How long one getUpdates call waits for an update (long polling), in seconds: 1–50.</summary>
    public int PollTimeoutSeconds { get; set; } = 30;

    /// <summary>How many chats are answered at once; the updates of one chat are handled in order.</summary>
    public int MaxConcurrentChats { get; set; } = 8;

    /// <summary>
    /// The web app's public address (e.g. https://chat.example.com), for the links <c>/search</c> and <c>/share</c>
    /// give; <c>Discord:PublicBaseUrl</c> when not set (the server bot's), else the links are paths.
    /// </summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>Whether <c>Telegram:BotToken</c> is set, i.e. whether a host that reads it would serve Telegram.</summary>
    public static bool IsSet(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration[$"{Section}:{nameof(BotToken)}"]);

    /// <summary>
    /// The settings, checked (one line naming the key), or null when <c>Telegram:BotToken</c> is not set: then the
    /// host runs no Telegram bot.
    /// </summary>
    public static TelegramOptions? Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(Section);
        TelegramOptions options;
        try
        {
            options = section.Get<TelegramOptions>() ?? new TelegramOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new ConfigurationException(ex.InnerException?.Message is { } inner ? $"{ex.Message} {inner}" : ex.Message);
        }

        if (string.IsNullOrWhiteSpace(options.BotToken))
        {
            return null;
        }

        // Never echo the token: a wrong one in an error line would still be a secret in a log.
        if (!TokenShape().IsMatch(options.BotToken.Trim()))
        {
            throw new ConfigurationException(
                "Telegram:BotToken is not a Bot API token (the '<bot id>:<secret>' text @BotFather gives).");
        }

        options.BotToken = options.BotToken.Trim();
        if (!Uri.TryCreate(options.ApiBaseUrl, UriKind.Absolute, out var api) || (api.Scheme != "https" && api.Scheme != "http"))
        {
            throw new ConfigurationException($"Telegram:ApiBaseUrl must be an absolute http(s) URL; got '{options.ApiBaseUrl}'.");
        }

        options.ApiBaseUrl = options.ApiBaseUrl.TrimEnd('/');
        options.AllowedChatIds = ReadChatIds(section.GetSection(nameof(AllowedChatIds)));
        if (options.AllowedChatIds.Count == 0)
        {
            throw new ConfigurationException(
                "Telegram:AllowedChatIds must list at least one chat id (a person's user id for a private chat, a group's negative id).");
        }

        if (options.PollTimeoutSeconds is < 1 or > 50)
        {
            throw new ConfigurationException($"Telegram:PollTimeoutSeconds must be between 1 and 50; got {options.PollTimeoutSeconds}.");
        }

        options.PublicBaseUrl = string.IsNullOrWhiteSpace(options.PublicBaseUrl)
            ? configuration["Discord:PublicBaseUrl"]
            : options.PublicBaseUrl;
        if (!string.IsNullOrWhiteSpace(options.PublicBaseUrl)
            && (!Uri.TryCreate(options.PublicBaseUrl, UriKind.Absolute, out var web) || (web.Scheme != "https" && web.Scheme != "http")))
        {
            throw new ConfigurationException($"Telegram:PublicBaseUrl must be an absolute http(s) URL; got '{options.PublicBaseUrl}'.");
        }

        if (options.MaxConcurrentChats is < 1 or > 64)
        {
            throw new ConfigurationException($"Telegram:MaxConcurrentChats must be between 1 and 64; got {options.MaxConcurrentChats}.");
        }

        return options;
    }

    /// <summary>The bot's own id: the digits before the colon of its token.</summary>
    public string BotId => BotToken is { } token ? token[..token.IndexOf(':', StringComparison.Ordinal)] : "";

    private static List<long> ReadChatIds(IConfigurationSection section)
    {
        var values = section.GetChildren().Select(c => c.Value).Append(section.Value)
            .Where(v => !string.IsNullOrWhiteSpace(v))
            .SelectMany(v => v!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        var ids = new List<long>();
        foreach (var value in values)
        {
            if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id) || id == 0)
            {
                throw new ConfigurationException($"Telegram:AllowedChatIds holds '{value}', which is not a Telegram chat id (a whole number).");
            }

            ids.Add(id);
        }

        return ids.Distinct().ToList();
    }

    [GeneratedRegex("^[0-9]{1,20}:[A-Za-z0-9_-]{20,}$")]
    private static partial Regex TokenShape();
}
