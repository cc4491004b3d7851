using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Telegram;

/// <summary>
/// The Bot API methods the bot uses, as JSON POSTs to <c>{ApiBaseUrl}/bot{token}/{method}</c>. The token is in the
/// path, so this client is built on a plain <see cref="HttpClient"/> (no IHttpClientFactory, whose logging handlers
/// print request URLs) and nothing it logs or throws holds the URL. A 429 is waited out (Telegram's
/// <c>retry_after</c>) a few times before it is given up.
/// </summary>
public sealed partial class TelegramBotClient(
    HttpClient http, TelegramOptions options, TimeProvider time, ILogger<TelegramBotClient> logger)
{
    private const int MaxFloodWaits = 3;
    private static readonly TimeSpan MaxFloodWait = TimeSpan.FromSeconds(60);

    public Task<TelegramUser> GetMeAsync(CancellationToken cancellationToken) =>
        CallAsync<TelegramUser>("getMe", new JsonObject(), cancellationToken);

    /// <summary>
    /// Long polling: updates from <paramref name="offset"/> on (which confirms every earlier one), waiting up to
    /// <paramref name="timeoutSeconds"/> for one to arrive. Only messages are asked for.
    /// </summary>
    public async Task<IReadOnlyList<TelegramUpdate>> GetUpdatesAsync(long offset, int limit, int timeoutSeconds,
        CancellationToken cancellationToken)
    {
        var updates = await CallAsync<IReadOnlyList<JsonElement>>("getUpdates", new JsonObject
        {
            ["offset"] = offset,
            ["limit"] = limit,
            ["timeout"] = timeoutSeconds,
            // message_reaction is sent only to a bot that asks for it: 👍/👎 on an answer rate it.
            ["allowed_updates"] = new JsonArray("message", "message_reaction"),
        }, cancellationToken, retryFlood: false);
        var read = updates.Select(Read).OfType<TelegramUpdate>().ToList();
        // Nothing to confirm it by: failed as a poll fails, so that the poller waits before it asks again.
        return read.Count > 0 || updates.Count == 0
            ? read
            : throw new TelegramApiException("getUpdates", 0, "no update of the batch has a readable update_id");
    }

    /// <summary>
    /// One update, read on its own. Text with half a surrogate pair escaped alone (valid JSON, not valid Unicode) is
    /// read with U+FFFD in its place, so the member is still answered. An update this bot cannot read at all (a field
    /// of another type) comes back as its id alone, which is confirmed and ignored like an update of a kind the bot does
    /// not handle — rather than failing the whole batch, which Telegram would send again and again. One without even a
    /// readable <c>update_id</c> (Telegram always sends one) is left out (null): the next update's offset confirms it;
    /// a batch of only such updates fails as a whole.
    /// </summary>
    private TelegramUpdate? Read(JsonElement update)
    {
        try
        {
            return update.Deserialize<TelegramUpdate>(TelegramJson.Options) ?? throw new JsonException("The update is null.");
        }
        catch (JsonException)
        {
            var text = update.GetRawText();
            var repaired = LoneSurrogates.Repair(text);
            if (!ReferenceEquals(repaired, text) && TryRead(repaired) is { } read)
            {
                return read;
            }

            if (update.ValueKind == JsonValueKind.Object && update.TryGetProperty("update_id", out var id)
                                                        && id.ValueKind == JsonValueKind.Number && id.TryGetInt64(out var updateId))
            {
                LogUnreadable(logger, updateId);
                return new TelegramUpdate(updateId);
            }

            LogWithoutId(logger);
            return null;
        }
    }

    private static TelegramUpdate? TryRead(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<TelegramUpdate>(json, TelegramJson.Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Posts <paramref name="text"/>, as a reply when <paramref name="replyToMessageId"/> is given (sent anyway if that message is gone).</summary>
    public Task<TelegramMessage> SendMessageAsync(long chatId, string text, long? replyToMessageId, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["chat_id"] = chatId, ["text"] = text };
        if (replyToMessageId is { } replyTo)
        {
            body["reply_parameters"] = new JsonObject { ["message_id"] = replyTo, ["allow_sending_without_reply"] = true };
        }

        return CallAsync<TelegramMessage>("sendMessage", body, cancellationToken);
    }

    /// <summary>Replaces a message's text; an edit to the same text is no error here (Telegram's "message is not modified").</summary>
    public async Task EditMessageTextAsync(long chatId, long messageId, string text, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync<JsonNode>("editMessageText",
                new JsonObject { ["chat_id"] = chatId, ["message_id"] = messageId, ["text"] = text }, cancellationToken);
        }
        catch (TelegramApiException ex) when (ex.IsNotModified)
        {
        }
    }

    public Task SendChatActionAsync(long chatId, string action, CancellationToken cancellationToken) =>
        CallAsync<bool>("sendChatAction", new JsonObject { ["chat_id"] = chatId, ["action"] = action }, cancellationToken);

    public Task SetMyCommandsAsync(IReadOnlyList<TelegramBotCommand> commands, CancellationToken cancellationToken) =>
        CallAsync<bool>("setMyCommands", new JsonObject
        {
            ["commands"] = JsonSerializer.SerializeToNode(commands, TelegramJson.Options),
        }, cancellationToken);

    private async Task<T> CallAsync<T>(string method, JsonObject body, CancellationToken cancellationToken, bool retryFlood = true)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await SendAsync<T>(method, body, cancellationToken);
            }
            catch (TelegramApiException ex) when (retryFlood && ex.RetryAfter is { } wait && attempt < MaxFloodWaits && wait <= MaxFloodWait)
            {
                LogFlood(logger, method, (int)wait.TotalSeconds);
                await Task.Delay(wait, time, cancellationToken);
            }
        }
    }

    private async Task<T> SendAsync<T>(string method, JsonObject body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{options.ApiBaseUrl}/bot{options.BotToken}/{method}")
        {
            Content = JsonContent.Create(body),
        };
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            // The inner exception is left out: some carry the request URI.
            throw new TelegramApiException(method, 0, $"no answer ({ex.HttpRequestError})");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TelegramApiException(method, 0, "no answer in time");
        }

        using (response)
        {
            Envelope<T>? envelope;
            try
            {
                envelope = await response.Content.ReadFromJsonAsync<Envelope<T>>(TelegramJson.Options, cancellationToken);
            }
            catch (JsonException)
            {
                envelope = null;
            }

            if (envelope is { Ok: true, Result: { } result })
            {
                return result;
            }

            var code = envelope?.ErrorCode ?? (int)response.StatusCode;
            var retryAfter = envelope?.Parameters?.RetryAfter is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
            throw new TelegramApiException(method, code, envelope?.Description ?? $"HTTP {(int)response.StatusCode}", retryAfter);
        }
    }

    private sealed record Envelope<T>(bool Ok, T? Result, int? ErrorCode, string? Description, ResponseParameters? Parameters);

    private sealed record ResponseParameters(int? RetryAfter);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram update {UpdateId} could not be read; it is skipped")]
    private static partial void LogUnreadable(ILogger logger, long updateId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A Telegram update without a readable update_id was skipped")]
    private static partial void LogWithoutId(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram asked to wait {Seconds} s before the next {Method} (429)")]
    private static partial void LogFlood(ILogger logger, string method, int seconds);
}
