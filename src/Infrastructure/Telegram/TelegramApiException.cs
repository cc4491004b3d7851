namespace MeatLizard.Infrastructure.Telegram;

/// <summary>
/// The Bot API answered <c>{"ok":false}</c> (or not at all). The message holds the method and Telegram's description,
/// never the request URL: the token is part of it.
/// </summary>
public sealed class TelegramApiException(string method, int errorCode, string description, TimeSpan? retryAfter = null)
    : Exception($"Telegram {method} failed: {errorCode} {description}")
{
    public string Method { get; } = method;

    /// <summary>The HTTP-like code Telegram gives (400, 401, 403, 409, 429…); 0 when no answer came.</summary>
    public int ErrorCode { get; } = errorCode;

    public string Description { get; } = description;

    /// <summary>On 429: how long Telegram asks to wait (<c>parameters.retry_after</c>).</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>An edit that changes nothing: harmless, the message already reads so.</summary>
    public bool IsNotModified => ErrorCode == 400 && Description.StartsWith("Bad Request: message is not modified", StringComparison.Ordinal);
}
