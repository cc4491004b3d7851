using System.Net;
using System.Text.Json;

namespace MeatLizard.Infrastructure.Discord.Rest;

/// <summary>The JSON error codes of Discord we act on.</summary>
public enum DiscordErrorCode
{
    None = 0,
    UnknownChannel = 10003,
    UnknownMessage = 10008,
    UnknownInteraction = 10062,
    ChannelWriteRateLimit = 20028,
    MaxGuildChannels = 30013,
    RequestTooLarge = 40005,
    AlreadyAcknowledged = 40060,
    MissingAccess = 50001,
    MissingPermissions = 50013,
    InvalidFormBody = 50035,
}

/// <summary>A Discord REST call that failed: HTTP status, Discord's JSON code (when given) and its message.</summary>
public class DiscordApiException(HttpStatusCode status, DiscordErrorCode code, int rawCode, string message, string route)
    : Exception($"Discord {route} failed: {(int)status} {message} (code {rawCode})")
{
    public HttpStatusCode Status { get; } = status;

    public DiscordErrorCode Code { get; } = code;

    /// <summary>The code as Discord sent it, also when <see cref="DiscordErrorCode"/> does not name it.</summary>
    public int RawCode { get; } = rawCode;

    public string DiscordMessage { get; } = message;

    public string Route { get; } = route;

    /// <summary>Builds the most specific exception for a failed response body.</summary>
    public static DiscordApiException From(HttpStatusCode status, string body, string route)
    {
        var (rawCode, message) = Parse(body);
        var code = Enum.IsDefined(typeof(DiscordErrorCode), rawCode) ? (DiscordErrorCode)rawCode : DiscordErrorCode.None;
        return code switch
        {
            DiscordErrorCode.UnknownChannel or DiscordErrorCode.UnknownMessage or DiscordErrorCode.UnknownInteraction
                => new DiscordNotFoundException(status, code, rawCode, message, route),
            DiscordErrorCode.MissingAccess or DiscordErrorCode.MissingPermissions
                => new DiscordForbiddenException(status, code, rawCode, message, route),
            DiscordErrorCode.MaxGuildChannels or DiscordErrorCode.ChannelWriteRateLimit
                => new DiscordLimitReachedException(status, code, rawCode, message, route),
            DiscordErrorCode.InvalidFormBody or DiscordErrorCode.RequestTooLarge
                => new DiscordInvalidRequestException(status, code, rawCode, message, route),
            DiscordErrorCode.AlreadyAcknowledged
                => new DiscordAlreadyAcknowledgedException(status, code, rawCode, message, route),
            _ when status == HttpStatusCode.Unauthorized
                => new DiscordUnauthorizedException(status, code, rawCode, message, route),
            _ when status == HttpStatusCode.NotFound
                => new DiscordNotFoundException(status, code, rawCode, message, route),
            _ when status == HttpStatusCode.Forbidden
                => new DiscordForbiddenException(status, code, rawCode, message, route),
            _ => new DiscordApiException(status, code, rawCode, message, route),
        };
    }

    /// <summary>
    /// Discord refused a channel because its category holds the most it may (50): 50035 with the field error
    /// <c>CHANNEL_PARENT_MAX_CHANNELS</c> on <c>parent_id</c>.
    /// </summary>
    public bool IsCategoryFull =>
        DiscordMessage.Contains(CategoryFullCode, StringComparison.Ordinal)
        || DiscordMessage.Contains("channels in category", StringComparison.OrdinalIgnoreCase);

    private const string CategoryFullCode = "CHANNEL_PARENT_MAX_CHANNELS";

    /// <summary>The code and message; the field errors of an invalid form (<c>errors</c>) are added to the message.</summary>
    private static (int Code, string Message) Parse(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var code = root.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : 0;
            var message = root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String
                ? m.GetString() ?? ""
                : "";
            if (root.TryGetProperty("errors", out var errors))
            {
                var details = new List<string>();
                CollectFieldErrors(errors, "", details);
                if (details.Count > 0)
                {
                    message = $"{message} ({string.Join("; ", details)})";
                }
            }

            return (code, message);
        }
        catch (JsonException)
        {
            return (0, body.Length > 200 ? body[..200] : body);
        }
    }

    /// <summary>Discord nests field errors as <c>{field: {_errors: [{code, message}]}}</c>, arrays by index.</summary>
    private static void CollectFieldErrors(JsonElement node, string path, List<string> details)
    {
        if (node.ValueKind != JsonValueKind.Object || details.Count >= 10)
        {
            return;
        }

        foreach (var property in node.EnumerateObject())
        {
            if (property.Name == "_errors" && property.Value.ValueKind == JsonValueKind.Array)
            {
                foreach (var error in property.Value.EnumerateArray())
                {
                    var code = error.TryGetProperty("code", out var c) ? c.ToString() : "";
                    var text = error.TryGetProperty("message", out var t) ? t.ToString() : "";
                    details.Add($"{path}: {code} {text}".Trim());
                }
            }
            else
            {
                CollectFieldErrors(property.Value, path.Length == 0 ? property.Name : $"{path}.{property.Name}", details);
            }
        }
    }
}

/// <summary>Unknown channel, message or interaction (or a plain 404).</summary>
public sealed class DiscordNotFoundException(HttpStatusCode status, DiscordErrorCode code, int rawCode, string message, string route)
    : DiscordApiException(status, code, rawCode, message, route);

/// <summary>Missing access or permissions: the bot's role or the channel overwrites do not allow it.</summary>
public sealed class DiscordForbiddenException(HttpStatusCode status, DiscordErrorCode code, int rawCode, string message, string route)
    : DiscordApiException(status, code, rawCode, message, route);

/// <summary>A Discord limit: 500 channels per guild (30013) or the channel write limit (20028).</summary>
public sealed class DiscordLimitReachedException(HttpStatusCode status, DiscordErrorCode code, int rawCode, string message, string route)
    : DiscordApiException(status, code, rawCode, message, route);

/// <summary>Our request was malformed (50035) or too large (40005): a bug on our side, never retried.</summary>
public sealed class DiscordInvalidRequestException(HttpStatusCode status, DiscordErrorCode code, int rawCode, string message, string route)
    : DiscordApiException(status, code, rawCode, message, route);

/// <summary>The interaction was already answered (40060).</summary>
public sealed class DiscordAlreadyAcknowledgedException(HttpStatusCode status, DiscordErrorCode code, int rawCode, string message, string route)
    : DiscordApiException(status, code, rawCode, message, route);

/// <summary>401: the bot token is wrong or was reset. Retrying cannot help.</summary>
public sealed class DiscordUnauthorizedException(HttpStatusCode status, DiscordErrorCode code, int rawCode, string message, string route)
    : DiscordApiException(status, code, rawCode, message, route);

/// <summary>Still rate limited after every retry we allow ourselves.</summary>
public sealed class DiscordRateLimitedException(string route, TimeSpan retryAfter)
    : DiscordApiException(HttpStatusCode.TooManyRequests, DiscordErrorCode.None, 0,
        $"rate limited; retry after {retryAfter.TotalSeconds:0.###} s", route)
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}
