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

    private FakeTelegramServer(WebApplication app, string? secret)
    {
        _app = app;
        Bot = new FakeUser(NextUserId(), "MeatLizard", "meatlizard_test_bot", IsBot: true);
        secret ??= Convert.ToBase64String(Guid.NewGuid().ToByteArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_') + "AAx";
        Token = $"{Bot.Id}:{secret}";
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

    /// <param name="secret">The token's part after the bot's id; random unless a test needs a particular one.</param>
    public static async Task<FakeTelegramServer> StartAsync(string? secret = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var fake = new FakeTelegramServer(app, secret);
        // "https://api.telegram.org/bot<token>/METHOD_NAME". Not a "bot{token}" route template: ASP.NET matches such a
        // segment's literal from the right, case-insensitively, so a random token holding "bot" (about one in 1,600)
        // would not reach the method at all.
        app.Map("/{botToken}/{method}", (HttpContext context, string botToken, string method) =>
            botToken.StartsWith("bot", StringComparison.Ordinal)
                ? fake.HandleAsync(context, botToken["bot".Length..], method)
                : Answer(context, 404, Error(404, "Not Found")));
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

    /// <summary>
    /// A message update whose fields do not fit the Bot API's types (its <c>date</c> is text): what Telegram never
    /// sends, for tests of a bot that meets an update it cannot read. Returns its update_id.
    /// </summary>
    public long SayUnreadable(FakeUser from, FakeChat chat)
    {
        lock (_lock)
        {
            var message = AddMessage(chat, from, "unreadable", null).ToJson();
            message["date"] = "yesterday";
            var updateId = ++_nextUpdateId;
            _updates.Add((updateId, new JsonObject { ["update_id"] = updateId, ["message"] = message }));
            _updateArrived.TrySetResult();
            _updateArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return updateId;
        }
    }

    /// <summary>
    /// A message update sent without its <c>update_id</c> (<paramref name="asText"/>: with it as text), which Telegram
    /// never does: for tests of a bot that meets one. It keeps its place in the queue and is dropped when a later update
    /// is confirmed.
    /// </summary>
    public void SayWithoutUpdateId(FakeUser from, FakeChat chat, bool asText = false)
    {
        lock (_lock)
        {
            var message = AddMessage(chat, from, "no update_id", null).ToJson();
            var updateId = ++_nextUpdateId;
            var update = new JsonObject { ["message"] = message };
            if (asText)
            {
                update["update_id"] = $"update {updateId}";
            }

            _updates.Add((updateId, update));
            _updateArrived.TrySetResult();
            _updateArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
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

    /// <summary>
    /// Long polls ended with 409 because another getUpdates came meanwhile (two bot instances polling); a poll whose
    /// client went away first (killed, stopped) is not one.
    /// </summary>
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

    private static readonly string[] Methods = ["getMe", "getUpdates", "sendMessage", "editMessageText", "sendChatAction", "setMyCommands"];

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

        // "All methods in the Bot API are case-insensitive."
        method = Methods.FirstOrDefault(known => string.Equals(known, method, StringComparison.OrdinalIgnoreCase)) ?? method;
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
