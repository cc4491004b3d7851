using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Discord.Tests.Fake;

/// <summary>A bot account on the fake Discord.</summary>
public sealed record FakeBot(string UserId, string Username, string Token, string ApplicationId)
{
    /// <summary>Whether the Developer Portal has the MESSAGE_CONTENT intent enabled (else IDENTIFY closes 4014).</summary>
    public bool MessageContentAllowed { get; set; } = true;

    /// <summary>When set, heartbeats are not acknowledged (to make the client see a zombie connection).</summary>
    public bool SuppressHeartbeatAcks { get; set; }

    /// <summary>Whether the bot is a member of the fake's guild (an invited bot is).</summary>
    public bool InGuild { get; set; } = true;

    /// <summary>The id of the bot's own managed role, which Discord makes when the bot is invited.</summary>
    public string RoleId { get; init; } = "";

    /// <summary>
    /// The permissions of the bot's managed role (those its invite asked for, or an admin gave it later). By default
    /// Manage Channels, Manage Roles, View Channels, Send Messages, Attach Files and Read Message History.
    /// </summary>
    public ulong RolePermissions { get; set; } = FakeDiscordServer.ManageChannels | FakeDiscordServer.ManageRoles | 1024 | 2048 | 32768 | 65536;
}

public sealed record FakeChannel(string Id, string Name, int Type, string? ParentId, string? Topic, JsonArray Overwrites);

public sealed record FakeAttachment(string Id, string Filename, byte[] Content);

public sealed record FakeMessage(string Id, string ChannelId, string AuthorId, string Content, FakeAttachment? Attachment, string? Nonce)
{
    private readonly List<string> _versions = [Content];
    private string _content = Content;

    public string Content
    {
        get => _content;
        set
        {
            _content = value;
            lock (_versions)
            {
                _versions.Add(value);
            }
        }
    }

    /// <summary>Every content the message had, the first as posted.</summary>
    public IReadOnlyList<string> Versions
    {
        get
        {
            lock (_versions)
            {
                return [.. _versions];
            }
        }
    }

    /// <summary>The message this one replies to (<c>message_reference</c>), in the same channel.</summary>
    public string? ReplyToId { get; init; }

    /// <summary>Edits so far (PATCH).</summary>
    public int Edits { get; set; }

    /// <summary>Served with its author as a bare id, not a user object (<see cref="FakeDiscordServer.PostUnreadable"/>).</summary>
    public bool Unreadable { get; init; }
}

/// <summary>One REST call as the fake saw it.</summary>
public sealed record RecordedRequest(string Method, string Template, string Path, string? BotUserId, string? Body, int Status)
{
    /// <summary>When the fake finished handling it.</summary>
    public DateTimeOffset At { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>
/// A loopback Discord for tests: Kestrel on a free port serving the REST routes MeatLizard uses (with
/// X-RateLimit-* headers, 429s when a bucket is overdrawn, injectable 429 storms and 5xx answers) and a Gateway
/// (HELLO, heartbeat ACK, IDENTIFY → READY, dispatches, RESUME with replay, op 7, op 9 and close codes). Channel
/// visibility follows the permission overwrites: a bot sees a channel's events only when it may view it. Every
/// JSON body is checked against Discord's OpenAPI spec; <see cref="SchemaViolations"/> lists what failed.
/// </summary>
public sealed partial class FakeDiscordServer : IAsyncDisposable
{
    public const int MaxContent = 2000;

    private readonly WebApplication _app;
    private readonly OpenApiBodyValidator _validator;
    private readonly ConcurrentDictionary<string, FakeBot> _botsByToken = new();
    private readonly ConcurrentDictionary<string, FakeChannel> _channels = new();
    private readonly ConcurrentDictionary<string, List<FakeMessage>> _messages = new();
    private readonly ConcurrentDictionary<string, string> _members = new();
    private readonly ConcurrentDictionary<string, int> _typing = new();
    private readonly ConcurrentDictionary<string, GatewaySession> _sessions = new();
    private readonly ConcurrentDictionary<string, Window> _windows = new();
    private readonly ConcurrentDictionary<string, int> _inFlight = new();
    private readonly ConcurrentDictionary<string, bool> _answeredInteractions = new();

    /// <summary>Each invoked interaction's channel by its token, and its public response message once there is one.</summary>
    private readonly ConcurrentDictionary<string, string> _interactionChannels = new();
    private readonly ConcurrentDictionary<string, FakeMessage> _interactionMessages = new();
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentQueue<Fault> _faults = new();
    private readonly ConcurrentQueue<JsonObject> _interactionAnswers = new();
    private readonly Lock _lock = new();
    private readonly Lock _idLock = new();
    private long _lastId;
    private int _naturalRateLimits;
    private int _maxInFlightPerBucket;

    private FakeDiscordServer(WebApplication app, OpenApiBodyValidator validator)
    {
        _app = app;
        _validator = validator;
        GuildId = NextId();
        CategoryId = NextId();
        _channels[CategoryId] = new FakeChannel(CategoryId, "meatlizard", 4, null, null, []);
    }

    public string GuildId { get; }

    public string CategoryId { get; }

    public string GuildName { get; } = "MeatLizard test guild";

    public string BaseUrl { get; private set; } = "";

    public string ApiBaseUrl => $"{BaseUrl}/api/v10";

    public string GatewayUrl => BaseUrl.Replace("http://", "ws://", StringComparison.Ordinal) + "/gateway";

    /// <summary>
    /// Sent in HELLO. Longer than a loaded test machine ever stalls (Discord's is 41.25 s), so a bot never takes a slow
    /// ACK for a zombie connection and reconnects in the middle of what a test does; the zombie test sets a short one.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>While false, gateway connections are refused (503), as during a Discord outage.</summary>
    public bool GatewayOpen { get; set; } = true;

    /// <summary>Requests each route bucket allows per <see cref="RateWindow"/> (Discord's usual: 5 per 5 s).</summary>
    public int RateLimit { get; set; } = 5;

    public TimeSpan RateWindow { get; set; } = TimeSpan.FromSeconds(1);

    public int GuildChannelLimit { get; set; } = 500;

    public int CategoryChannelLimit { get; set; } = 50;

    /// <summary>Gateway messages longer than this are sent as several WebSocket frames.</summary>
    public int FrameSize { get; set; } = 512;

    public IReadOnlyList<string> SchemaViolations => [.. _violations];

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>429s the fake had to send because a client overdrew a bucket (injected ones not counted).</summary>
    public int NaturalRateLimits => _naturalRateLimits;

    /// <summary>The most requests ever in flight at once on one exhausted bucket.</summary>
    public int MaxInFlightOnExhaustedBucket => _maxInFlightPerBucket;

    public IReadOnlyList<JsonObject> InteractionAnswers => [.. _interactionAnswers];

    public static async Task<FakeDiscordServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var fake = new FakeDiscordServer(app, OpenApiBodyValidator.Load());
        fake.Map(app);
        await app.StartAsync();
        var address = app.Urls.First();
        fake.BaseUrl = address.TrimEnd('/');
        return fake;
    }

    public FakeBot AddBot(string username)
    {
        var bot = new FakeBot(NextId(), username, $"token-{Guid.NewGuid():N}", NextId()) { RoleId = NextId() };
        _botsByToken[bot.Token] = bot;
        return bot;
    }

    public IReadOnlyList<FakeChannel> Channels => [.. _channels.Values.Where(c => c.Type == 0)];

    public FakeChannel? Channel(string id) => _channels.TryGetValue(id, out var c) ? c : null;

    /// <summary>When a message was posted: Discord's snowflakes hold their time.</summary>
    public static DateTimeOffset TimeOf(string snowflake) =>
        DateTimeOffset.FromUnixTimeMilliseconds((long)(ulong.Parse(snowflake, CultureInfo.InvariantCulture) >> 22) + 1_420_070_400_000);

    public IReadOnlyList<FakeMessage> Messages(string channelId)
    {
        lock (_lock)
        {
            return _messages.TryGetValue(channelId, out var list) ? [.. list] : [];
        }
    }

    public IReadOnlyList<FakeMessage> AllMessages()
    {
        lock (_lock)
        {
            return [.. _messages.Values.SelectMany(m => m)];
        }
    }

    /// <summary>A plain text channel (e.g. made by hand by an admin), visible to everyone.</summary>
    public FakeChannel CreateChannel(string name, string? parentId = null, JsonArray? overwrites = null)
    {
        var channel = new FakeChannel(NextId(), name, 0, parentId, null, overwrites ?? []);
        _channels[channel.Id] = channel;
        return channel;
    }

    /// <summary>A category (e.g. the archive an admin made for closed chats).</summary>
    public FakeChannel CreateCategory(string name)
    {
        var category = new FakeChannel(NextId(), name, 4, null, null, []);
        _channels[category.Id] = category;
        return category;
    }

    /// <summary>Posts a message as someone (a human, another bot) straight into the channel.</summary>
    public FakeMessage Post(string authorId, string channelId, string content, FakeAttachment? attachment = null) =>
        StoreMessage(channelId, authorId, content, attachment, nonce: null);

    /// <summary>
    /// A message no client can read as Discord documents messages: its <c>author</c> is the author's id where a user
    /// object belongs. Discord never sends one; it stands for whatever a client cannot read (a field whose type
    /// changed, say), to show that one such message costs only itself. Stored without a gateway event: it is found by
    /// reading the channel.
    /// </summary>
    public FakeMessage PostUnreadable(string authorId, string channelId, string content)
    {
        var message = new FakeMessage(NextId(), channelId, authorId, content, null, null) { Unreadable = true };
        lock (_lock)
        {
            _messages.GetOrAdd(channelId, _ => []).Add(message);
        }

        return message;
    }

    /// <summary>
    /// A member posts <paramref name="content"/> (which may mention users as <c>&lt;@id&gt;</c>), optionally as a reply
    /// to <paramref name="replyToId"/>; members' names are given with <see cref="AddMember"/>.
    /// </summary>
    public FakeMessage PostAsMember(string authorId, string channelId, string content, string? replyToId = null) =>
        StoreMessage(channelId, authorId, content, null, nonce: null, replyToId);

    /// <summary>A human member of the guild: their id (a snowflake) and username.</summary>
    public string AddMember(string username)
    {
        var id = NextId();
        _members[id] = username;
        return id;
    }

    /// <summary>The messages that reply to <paramref name="messageId"/>, oldest first.</summary>
    public IReadOnlyList<FakeMessage> RepliesTo(string channelId, string messageId) =>
        [.. Messages(channelId).Where(m => m.ReplyToId == messageId)];

    /// <summary>POST /channels/{id}/typing calls per channel.</summary>
    public int TypingCalls(string channelId) => _typing.GetValueOrDefault(channelId);

    public async ValueTask DisposeAsync()
    {
        foreach (var session in _sessions.Values)
        {
            session.Connection?.Abort();
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>A snowflake as Discord makes them: milliseconds since 2015 in the high bits, so ids grow with time.</summary>
    private string NextId()
    {
        lock (_idLock)
        {
            var candidate = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 1_420_070_400_000) << 22;
            _lastId = Math.Max(candidate, _lastId + 1);
            return _lastId.ToString(CultureInfo.InvariantCulture);
        }
    }

    private FakeMessage StoreMessage(
        string channelId, string authorId, string content, FakeAttachment? attachment, string? nonce, string? replyToId = null)
    {
        var message = new FakeMessage(NextId(), channelId, authorId, content, attachment, nonce) { ReplyToId = replyToId };
        FakeMessage? held = null;
        lock (_lock)
        {
            _messages.GetOrAdd(channelId, _ => []).Add(message);
            if (_late is { } late && late.ChannelId == channelId)
            {
                if (late.Held is null && late.AuthorId == authorId)
                {
                    late.Held = message;
                    return message;
                }

                if (late.Held is not null)
                {
                    held = late.Held;
                    _late = null;
                }
            }
        }

        _ = held is null
            ? BroadcastAsync(channelId, "MESSAGE_CREATE", MessageJson(message))
            : BroadcastSwappedAsync(message, held);
        return message;
    }

    /// <summary>
    /// The next message <paramref name="authorId"/> posts in <paramref name="channelId"/> reaches the bots only after
    /// the message posted there next, as Discord may deliver them: it promises no order of MESSAGE_CREATE events, only
    /// ids k-sorted within about a second (two messages posted at once by two bots can arrive either way round).
    /// </summary>
    public void DeliverNextMessageLate(string channelId, string authorId)
    {
        lock (_lock)
        {
            _late = new LateDelivery(channelId, authorId);
        }
    }

    /// <summary>Messages delivered after one posted later (by <see cref="DeliverNextMessageLate"/>).</summary>
    public int LateDeliveries => Volatile.Read(ref _lateDeliveries);

    private LateDelivery? _late;
    private int _lateDeliveries;

    private sealed class LateDelivery(string channelId, string authorId)
    {
        public string ChannelId { get; } = channelId;

        public string AuthorId { get; } = authorId;

        public FakeMessage? Held { get; set; }
    }

    private async Task BroadcastSwappedAsync(FakeMessage later, FakeMessage earlier)
    {
        await BroadcastAsync(later.ChannelId, "MESSAGE_CREATE", MessageJson(later));
        await BroadcastAsync(earlier.ChannelId, "MESSAGE_CREATE", MessageJson(earlier));
        Interlocked.Increment(ref _lateDeliveries);
    }

    /// <summary>
    /// Sends a message's MESSAGE_CREATE again, as a gateway may after a resume (delivery is at least once): a bot must
    /// not act on it twice.
    /// </summary>
    public Task DeliverAgainAsync(FakeMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return BroadcastAsync(message.ChannelId, "MESSAGE_CREATE", MessageJson(message));
    }

    private Task BroadcastAsync(string channelId, string type, JsonObject data) =>
        _channels.TryGetValue(channelId, out var channel) ? BroadcastAsync(channel, type, data) : Task.CompletedTask;

    /// <summary>Dispatches an event of <paramref name="channel"/> to every session that can see it (or could, as it was deleted).</summary>
    private async Task BroadcastAsync(FakeChannel channel, string type, JsonObject data)
    {
        // Each session gets the event on its own, as at Discord: a bot slow to read its connection holds up no other
        // bot's (they went one after another, so a client bot slow to read delayed the server bot's events too).
        await Task.WhenAll(_sessions.Values.Where(s => CanView(channel, s.Bot.UserId, GuildId)).Select(session =>
        {
            var copy = JsonNode.Parse(data.ToJsonString())!;
            // Without MESSAGE_CONTENT a bot still gets the content of its own messages and of those that mention it.
            if (!session.Bot.MessageContentAllowed && copy is JsonObject o && o["author"]?["id"]?.GetValue<string>() != session.Bot.UserId
                && o["mentions"] is JsonArray mentioned && !mentioned.Any(m => m?["id"]?.GetValue<string>() == session.Bot.UserId))
            {
                o["content"] = "";
                o["attachments"] = new JsonArray();
            }

            return session.DispatchAsync(type, copy);
        }));
    }

    public IReadOnlyList<string> RegisteredCommands { get; private set; } = [];

    /// <summary>Deletes a channel as an admin would by hand (e.g. to start from a guild without the relay's category).</summary>
    public void DeleteChannelByHand(string channelId)
    {
        if (_channels.TryRemove(channelId, out var channel))
        {
            _ = BroadcastAsync(channel, "CHANNEL_DELETE", ChannelJson(channel, GuildId));
        }
    }
}
