using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord.Rest;

/// <summary>
/// The Discord REST v10 calls MeatLizard uses, over one <see cref="HttpClient"/>, limited by
/// <see cref="DiscordRateLimiter"/>. A 429 is waited out and retried (its <c>retry_after</c> honoured); a 5xx or a
/// dropped connection is retried only where repeating cannot duplicate anything — messages carry a
/// <c>nonce</c> with <c>enforce_nonce</c>, so Discord returns the first message instead of posting a second.
/// Failures surface as <see cref="DiscordApiException"/> subclasses. The token is never logged.
/// </summary>
public sealed partial class DiscordRestClient(
    HttpClient http, DiscordOptions options, DiscordRateLimiter limiter, TimeProvider time, ILogger<DiscordRestClient> logger,
    DiscordRestMetrics? metrics = null, Application.Relay.RelayTransportHealth? transport = null)
{
    /// <summary>The documented content limit (the spec says 4000; Discord's docs, 2000).</summary>
    public const int MaxContentLength = 2000;

    public const int MaxNonceLength = 25;

    private const int MaxAttempts = 6;

    /// <summary>
    /// How long a request keeps being retried through 429s (after each one's <c>retry_after</c>) once it has met
    /// <see cref="MaxAttempts"/> of them: several server bots share the bot's buckets, and each wait ends when the
    /// bucket resets for all of them at once, so one request can lose six resets in a row to the others' without the
    /// bucket ever refusing for long.
    /// </summary>
    public static readonly TimeSpan RateLimitPatience = TimeSpan.FromSeconds(5);

    private static readonly string s_userAgent =
        $"DiscordBot (https://github.com/meatlizard/meatlizard, {typeof(DiscordRestClient).Assembly.GetName().Version?.ToString(3) ?? "1.0.0"})";

    private readonly string _baseUrl = options.ApiBaseUrl.TrimEnd('/');

    public DiscordRateLimiter Limiter => limiter;

    /// <summary>A fresh nonce for a message post (24 hex characters, within Discord's 25).</summary>
    public static string NewNonce() => Convert.ToHexString(RandomNumberGenerator.GetBytes(12));

    /// <summary>
    /// The nonce of the one message posted for <paramref name="key"/> (24 hex characters of its SHA-256): posting it again
    /// within Discord's nonce window returns the message posted first.
    /// </summary>
    public static string NonceOf(string key) =>
        Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)))[..24];

    public Task<GatewayBotInfo> GetGatewayBotAsync(CancellationToken cancellationToken) =>
        SendJsonAsync<GatewayBotInfo>(Route(HttpMethod.Get, "/gateway/bot", "", "/gateway/bot"), null, true, cancellationToken);

    /// <summary>The bot's own user (<c>GET /users/@me</c>): the cheapest proof that the token is valid.</summary>
    public Task<DiscordUser> GetCurrentUserAsync(CancellationToken cancellationToken) =>
        SendJsonAsync<DiscordUser>(Route(HttpMethod.Get, "/users/@me", "", "/users/@me"), null, true, cancellationToken);

    /// <summary>The guild (<c>GET /guilds/{id}</c>); 403/404 when the bot is not a member.</summary>
    public Task<DiscordGuild> GetGuildAsync(string guildId, CancellationToken cancellationToken) =>
        SendJsonAsync<DiscordGuild>(Route(HttpMethod.Get, "/guilds/{guild_id}", guildId, $"/guilds/{guildId}"), null, true, cancellationToken);

    /// <summary>The bot's application (<c>GET /applications/@me</c>): its id and which privileged intents are enabled.</summary>
    public Task<DiscordApplication> GetCurrentApplicationAsync(CancellationToken cancellationToken) =>
        SendJsonAsync<DiscordApplication>(Route(HttpMethod.Get, "/applications/@me", "", "/applications/@me"), null, true, cancellationToken);

    /// <summary>A member of the guild (<c>GET /guilds/{id}/members/{user}</c>): its roles; 404 (10007) when not a member.</summary>
    public Task<DiscordGuildMember> GetGuildMemberAsync(string guildId, string userId, CancellationToken cancellationToken) =>
        SendJsonAsync<DiscordGuildMember>(
            Route(HttpMethod.Get, "/guilds/{guild_id}/members/{user_id}", guildId, $"/guilds/{guildId}/members/{userId}"), null, true,
            cancellationToken);

    /// <summary>The guild's roles (<c>GET /guilds/{id}/roles</c>), @everyone among them.</summary>
    public Task<IReadOnlyList<DiscordRole>> ListGuildRolesAsync(string guildId, CancellationToken cancellationToken) =>
        SendJsonAsync<IReadOnlyList<DiscordRole>>(
            Route(HttpMethod.Get, "/guilds/{guild_id}/roles", guildId, $"/guilds/{guildId}/roles"), null, true, cancellationToken);

    public Task<DiscordChannel> CreateGuildChannelAsync(string guildId, CreateChannelRequest request, CancellationToken cancellationToken) =>
        SendJsonAsync<DiscordChannel>(
            Route(HttpMethod.Post, "/guilds/{guild_id}/channels", guildId, $"/guilds/{guildId}/channels"),
            request, retryable: false, cancellationToken);

    public Task<IReadOnlyList<DiscordChannel>> ListGuildChannelsAsync(string guildId, CancellationToken cancellationToken) =>
        SendJsonAsync<IReadOnlyList<DiscordChannel>>(
            Route(HttpMethod.Get, "/guilds/{guild_id}/channels", guildId, $"/guilds/{guildId}/channels"), null, true,
            cancellationToken);

    public Task<DiscordChannel> GetChannelAsync(string channelId, CancellationToken cancellationToken) =>
        SendJsonAsync<DiscordChannel>(
            Route(HttpMethod.Get, "/channels/{channel_id}", channelId, $"/channels/{channelId}"), null, true, cancellationToken);

    /// <summary>Changes a channel (moves it, re-words its topic, replaces its permission overwrites).</summary>
    public Task<DiscordChannel> ModifyChannelAsync(string channelId, ModifyChannelRequest request, CancellationToken cancellationToken) =>
        SendJsonAsync<DiscordChannel>(
            Route(HttpMethod.Patch, "/channels/{channel_id}", channelId, $"/channels/{channelId}"), request, true, cancellationToken);

    /// <summary>
    /// Sets one permission overwrite of a channel (<c>PUT /channels/{id}/permissions/{overwrite id}</c>), replacing the
    /// target's own and leaving every other as it is: the same call twice changes nothing.
    /// </summary>
    public async Task SetChannelPermissionAsync(string channelId, PermissionOverwrite overwrite, CancellationToken cancellationToken)
    {
        using var _ = await SendAsync(
            Route(HttpMethod.Put, "/channels/{channel_id}/permissions/{overwrite_id}", channelId,
                $"/channels/{channelId}/permissions/{overwrite.Id}"),
            () => JsonBody(new SetPermissionOverwriteRequest(overwrite.Type, overwrite.Allow ?? "0", overwrite.Deny ?? "0")),
            true, cancellationToken);
    }

    /// <summary>Drops one permission overwrite of a channel; one already gone counts as done.</summary>
    public async Task DeleteChannelPermissionAsync(string channelId, string overwriteId, CancellationToken cancellationToken)
    {
        try
        {
            using var _ = await SendAsync(
                Route(HttpMethod.Delete, "/channels/{channel_id}/permissions/{overwrite_id}", channelId,
                    $"/channels/{channelId}/permissions/{overwriteId}"), () => null, true, cancellationToken);
        }
        catch (DiscordNotFoundException ex) when (ex.Code != DiscordErrorCode.UnknownChannel)
        {
        }
    }

    public async Task DeleteChannelAsync(string channelId, CancellationToken cancellationToken)
    {
        try
        {
            using var _ = await SendAsync(
                Route(HttpMethod.Delete, "/channels/{channel_id}", channelId, $"/channels/{channelId}"), () => null, true,
                cancellationToken);
        }
        catch (DiscordNotFoundException)
        {
            // Already gone (a retry after a lost answer, or someone deleted it by hand): the goal is reached.
        }
    }

    /// <summary>
    /// Posts a message. Text longer than <see cref="MaxContentLength"/> is refused here (send it as a file).
    /// The same <paramref name="nonce"/> on a retry returns the first message instead of posting again.
    /// </summary>
    public Task<DiscordMessage> CreateMessageAsync(
        string channelId, string? content, DiscordFile? file = null, string? nonce = null, CancellationToken cancellationToken = default)
    {
        CheckContent(content);
        nonce ??= NewNonce();
        if (nonce.Length > MaxNonceLength)
        {
            throw new ArgumentException($"A nonce holds at most {MaxNonceLength} characters.", nameof(nonce));
        }

        var route = Route(HttpMethod.Post, "/channels/{channel_id}/messages", channelId, $"/channels/{channelId}/messages");
        if (file is null)
        {
            return SendJsonAsync<DiscordMessage>(route, new CreateMessageBody(content, nonce, true), true, cancellationToken);
        }


        var payload = new CreateMessageBody(content, nonce, true, [new MessageAttachmentRef("0", file.Filename)]);
        return SendForJsonAsync<DiscordMessage>(route, () => Multipart(payload, file), true, cancellationToken);
    }

    /// <summary>
    /// Posts <paramref name="content"/> as a reply to <paramref name="replyToMessageId"/> that pings nobody, not even
    /// the member replied to: text people or a model wrote is shown, never used to mention anyone. With a
    /// <paramref name="nonce"/> (<see cref="NonceOf"/>), a reply posted with it before is returned as it is instead.
    /// </summary>
    public Task<DiscordMessage> CreateReplyAsync(
        string channelId, string replyToMessageId, string content, string? nonce, CancellationToken cancellationToken)
    {
        CheckContent(content);
        var route = Route(HttpMethod.Post, "/channels/{channel_id}/messages", channelId, $"/channels/{channelId}/messages");
        return SendJsonAsync<DiscordMessage>(route,
            new CreateMessageBody(content, nonce ?? NewNonce(), true, MessageReference: new MessageReference(replyToMessageId),
                AllowedMentions: AllowedMentions.Nobody), true, cancellationToken);
    }

    /// <summary>Replaces a message's text; the new text pings nobody (an edit may add a mention).</summary>
    public Task<DiscordMessage> EditMessageAsync(string channelId, string messageId, string content, CancellationToken cancellationToken)
    {
        CheckContent(content);
        return SendJsonAsync<DiscordMessage>(
            Route(HttpMethod.Patch, "/channels/{channel_id}/messages/{message_id}", channelId,
                $"/channels/{channelId}/messages/{messageId}"),
            new EditMessageBody(content, AllowedMentions.Nobody), true, cancellationToken);
    }

    /// <summary>
    /// A page of a channel's messages, newest first; with <paramref name="after"/>, those after that message id. Each
    /// message is read on its own: one this client cannot read (a field of another type than Discord documents) is
    /// logged by its id and listed in <see cref="DiscordMessagePage.Unreadable"/>, so the rest of the page is still read
    /// and a reader paging forward can go on past it.
    /// </summary>
    public async Task<DiscordMessagePage> ListMessagesAsync(
        string channelId, int limit = 50, string? after = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 100);
        var query = $"?limit={limit.ToString(CultureInfo.InvariantCulture)}" + (after is null ? "" : $"&after={after}");
        var page = await SendJsonAsync<IReadOnlyList<JsonElement>>(
            Route(HttpMethod.Get, "/channels/{channel_id}/messages", channelId, $"/channels/{channelId}/messages{query}"),
            null, true, cancellationToken);
        var messages = new List<DiscordMessage>(page.Count);
        var unreadable = new List<ulong>();
        foreach (var element in page)
        {
            if (ReadMessage(element) is { } message)
            {
                messages.Add(message);
            }
            else
            {
                // Without an id there is nothing to page past: the page cannot be read.
                var id = element.ValueKind == JsonValueKind.Object && element.TryGetProperty("id", out var raw)
                    && raw.ValueKind == JsonValueKind.String
                    && ulong.TryParse(raw.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed)
                        ? parsed
                        : throw new JsonException($"A message of channel {channelId} has no snowflake id.");
                LogUnreadableMessage(logger, id, channelId);
                unreadable.Add(id);
            }
        }

        return new DiscordMessagePage(messages, unreadable);
    }

    /// <summary>A message as Discord sends it, or null when it lacks its id, channel, author or content, or is not valid Unicode.</summary>
    internal static DiscordMessage? ReadMessage(JsonElement element)
    {
        try
        {
            return element.Deserialize<DiscordMessage>(DiscordJson.Options) is { Id: not null, ChannelId: not null, Author: not null,
                Content: not null } message
                ? message
                : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: text that is not valid Unicode, met when a string is made of it.
            return null;
        }
    }

    /// <summary>One message of a channel (its reactions among the rest).</summary>
    public Task<DiscordMessage> GetMessageAsync(string channelId, string messageId, CancellationToken cancellationToken) =>
        SendJsonAsync<DiscordMessage>(
            Route(HttpMethod.Get, "/channels/{channel_id}/messages/{message_id}", channelId,
                $"/channels/{channelId}/messages/{messageId}"),
            null, true, cancellationToken);

    /// <summary>
    /// The members who reacted to a message with the Unicode <paramref name="emoji"/>, by id, those after
    /// <paramref name="after"/> (a user id) first; at most <paramref name="limit"/> (1–100).
    /// </summary>
    public Task<IReadOnlyList<DiscordUser>> ListReactionsAsync(
        string channelId, string messageId, string emoji, string after, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 100);
        var path = $"/channels/{channelId}/messages/{messageId}/reactions/{Uri.EscapeDataString(emoji)}"
                   + $"?after={after}&limit={limit.ToString(CultureInfo.InvariantCulture)}";
        return SendJsonAsync<IReadOnlyList<DiscordUser>>(
            Route(HttpMethod.Get, "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}", channelId, path),
            null, true, cancellationToken);
    }

    public async Task TriggerTypingAsync(string channelId, CancellationToken cancellationToken)
    {
        using var _ = await SendAsync(
            Route(HttpMethod.Post, "/channels/{channel_id}/typing", channelId, $"/channels/{channelId}/typing"),
            () => null, true, cancellationToken);
    }

    /// <summary>Replaces every guild command of the application with <paramref name="commands"/>.</summary>
    public Task<IReadOnlyList<RegisteredCommand>> BulkOverwriteGuildCommandsAsync(
        string applicationId, string guildId, IReadOnlyList<ApplicationCommand> commands, CancellationToken cancellationToken) =>
        SendJsonAsync<IReadOnlyList<RegisteredCommand>>(
            Route(HttpMethod.Put, "/applications/{application_id}/guilds/{guild_id}/commands", guildId,
                $"/applications/{applicationId}/guilds/{guildId}/commands"),
            commands, true, cancellationToken);

    /// <summary>
    /// Answers an interaction (within 3 s). A retry that finds it already acknowledged (40060) counts as done,
    /// since the first attempt reached Discord.
    /// </summary>
    public async Task CreateInteractionResponseAsync(
        string interactionId, string interactionToken, InteractionResponse response, CancellationToken cancellationToken)
    {
        if (response.Data?.Content is { } content)
        {
            CheckContent(content);
        }

        var route = new DiscordRoute(HttpMethod.Post, "/interactions/{interaction_id}/{interaction_token}/callback",
            interactionId, $"/interactions/{interactionId}/{interactionToken}/callback", CountsAgainstGlobal: false);
        var attempt = 0;
        try
        {
            using var _ = await SendAsync(route, () => { attempt++; return JsonBody(response); }, true, cancellationToken);
        }
        catch (DiscordAlreadyAcknowledgedException) when (attempt > 1)
        {
        }
    }

    public Task<DiscordMessage> EditOriginalInteractionResponseAsync(
        string applicationId, string interactionToken, string content, CancellationToken cancellationToken)
    {
        CheckContent(content);
        return SendJsonAsync<DiscordMessage>(
            Route(HttpMethod.Patch, "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
                $"{applicationId}/{interactionToken}", $"/webhooks/{applicationId}/{interactionToken}/messages/@original"),
            new WebhookMessageBody(content), true, cancellationToken);
    }

    public Task<DiscordMessage> CreateFollowupMessageAsync(
        string applicationId, string interactionToken, string content, bool ephemeral, CancellationToken cancellationToken)
    {
        CheckContent(content);
        return SendJsonAsync<DiscordMessage>(
            Route(HttpMethod.Post, "/webhooks/{webhook_id}/{webhook_token}", $"{applicationId}/{interactionToken}",
                $"/webhooks/{applicationId}/{interactionToken}"),
            new WebhookMessageBody(content, ephemeral ? InteractionResponse.Ephemeral : null), false, cancellationToken);
    }

    /// <summary>Downloads an attachment (signed URL, no token sent), refusing anything over <paramref name="maxBytes"/>.</summary>
    public async Task<byte[]> DownloadAttachmentAsync(DiscordAttachment attachment, long maxBytes, CancellationToken cancellationToken)
    {
        if (attachment.Size > maxBytes)
        {
            throw new InvalidDataException($"Attachment of {attachment.Size} bytes is over the {maxBytes}-byte limit.");
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, attachment.Url);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                throw new InvalidDataException($"Attachment is over the {maxBytes}-byte limit.");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private DiscordRoute Route(HttpMethod method, string template, string majorId, string path) => new(method, template, majorId, path);

    private static void CheckContent(string? content)
    {
        if (content is { Length: > MaxContentLength })
        {
            throw new ArgumentException(
                $"Message content holds at most {MaxContentLength} characters (got {content.Length}); send it as a file.",
                nameof(content));
        }
    }

    private async Task<T> SendJsonAsync<T>(DiscordRoute route, object? body, bool retryable, CancellationToken cancellationToken) =>
        await SendForJsonAsync<T>(route, () => body is null ? null : JsonBody(body), retryable, cancellationToken);

    private async Task<T> SendForJsonAsync<T>(
        DiscordRoute route, Func<HttpContent?> content, bool retryable, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(route, content, retryable, cancellationToken);
        return await response.Content.ReadFromJsonAsync<T>(DiscordJson.Options, cancellationToken)
            ?? throw new DiscordApiException(response.StatusCode, DiscordErrorCode.None, 0, "empty answer", route.ToString());
    }

    private static JsonContent JsonBody(object body) => JsonContent.Create(body, body.GetType(), options: DiscordJson.Options);

    private static MultipartFormDataContent Multipart(CreateMessageBody payload, DiscordFile file)
    {
        var multipart = new MultipartFormDataContent();
        var json = new StringContent(JsonSerializer.Serialize(payload, DiscordJson.Options), System.Text.Encoding.UTF8, "application/json");
        multipart.Add(json, "payload_json");
        var bytes = new ReadOnlyMemoryContent(file.Content);
        bytes.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        multipart.Add(bytes, "files[0]", file.Filename);
        return multipart;
    }

    /// <summary>
    /// Discord answers a call within well under a second: one unanswered for longer means the way to it is out now, not
    /// only when the call's own timeout (much longer) runs out. An outage whose calls all hang would otherwise go
    /// unnoticed until it is over: the hosts' heartbeats, hung too, would then look like hosts gone.
    /// </summary>
    public static readonly TimeSpan UnansweredAfter = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Tells the relay's transport health the way is out once the call under way has gone <see cref="UnansweredAfter"/>
    /// without an answer (from when it was sent); the answer, when it comes, ends the outage as any answer does.
    /// </summary>
    private ITimer? NoteIfUnanswered() => transport is null
        ? null
        : time.CreateTimer(static state => ((Application.Relay.RelayTransportHealth)state!).Unreachable(UnansweredAfter),
            transport, UnansweredAfter, Timeout.InfiniteTimeSpan);

    /// <summary>
    /// Sends with rate limiting and retries. <paramref name="retryable"/>: whether a 5xx or a lost connection may be
    /// retried (the request is idempotent or de-duplicated by a nonce). A 429 is always retried: Discord did nothing; it
    /// gives up after <see cref="MaxAttempts"/> 429s spread over at least <see cref="RateLimitPatience"/>.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(
        DiscordRoute route, Func<HttpContent?> content, bool retryable, CancellationToken cancellationToken)
    {
        long? firstRateLimited = null;
        for (var attempt = 1; ; attempt++)
        {
            var lease = await limiter.AcquireAsync(route, cancellationToken);
            HttpResponseMessage response;
            using var request = new HttpRequestMessage(route.Method, _baseUrl + route.Path) { Content = content() };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bot", options.BotToken);
            request.Headers.TryAddWithoutValidation("User-Agent", s_userAgent);
            var sent = time.GetTimestamp();
            try
            {
                using (NoteIfUnanswered())
                {
                    response = await http.SendAsync(request, cancellationToken);
                }

                metrics?.Answered(route, response.StatusCode);
                if ((int)response.StatusCode >= 500)
                {
                    transport?.Unreachable(time.GetElapsedTime(sent));
                }
                else
                {
                    transport?.Reachable();
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException
                                       && !cancellationToken.IsCancellationRequested)
            {
                // No answer, or none within the client's timeout: the way to Discord is out since this call was made.
                transport?.Unreachable(time.GetElapsedTime(sent));
                metrics?.Answered(route, null);
                lease.Abandon();
                if (ex is not HttpRequestException || !retryable || attempt >= MaxAttempts)
                {
                    throw;
                }

                LogRetry(logger, route.ToString(), attempt, ex.Message);
                await Task.Delay(Backoff(attempt), time, cancellationToken);
                continue;
            }
            catch
            {
                lease.Abandon();
                throw;
            }

            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                var (retryAfter, global) = await ReadRateLimitAsync(response, cancellationToken);
                lease.Complete(response, retryAfter, global);
                metrics?.RateLimited(route, global);
                response.Dispose();
                LogRateLimited(logger, route.ToString(), retryAfter.TotalMilliseconds, global);
                firstRateLimited ??= time.GetTimestamp();
                if (attempt >= MaxAttempts && time.GetElapsedTime(firstRateLimited.Value) >= RateLimitPatience)
                {
                    throw new DiscordRateLimitedException(route.ToString(), retryAfter);
                }

                continue;
            }

            lease.Complete(response);
            if (response.IsSuccessStatusCode)
            {
                return response;
            }

            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var status = response.StatusCode;
            response.Dispose();
            if ((int)status >= 500 && retryable && attempt < MaxAttempts)
            {
                LogRetry(logger, route.ToString(), attempt, $"HTTP {(int)status}");
                await Task.Delay(Backoff(attempt), time, cancellationToken);
                continue;
            }

            throw DiscordApiException.From(status, body, route.ToString());
        }
    }

    /// <summary>The longest wait between two attempts of one call (<see cref="Backoff"/>, its jitter included).</summary>
    public static readonly TimeSpan LongestBackoff = TimeSpan.FromMilliseconds(5000 * 1.25);

    private static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Math.Min(5000, 200 * Math.Pow(2, attempt - 1)) * (0.75 + Random.Shared.NextDouble() / 2));

    private static async Task<(TimeSpan RetryAfter, bool Global)> ReadRateLimitAsync(
        HttpResponseMessage response, CancellationToken cancellationToken)
    {
        double? seconds = null;
        var global = response.Headers.TryGetValues("X-RateLimit-Global", out var g) && g.Any(v => v == "true");
        try
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.TryGetProperty("retry_after", out var r) && r.ValueKind == JsonValueKind.Number)
            {
                seconds = r.GetDouble();
            }

            if (document.RootElement.TryGetProperty("global", out var gl) && gl.ValueKind == JsonValueKind.True)
            {
                global = true;
            }
        }
        catch (JsonException)
        {
            // Cloudflare's own 429 has no JSON body; Retry-After still tells how long.
        }

        seconds ??= response.Headers.RetryAfter?.Delta?.TotalSeconds
            ?? (double.TryParse(response.Headers.TryGetValues("Retry-After", out var ra) ? ra.FirstOrDefault() : null,
                NumberStyles.Float, CultureInfo.InvariantCulture, out var header) ? header : 1);
        return (TimeSpan.FromSeconds(Math.Max(0, seconds.Value)), global);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Discord {Route}: attempt {Attempt} failed ({Reason}); retrying")]
    private static partial void LogRetry(ILogger logger, string route, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Discord message {MessageId} of channel {ChannelId} could not be read; it is skipped")]
    private static partial void LogUnreadableMessage(ILogger logger, ulong messageId, string channelId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Discord {Route}: rate limited for {RetryAfterMs} ms (global: {Global})")]
    private static partial void LogRateLimited(ILogger logger, string route, double retryAfterMs, bool global);
}
