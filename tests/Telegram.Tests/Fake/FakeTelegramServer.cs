using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Telegram.Tests.Fake;

/// <summary>A person or bot on the fake Telegram.</summary>
public sealed record FakeUser(long Id, string FirstName, string? Username, bool IsBot)
{
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["id"] = Id, ["is_bot"] = IsBot, ["first_name"] = FirstName };
        if (Username is not null)
        {
            json["username"] = Username;
        }

        return json;
    }
}

public sealed record FakeChat(long Id, string Type, string? Title)
{
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["id"] = Id, ["type"] = Type };
        if (Title is not null)
        {
            json["title"] = Title;
        }

        return json;
    }
}

public sealed class FakeMessage(long messageId, FakeChat chat, FakeUser from, string text, FakeMessage? replyTo)
{
    public long MessageId { get; } = messageId;

    public FakeChat Chat { get; } = chat;

    public FakeUser From { get; } = from;

    public string Text { get; set; } = text;

    public FakeMessage? ReplyTo { get; } = replyTo;

    /// <summary>Every text the message has had, the first one included.</summary>
    public List<string> Versions { get; } = [text];

    public JsonObject ToJson(bool withReply = true)
    {
        var json = new JsonObject
        {
            ["message_id"] = MessageId,
            ["from"] = From.ToJson(),
            ["chat"] = Chat.ToJson(),
            ["date"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["text"] = Text,
        };
        var entities = FakeTelegramServer.EntitiesOf(Text);
        if (entities.Count > 0)
        {
            json["entities"] = entities;
        }

        if (withReply && ReplyTo is not null)
        {
            // Telegram nests the replied-to message one level deep only.
            json["reply_to_message"] = ReplyTo.ToJson(withReply: false);
        }

        return json;
    }
}

/// <summary>One Bot API call as the fake saw it: the method, its parameters (JSON, whatever the encoding) and the answer's code.</summary>
public sealed record FakeCall(string Method, JsonObject Parameters, int Status, DateTimeOffset At);

/// <summary>
/// A loopback Telegram Bot API written from https://core.telegram.org/bots/api: <c>/bot&lt;token&gt;/&lt;method&gt;</c>
/// over GET or POST with a query string, JSON, urlencoded or multipart body (JSON-typed parameters as JSON text in the
/// forms), answers <c>{"ok":true,"result":…}</c> or <c>{"ok":false,"error_code":…,"description":…}</c>. 401 for an
/// unknown token, 404 for an unknown method; sendMessage and editMessageText refuse empty and over-4,096-character
/// texts and an edit that changes nothing; replies must name a message of the chat unless
/// <c>allow_sending_without_reply</c>; message ids count per chat; update ids increase; getUpdates confirms (forgets)
/// every update below its offset, long-polls up to its timeout, and a second concurrent getUpdates ends the first
/// with 409. Messages in one chat are limited as Telegram documents for bots (about one per second, bursts allowed;
/// 20 per minute in a group): beyond it, 429 with <c>parameters.retry_after</c>.
/// </summary>
public sealed partial class FakeTelegramServer : IAsyncDisposable
{
    public const int MaxText = 4096;

    private static readonly string[] ChatActions =
    [
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice", "upload_document",
        "choose_sticker", "find_location", "record_video_note", "upload_video_note",
    ];

    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly Dictionary<long, FakeChat> _chats = [];
    private readonly Dictionary<long, List<FakeMessage>> _messages = [];
    private readonly Dictionary<long, HashSet<long>> _members = [];
    private readonly List<(long UpdateId, JsonObject Update)> _updates = [];
    private readonly Dictionary<long, List<DateTimeOffset>> _sent = [];
    private readonly ConcurrentQueue<FakeCall> _calls = new();
    private readonly ConcurrentQueue<int> _floods = new();
    private TaskCompletionSource _updateArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource? _activePoll;
    private long _nextUpdateId = 100_000;
    private long _nextUserId = 5_000_000;
    private long _nextGroupId = 4_000_000;

    private FakeTelegramServer(WebApplication app)
    {
        _app = app;
        Bot = new FakeUser(NextUserId(), "MeatLizard", "meatlizard_test_bot", IsBot: true);
        Token = $"{Bot.Id}:{Convert.ToBase64String(Guid.NewGuid().ToByteArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_')}AAx";
    }

    public string BaseUrl { get; private set; } = "";

    public FakeUser Bot { get; }

    public string Token { get; }

    /// <summary>The longest a getUpdates waits here, whatever its timeout (keeps stopped tests short).</summary>
    public TimeSpan MaxPollWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Whether the per-chat flood limits apply.</summary>
    public bool EnforceFloodLimits { get; set; } = true;

    /// <summary>
    /// Shrinks the flood limits' windows (2 s for a burst, a minute for a group's 20 messages) by this factor, so a
    /// test can meet the group limit in seconds; the bot's pace is scaled by the same factor.
    /// </summary>
    public double FloodTimeScale { get; set; } = 1;

    public IReadOnlyList<FakeCall> Calls => [.. _calls];

    public static async Task<FakeTelegramServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var fake = new FakeTelegramServer(app);
        app.Map("/bot{token}/{method}", fake.HandleAsync);
        app.MapFallback(context => Answer(context, 404, Error(404, "Not Found")));
        await app.StartAsync();
        fake.BaseUrl = app.Urls.First().TrimEnd('/');
        return fake;
    }

    public FakeUser AddUser(string firstName, string? username = null) =>
        new(NextUserId(), firstName, username, IsBot: false);

    /// <summary>The private chat of <paramref name="user"/> with the bot (its id is the user's id).</summary>
    public FakeChat PrivateChat(FakeUser user)
    {
        lock (_lock)
        {
            var chat = new FakeChat(user.Id, "private", null);
            _chats[chat.Id] = chat;
            _members[chat.Id] = [user.Id, Bot.Id];
            return chat;
        }
    }

    /// <summary>A group (negative id) or supergroup (-100… id) with the bot and <paramref name="people"/> in it.</summary>
    public FakeChat Group(string title, bool super, params FakeUser[] people)
    {
        lock (_lock)
        {
            var n = ++_nextGroupId;
            var chat = new FakeChat(super ? -1_000_000_000_000 - n : -n, super ? "supergroup" : "group", title);
            _chats[chat.Id] = chat;
            _members[chat.Id] = [Bot.Id, .. people.Select(p => p.Id)];
            return chat;
        }
    }

    /// <summary><paramref name="from"/> writes in <paramref name="chat"/>: a message update for the bot.</summary>
    public FakeMessage Say(FakeUser from, FakeChat chat, string text, FakeMessage? replyTo = null)
    {
        lock (_lock)
        {
            var message = AddMessage(chat, from, text, replyTo);
            var updateId = ++_nextUpdateId;
            _updates.Add((updateId, new JsonObject { ["update_id"] = updateId, ["message"] = message.ToJson() }));
            _updateArrived.TrySetResult();
            _updateArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return message;
        }
    }

    public IReadOnlyList<FakeMessage> Messages(FakeChat chat)
    {
        lock (_lock)
        {
            return _messages.TryGetValue(chat.Id, out var list) ? [.. list] : [];
        }
    }

    /// <summary>The bot's messages in <paramref name="chat"/>, oldest first.</summary>
    public IReadOnlyList<FakeMessage> BotMessages(FakeChat chat) => [.. Messages(chat).Where(m => m.From.Id == Bot.Id)];

    /// <summary>getUpdates calls so far.</summary>
    public int Polls => Volatile.Read(ref _polls);

    /// <summary>Long polls ended with 409 because another getUpdates came meanwhile (two bot instances polling).</summary>
    public int PollConflicts => Volatile.Read(ref _pollConflicts);

    private int _polls;
    private int _pollConflicts;

    /// <summary>Updates Telegram still holds (not yet confirmed by a getUpdates with a higher offset).</summary>
    public IReadOnlyList<long> UnconfirmedUpdateIds
    {
        get
        {
            lock (_lock)
            {
                return [.. _updates.Select(u => u.UpdateId)];
            }
        }
    }

    /// <summary>The next <paramref name="count"/> message-sending calls get 429 with this retry_after.</summary>
    public void Flood(int count, int retryAfterSeconds)
    {
        for (var i = 0; i < count; i++)
        {
            _floods.Enqueue(retryAfterSeconds);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>
    /// The entities Telegram finds in a text it receives: <c>bot_command</c> (a /command at the start) and
    /// <c>mention</c> (@username of 5–32 characters), offsets and lengths in UTF-16 code units.
    /// </summary>
    public static JsonArray EntitiesOf(string text)
    {
        var entities = new JsonArray();
        foreach (Match match in CommandPattern().Matches(text))
        {
            entities.Add(new JsonObject { ["type"] = "bot_command", ["offset"] = match.Index, ["length"] = match.Length });
        }

        foreach (Match match in MentionPattern().Matches(text))
        {
            entities.Add(new JsonObject { ["type"] = "mention", ["offset"] = match.Index, ["length"] = match.Length });
        }

        return entities;
    }

    private async Task HandleAsync(HttpContext context, string token, string method)
    {
        JsonObject parameters;
        try
        {
            parameters = await ReadParametersAsync(context.Request);
        }
        catch (JsonException)
        {
            await Record(context, method, [], 400, Error(400, "Bad Request: can't parse JSON object"));
            return;
        }

        if (token != Token)
        {
            await Record(context, method, parameters, 401, Error(401, "Unauthorized"));
            return;
        }

        var (status, body) = method switch
        {
            "getMe" => (200, Ok(Bot.ToJson())),
            "getUpdates" => await GetUpdatesAsync(parameters, context.RequestAborted),
            "sendMessage" => SendMessage(parameters),
            "editMessageText" => EditMessageText(parameters),
            "sendChatAction" => SendChatAction(parameters),
            "setMyCommands" => SetMyCommands(parameters),
            _ => (404, Error(404, "Not Found")),
        };
        await Record(context, method, parameters, status, body);
    }

    private async Task Record(HttpContext context, string method, JsonObject parameters, int status, JsonObject body)
    {
        _calls.Enqueue(new FakeCall(method, parameters, status, DateTimeOffset.UtcNow));
        await Answer(context, status, body);
    }

    private static async Task Answer(HttpContext context, int status, JsonObject body)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString());
    }

    private async Task<(int, JsonObject)> GetUpdatesAsync(JsonObject parameters, CancellationToken aborted)
    {
        if (!Integer(parameters, "offset", out var offset, 0) || !Integer(parameters, "limit", out var limit, 100) ||
            !Integer(parameters, "timeout", out var timeout, 0))
        {
            return (400, Error(400, "Bad Request: wrong parameter in request"));
        }

        // "Values between 1-100 are accepted": Telegram clamps others rather than refusing them.
        limit = Math.Clamp(limit, 1, 100);
        Interlocked.Increment(ref _polls);
        using var poll = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        CancellationTokenSource? previous;
        lock (_lock)
        {
            previous = _activePoll;
            _activePoll = poll;
        }

        previous?.Cancel();
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(Math.Min(timeout, MaxPollWait.TotalSeconds));
        while (true)
        {
            Task arrived;
            lock (_lock)
            {
                // An update below the offset is confirmed: Telegram forgets it. A negative offset keeps the last -offset.
                if (offset < 0)
                {
                    _updates.RemoveRange(0, Math.Max(0, _updates.Count + (int)offset));
                }
                else if (offset > 0)
                {
                    _updates.RemoveAll(u => u.UpdateId < offset);
                }

                var batch = _updates.Take((int)limit).Select(u => u.Update.DeepClone()).ToArray();
                if (batch.Length > 0 || DateTimeOffset.UtcNow >= deadline)
                {
                    ClearPoll(poll);
                    return (200, Ok(new JsonArray(batch)));
                }

                arrived = _updateArrived.Task;
            }

            try
            {
                await arrived.WaitAsync(deadline - DateTimeOffset.UtcNow, poll.Token);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException)
            {
                ClearPoll(poll);
                Interlocked.Increment(ref _pollConflicts);
                return (409, Error(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"));
            }
        }
    }

    private void ClearPoll(CancellationTokenSource poll)
    {
        lock (_lock)
        {
            if (_activePoll == poll)
            {
                _activePoll = null;
            }
        }
    }

    private (int, JsonObject) SendMessage(JsonObject parameters)
    {
        lock (_lock)
        {
            if (FindChat(parameters, out var chat) is { } refused)
            {
                return refused;
            }

            var text = parameters["text"]?.ToString();
            if (string.IsNullOrWhiteSpace(text))
            {
                return (400, Error(400, "Bad Request: message text is empty"));
            }

            if (text.Length > MaxText)
            {
                return (400, Error(400, "Bad Request: message is too long"));
            }

            FakeMessage? replyTo = null;
            var reply = parameters["reply_parameters"] as JsonObject;
            var replyId = reply?["message_id"] ?? parameters["reply_to_message_id"];
            if (replyId is not null)
            {
                if (!long.TryParse(replyId.ToString(), CultureInfo.InvariantCulture, out var id))
                {
                    return (400, Error(400, "Bad Request: wrong parameter in request"));
                }

                replyTo = _messages.GetValueOrDefault(chat!.Id)?.FirstOrDefault(m => m.MessageId == id);
                var allowWithout = reply?["allow_sending_without_reply"]?.GetValue<bool>() == true ||
                                   parameters["allow_sending_without_reply"]?.ToString() is "true" or "True";
                if (replyTo is null && !allowWithout)
                {
                    return (400, Error(400, "Bad Request: message to be replied not found"));
                }
            }

            if (Flooded(chat!) is { } flood)
            {
                return flood;
            }

            var message = AddMessage(chat!, Bot, text, replyTo);
            return (200, Ok(message.ToJson()));
        }
    }

    private (int, JsonObject) EditMessageText(JsonObject parameters)
    {
        lock (_lock)
        {
            if (parameters["inline_message_id"] is null && parameters["message_id"] is null)
            {
                return (400, Error(400, "Bad Request: message identifier is not specified"));
            }

            if (FindChat(parameters, out var chat) is { } refused)
            {
                return refused;
            }

            if (!long.TryParse(parameters["message_id"]!.ToString(), CultureInfo.InvariantCulture, out var id))
            {
                return (400, Error(400, "Bad Request: wrong parameter in request"));
            }

            var text = parameters["text"]?.ToString();
            if (string.IsNullOrWhiteSpace(text))
            {
                return (400, Error(400, "Bad Request: text must be non-empty"));
            }

            if (text.Length > MaxText)
            {
                return (400, Error(400, "Bad Request: MESSAGE_TOO_LONG"));
            }

            var message = _messages.GetValueOrDefault(chat!.Id)?.FirstOrDefault(m => m.MessageId == id);
            if (message is null)
            {
                return (400, Error(400, "Bad Request: message to edit not found"));
            }

            if (message.From.Id != Bot.Id)
            {
                return (400, Error(400, "Bad Request: message can't be edited"));
            }

            if (message.Text == text)
            {
                return (400, Error(400,
                    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"));
            }

            if (Flooded(chat) is { } flood)
            {
                return flood;
            }

            message.Text = text;
            message.Versions.Add(text);
            return (200, Ok(message.ToJson()));
        }
    }

    private (int, JsonObject) SendChatAction(JsonObject parameters)
    {
        lock (_lock)
        {
            if (FindChat(parameters, out _) is { } refused)
            {
                return refused;
            }

            return ChatActions.Contains(parameters["action"]?.ToString())
                ? (200, Ok(JsonValue.Create(true)))
                : (400, Error(400, "Bad Request: wrong parameter action in request"));
        }
    }

    private static (int, JsonObject) SetMyCommands(JsonObject parameters)
    {
        if (parameters["commands"] is not JsonArray commands)
        {
            return (400, Error(400, "Bad Request: parameter \"commands\" is required"));
        }

        if (commands.Count > 100)
        {
            return (400, Error(400, "Bad Request: too many commands"));
        }

        foreach (var entry in commands)
        {
            var command = entry?["command"]?.ToString() ?? "";
            var description = entry?["description"]?.ToString() ?? "";
            if (!CommandNamePattern().IsMatch(command) || description.Length is < 1 or > 256)
            {
                return (400, Error(400, "Bad Request: BOT_COMMAND_INVALID"));
            }
        }

        return (200, Ok(JsonValue.Create(true)));
    }

    /// <summary>
    /// The chat named by chat_id (an integer, or its decimal text): 400 "chat not found" when there is none or the bot
    /// is not in it.
    /// </summary>
    private (int, JsonObject)? FindChat(JsonObject parameters, out FakeChat? chat)
    {
        chat = null;
        var raw = parameters["chat_id"]?.ToString();
        if (raw is null)
        {
            return (400, Error(400, "Bad Request: chat_id is empty"));
        }

        if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id) ||
            !_chats.TryGetValue(id, out chat) || !_members[id].Contains(Bot.Id))
        {
            return (400, Error(400, "Bad Request: chat not found"));
        }

        return null;
    }

    /// <summary>
    /// Telegram's documented pace for bots: no more than about one message per second in a chat (a burst of three is
    /// let through), and at most 20 per minute in a group.
    /// </summary>
    private (int, JsonObject)? Flooded(FakeChat chat)
    {
        if (_floods.TryDequeue(out var injected))
        {
            return Flood(injected);
        }

        if (!EnforceFloodLimits)
        {
            return null;
        }

        var now = DateTimeOffset.UtcNow;
        var burstWindow = TimeSpan.FromSeconds(2) * FloodTimeScale;
        var groupWindow = TimeSpan.FromMinutes(1) * FloodTimeScale;
        var sent = _sent.TryGetValue(chat.Id, out var list) ? list : _sent[chat.Id] = [];
        sent.RemoveAll(at => now - at > groupWindow);
        var lastThree = sent.Count >= 3 ? sent[^3] : (DateTimeOffset?)null;
        if (lastThree is { } third && now - third < burstWindow)
        {
            return Flood(Math.Max(1, (int)Math.Ceiling((third + burstWindow - now).TotalSeconds)));
        }

        if (chat.Type != "private" && sent.Count >= 20)
        {
            return Flood(Math.Max(1, (int)Math.Ceiling((sent[^20] + groupWindow - now).TotalSeconds)));
        }

        sent.Add(now);
        return null;
    }

    private static (int, JsonObject) Flood(int retryAfter)
    {
        var error = Error(429, $"Too Many Requests: retry after {retryAfter.ToString(CultureInfo.InvariantCulture)}");
        error["parameters"] = new JsonObject { ["retry_after"] = retryAfter };
        return (429, error);
    }

    private FakeMessage AddMessage(FakeChat chat, FakeUser from, string text, FakeMessage? replyTo)
    {
        var list = _messages.TryGetValue(chat.Id, out var existing) ? existing : _messages[chat.Id] = [];
        // Message ids count per chat.
        var message = new FakeMessage(list.Count + 1, chat, from, text, replyTo);
        list.Add(message);
        return message;
    }

    private long NextUserId() => Interlocked.Increment(ref _nextUserId);

    private static async Task<JsonObject> ReadParametersAsync(HttpRequest request)
    {
        var parameters = new JsonObject();
        foreach (var (key, value) in request.Query)
        {
            parameters[key] = FormValue(value.ToString());
        }

        if (request.ContentType is { } type && type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            var body = await JsonNode.ParseAsync(request.Body) as JsonObject ?? throw new JsonException("not an object");
            foreach (var (key, value) in body)
            {
                parameters[key] = value?.DeepClone();
            }
        }
        else if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync();
            foreach (var (key, value) in form)
            {
                parameters[key] = FormValue(value.ToString());
            }
        }

        return parameters;
    }

    /// <summary>A form or query value: JSON-typed parameters (objects, arrays) arrive as JSON text; others as plain text.</summary>
    private static JsonNode? FormValue(string value) =>
        value.StartsWith('{') || value.StartsWith('[') ? JsonNode.Parse(value) : JsonValue.Create(value);

    private static bool Integer(JsonObject parameters, string name, out long value, long fallback)
    {
        value = fallback;
        return parameters[name] is not { } node || long.TryParse(node.ToString(), CultureInfo.InvariantCulture, out value);
    }

    private static JsonObject Ok(JsonNode result) => new() { ["ok"] = true, ["result"] = result };

    private static JsonObject Error(int code, string description) =>
        new() { ["ok"] = false, ["error_code"] = code, ["description"] = description };

    [GeneratedRegex("^/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{5,32})?")]
    private static partial Regex CommandPattern();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])@[A-Za-z0-9_]{5,32}")]
    private static partial Regex MentionPattern();

    [GeneratedRegex("^[a-z0-9_]{1,32}$")]
    private static partial Regex CommandNamePattern();
}
