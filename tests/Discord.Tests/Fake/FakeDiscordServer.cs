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
public sealed class FakeDiscordServer : IAsyncDisposable
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

    /// <summary>
    /// Sets one overwrite on a channel as a guild admin would by hand (replacing the one with the same id), and tells the
    /// bots that may see the channel afterwards (CHANNEL_UPDATE).
    /// </summary>
    public FakeChannel SetOverwriteByHand(string channelId, string targetId, int type, ulong allow, ulong deny)
    {
        FakeChannel changed;
        lock (_lock)
        {
            changed = ReplaceOverwrite(_channels[channelId], targetId, new JsonObject
            {
                ["id"] = targetId,
                ["type"] = type,
                ["allow"] = allow.ToString(CultureInfo.InvariantCulture),
                ["deny"] = deny.ToString(CultureInfo.InvariantCulture),
            });
        }

        _ = BroadcastAsync(channelId, "CHANNEL_UPDATE", ChannelJson(changed, GuildId));
        return changed;
    }

    /// <summary>The channel with the overwrite of <paramref name="targetId"/> replaced (dropped when null), stored.</summary>
    private FakeChannel ReplaceOverwrite(FakeChannel channel, string targetId, JsonObject? overwrite)
    {
        var overwrites = JsonNode.Parse(channel.Overwrites.ToJsonString())!.AsArray();
        foreach (var same in overwrites.Where(o => o!["id"]?.GetValue<string>() == targetId).ToList())
        {
            overwrites.Remove(same);
        }

        if (overwrite is not null)
        {
            overwrites.Add(overwrite);
        }

        var changed = channel with { Overwrites = overwrites };
        _channels[channel.Id] = changed;
        return changed;
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

    /// <summary>The next <paramref name="count"/> attachment downloads fail with 503 (the CDN having a bad moment).</summary>
    public void FailAttachmentDownloads(int count) => Interlocked.Exchange(ref _attachmentFailures, count);

    private int _attachmentFailures;

    /// <summary>Every attachment download fails with 503 for <paramref name="duration"/> (the CDN down for a while).</summary>
    public void FailAttachmentDownloadsFor(TimeSpan duration) => AttachmentOutageUntil = DateTimeOffset.UtcNow + duration;

    private DateTimeOffset AttachmentOutageUntil { get; set; } = DateTimeOffset.MinValue;

    /// <summary>Attachment downloads refused so far (by <see cref="FailAttachmentDownloads"/> or an outage).</summary>
    public int AttachmentRefusals => Volatile.Read(ref _attachmentRefusals);

    private int _attachmentRefusals;

    /// <summary>Attachment downloads still to fail (of those <see cref="FailAttachmentDownloads"/> asked for).</summary>
    public int PendingAttachmentFailures => Math.Max(0, Volatile.Read(ref _attachmentFailures));

    /// <summary>The next <paramref name="count"/> requests on the route template get a 429 with this retry_after.</summary>
    public void InjectRateLimits(string template, int count, TimeSpan retryAfter, bool global = false)
    {
        for (var i = 0; i < count; i++)
        {
            _faults.Enqueue(new Fault(template, 429, retryAfter, global, AfterProcessing: false));
        }
    }

    /// <summary>
    /// For <paramref name="duration"/> Discord's API has trouble: every REST request (the CDN's attachment downloads and
    /// the gateway are not affected) is answered at once with a 502 or 503, as Cloudflare does when the API behind it
    /// fails — or, with <paramref name="hang"/>, gets no answer at all until the outage ends (then a 504), so a client
    /// must time out by itself. Nothing a refused request asked for is carried out.
    /// </summary>
    public void StartRestOutage(TimeSpan duration, bool hang)
    {
        lock (_lock)
        {
            _outage = (DateTimeOffset.UtcNow + duration, hang);
        }
    }

    /// <summary>REST requests answered with an error by an outage so far.</summary>
    public int OutageRefusals => Volatile.Read(ref _outageRefusals);

    private (DateTimeOffset Until, bool Hang)? _outage;
    private int _outageRefusals;

    private async Task<(int Status, string Message)?> OutageAnswerAsync(CancellationToken aborted)
    {
        (DateTimeOffset Until, bool Hang)? outage;
        lock (_lock)
        {
            outage = _outage;
        }

        if (outage is not { } current || current.Until <= DateTimeOffset.UtcNow)
        {
            return null;
        }

        var refusal = Interlocked.Increment(ref _outageRefusals);
        if (current.Hang)
        {
            var left = current.Until - DateTimeOffset.UtcNow;
            await Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.Zero, aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return (504, "Gateway Timeout");
        }

        return refusal % 2 == 0 ? (502, "Bad Gateway") : (503, "Service Unavailable");
    }

    /// <summary>Injected faults no request has met yet.</summary>
    public int PendingFaults => _faults.Count;

    /// <summary>The next request on the route template is carried out but answered with a 502 (the answer "lost").</summary>
    public void InjectLostAnswer(string template) => _faults.Enqueue(new Fault(template, 502, TimeSpan.Zero, false, AfterProcessing: true));

    /// <summary>
    /// Drops the bot's gateway connection without a close frame (the session can be resumed). Waits for the bot to be
    /// connected first, so a drop is never lost on a bot that is reconnecting at that moment.
    /// </summary>
    public async Task DropConnectionAsync(FakeBot bot) => (await CurrentConnectionAsync(bot)).Abort();

    /// <summary>Closes the bot's gateway connection with a close code (once it is connected).</summary>
    public async Task CloseConnectionAsync(FakeBot bot, int code) => await (await CurrentConnectionAsync(bot)).CloseAsync(code);

    private async Task<GatewayConnection> CurrentConnectionAsync(FakeBot bot)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (SessionOf(bot)?.Connection is { IsOpen: true } connection)
            {
                return connection;
            }

            await Task.Delay(50);
        }

        throw new InvalidOperationException($"{bot.Username} had no open gateway connection for 5 s");
    }

    /// <summary>Sends op 7 (reconnect and resume).</summary>
    public Task RequestReconnectAsync(FakeBot bot) =>
        SessionOf(bot) is { } session ? SendToCurrentConnectionAsync(session, new JsonObject { ["op"] = 7, ["d"] = null }) : Task.CompletedTask;

    /// <summary>Sends op 9; with <paramref name="resumable"/> false the session is forgotten.</summary>
    public async Task InvalidateSessionAsync(FakeBot bot, bool resumable)
    {
        if (SessionOf(bot) is { } session)
        {
            if (!resumable)
            {
                _sessions.TryRemove(session.Id, out _);
                if (session.Connection is { IsOpen: true } connection)
                {
                    try
                    {
                        await connection.SendAsync(new JsonObject { ["op"] = 9, ["d"] = false });
                    }
                    catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException or IOException)
                    {
                        // The bot may close the connection as soon as it reads op 9, before our send reports done (seen
                        // on a loaded machine). Either way the session is gone: make sure the connection is too.
                        connection.Abort();
                    }
                }

                // Without an open connection the bot is already cut off from a session that no longer exists.
                return;
            }

            await SendToCurrentConnectionAsync(session, new JsonObject { ["op"] = 9, ["d"] = resumable });
        }
    }

    /// <summary>
    /// Sends an op to the session's connection. On a loaded machine the bot may be reconnecting at this very moment (a
    /// late heartbeat ACK looks like a zombie connection): then the op goes to its next connection.
    /// </summary>
    private async Task SendToCurrentConnectionAsync(GatewaySession session, JsonObject payload)
    {
        var why = "no connection";
        for (var attempt = 0; attempt < 50; attempt++)
        {
            if (session.Connection is { } c)
            {
                try
                {
                    await c.SendAsync(payload);
                    return;
                }
                catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException or IOException)
                {
                    why = $"{ex.GetType().Name}: {ex.Message} (socket {c.State})";
                }
            }
            else
            {
                why = "no connection";
            }

            await Task.Delay(100);
            session = _sessions.TryGetValue(session.Id, out var current) ? current : session;
        }

        throw new InvalidOperationException($"op {payload["op"]} could not be sent: the bot did not come back within 5 s ({why})");
    }

    /// <summary>Dispatches an event to the bot's current session (logged for replay).</summary>
    public Task DispatchAsync(FakeBot bot, string type, JsonNode data) =>
        SessionOf(bot)?.DispatchAsync(type, data) ?? Task.CompletedTask;

    public int SessionsOf(FakeBot bot) => _sessions.Values.Count(s => s.Bot == bot);

    public bool IsConnected(FakeBot bot) => SessionOf(bot)?.Connection is { IsOpen: true };

    /// <summary>A slash command by a member; returns the interaction id.</summary>
    public async Task<string> InvokeCommandAsync(FakeBot bot, string channelId, string userId, bool admin, string name, JsonArray? options = null)
    {
        var id = NextId();
        _interactionChannels[$"itoken-{id}"] = channelId;
        var data = new JsonObject
        {
            ["id"] = id,
            ["application_id"] = bot.ApplicationId,
            ["type"] = 2,
            ["token"] = $"itoken-{id}",
            ["guild_id"] = GuildId,
            ["channel_id"] = channelId,
            ["member"] = new JsonObject
            {
                ["user"] = new JsonObject { ["id"] = userId, ["username"] = "someone" },
                ["roles"] = new JsonArray(),
                ["permissions"] = admin ? "8" : "0",
            },
            ["data"] = new JsonObject { ["id"] = NextId(), ["name"] = name, ["type"] = 1, ["options"] = options ?? [] },
        };
        await DispatchAsync(bot, "INTERACTION_CREATE", data);
        return id;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var session in _sessions.Values)
        {
            session.Connection?.Abort();
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private GatewaySession? SessionOf(FakeBot bot) =>
        _sessions.Values.Where(s => s.Bot == bot).OrderByDescending(s => s.Created).FirstOrDefault();

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

    private static bool CanView(FakeChannel channel, string userId, string guildId) =>
        (Permissions(channel, userId, guildId) & ViewChannel) != 0;

    private const ulong ViewChannel = 1024, SendMessages = 2048, AttachFiles = 32768, ReadMessageHistory = 65536;

    /// <summary>Discord's permission bits (Permissions → Bitwise Permission Flags).</summary>
    public const ulong Administrator = 1UL << 3, ManageChannels = 1UL << 4, ManageRoles = 1UL << 28;

    /// <summary>
    /// The @everyone role's permissions in the guild (by default view, send, attach and read history, the base the
    /// channel overwrites start from here); a guild may take them away.
    /// </summary>
    public ulong EveryoneRolePermissions { get; set; } = ViewChannel | SendMessages | AttachFiles | ReadMessageHistory;

    /// <summary>The application flag the Developer Portal's Message Content switch sets for an unverified bot (1 &lt;&lt; 19).</summary>
    public const long GatewayMessageContentLimited = 1L << 19;

    /// <summary>
    /// A bot's permissions in the guild as Discord computes them (Permissions → Computing base permissions): @everyone's
    /// and its roles' combined; ADMINISTRATOR means every permission.
    /// </summary>
    public ulong GuildPermissionsOf(FakeBot bot)
    {
        var bits = EveryoneRolePermissions | bot.RolePermissions;
        return (bits & Administrator) != 0 ? ulong.MaxValue : bits;
    }

    /// <summary>
    /// Discord refuses a change the bot lacks the guild permission for (403, 50013 Missing Permissions), and an overwrite
    /// that allows or denies a permission the bot does not hold itself (Create Guild Channel: "only permissions your bot
    /// has in the guild … can be allowed/denied").
    /// </summary>
    private IResult? RefuseUnlessAllowed(FakeBot bot, ulong needed, JsonNode? overwrites)
    {
        var held = GuildPermissionsOf(bot);
        var granted = overwrites is JsonArray list
            ? list.OfType<JsonObject>().Aggregate(0UL, (all, o) => all | Bits(o["allow"]) | Bits(o["deny"]))
            : 0;
        return (held & needed) != needed || (granted & ~held) != 0 ? Error(403, 50013, "Missing Permissions") : null;
    }

    /// <summary>
    /// Discord refuses a change of a channel's overwrites to a bot without MANAGE_ROLES in that channel (403, 50013
    /// Missing Permissions): its guild permissions, then the channel's @everyone, role and member overwrites (an admin may
    /// take "Manage Permissions" from it in one channel); ADMINISTRATOR passes.
    /// </summary>
    private IResult? RefuseUnlessManagesOverwrites(FakeBot bot, FakeChannel channel)
    {
        var bits = GuildPermissionsOf(bot);
        if ((bits & Administrator) != 0)
        {
            return null;
        }

        foreach (var id in new[] { GuildId, bot.RoleId, bot.UserId })
        {
            foreach (var overwrite in channel.Overwrites.OfType<JsonObject>().Where(o => o["id"]?.GetValue<string>() == id))
            {
                bits &= ~Bits(overwrite["deny"]);
                bits |= Bits(overwrite["allow"]);
            }
        }

        return (bits & ViewChannel) != 0 && (bits & ManageRoles) != 0 ? null : Error(403, 50013, "Missing Permissions");
    }

    /// <summary>
    /// A member's permissions in a channel as Discord computes them (Permissions → Permission Overwrites): the guild's
    /// base (here @everyone's default view, send, attach and read history), then the @everyone overwrite's deny and
    /// allow, then the member's own deny and allow. No VIEW_CHANNEL takes every other channel permission away.
    /// </summary>
    private static ulong Permissions(FakeChannel channel, string userId, string guildId)
    {
        var permissions = ViewChannel | SendMessages | AttachFiles | ReadMessageHistory;
        foreach (var id in new[] { guildId, userId })
        {
            foreach (var overwrite in channel.Overwrites.OfType<JsonObject>().Where(o => o["id"]?.GetValue<string>() == id))
            {
                permissions &= ~Bits(overwrite["deny"]);
                permissions |= Bits(overwrite["allow"]);
            }
        }

        return (permissions & ViewChannel) != 0 ? permissions : 0;
    }

    private static ulong Bits(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var s) && ulong.TryParse(s, CultureInfo.InvariantCulture, out var bits)
            ? bits
            : node is JsonValue number && number.TryGetValue<ulong>(out var n) ? n : 0;

    private FakeMessage StoreMessage(
        string channelId, string authorId, string content, FakeAttachment? attachment, string? nonce, string? replyToId = null)
    {
        var message = new FakeMessage(NextId(), channelId, authorId, content, attachment, nonce) { ReplyToId = replyToId };
        lock (_lock)
        {
            _messages.GetOrAdd(channelId, _ => []).Add(message);
        }

        _ = BroadcastAsync(channelId, "MESSAGE_CREATE", MessageJson(message));
        return message;
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

    private async Task BroadcastAsync(string channelId, string type, JsonObject data)
    {
        if (!_channels.TryGetValue(channelId, out var channel))
        {
            return;
        }

        foreach (var session in _sessions.Values.Where(s => CanView(channel, s.Bot.UserId, GuildId)))
        {
            var copy = JsonNode.Parse(data.ToJsonString())!;
            // Without MESSAGE_CONTENT a bot still gets the content of its own messages and of those that mention it.
            if (!session.Bot.MessageContentAllowed && copy is JsonObject o && o["author"]?["id"]?.GetValue<string>() != session.Bot.UserId
                && o["mentions"] is JsonArray mentioned && !mentioned.Any(m => m?["id"]?.GetValue<string>() == session.Bot.UserId))
            {
                o["content"] = "";
                o["attachments"] = new JsonArray();
            }

            await session.DispatchAsync(type, copy);
        }
    }

    private JsonObject MessageJson(FakeMessage message) => MessageJson(message, withReferenced: true);

    /// <summary>A user object as Discord sends it: a bot of this fake, a member added by name, or an unknown human.</summary>
    private JsonObject UserJson(string id)
    {
        var bot = _botsByToken.Values.FirstOrDefault(b => b.UserId == id);
        return new JsonObject
        {
            ["id"] = id,
            ["username"] = bot?.Username ?? _members.GetValueOrDefault(id) ?? "human",
            ["global_name"] = bot is null ? _members.GetValueOrDefault(id) : null,
            ["bot"] = bot is not null,
        };
    }

    /// <summary>
    /// The message object: <c>mentions</c> holds the users its content mentions (<c>&lt;@id&gt;</c> or
    /// <c>&lt;@!id&gt;</c>); a reply (type 19) has <c>message_reference</c> and, one level deep,
    /// <c>referenced_message</c> (null when that message was deleted).
    /// </summary>
    private JsonObject MessageJson(FakeMessage message, bool withReferenced)
    {
        var attachments = new JsonArray();
        if (message.Attachment is { } a)
        {
            attachments.Add(new JsonObject
            {
                ["id"] = a.Id,
                ["filename"] = a.Filename,
                ["size"] = a.Content.Length,
                ["url"] = $"{BaseUrl}/attachments/{a.Id}/{a.Filename}?ex=signed",
            });
        }

        return new JsonObject
        {
            ["id"] = message.Id,
            ["channel_id"] = message.ChannelId,
            ["guild_id"] = GuildId,
            ["author"] = UserJson(message.AuthorId),
            ["content"] = message.Content,
            ["attachments"] = attachments,
            ["nonce"] = message.Nonce,
            ["type"] = message.ReplyToId is null ? 0 : 19,
            ["mentions"] = new JsonArray([.. System.Text.RegularExpressions.Regex.Matches(message.Content, "<@!?([0-9]{17,20})>")
                .Select(m => m.Groups[1].Value).Distinct().Select(id => (JsonNode)UserJson(id))]),
            ["message_reference"] = message.ReplyToId is null ? null : new JsonObject
            {
                ["type"] = 0,
                ["message_id"] = message.ReplyToId,
                ["channel_id"] = message.ChannelId,
                ["guild_id"] = GuildId,
            },
            ["referenced_message"] = message.ReplyToId is null || !withReferenced ? null
                : Messages(message.ChannelId).FirstOrDefault(m => m.Id == message.ReplyToId) is { } referenced
                    ? MessageJson(referenced, withReferenced: false)
                    : null,
        };
    }

    private static JsonObject ChannelJson(FakeChannel channel, string guildId) => new()
    {
        ["id"] = channel.Id,
        ["type"] = channel.Type,
        ["name"] = channel.Name,
        ["guild_id"] = guildId,
        ["parent_id"] = channel.ParentId,
        ["topic"] = channel.Topic,
        ["permission_overwrites"] = JsonNode.Parse(channel.Overwrites.ToJsonString()),
    };

    private static IResult Error(int status, int code, string message) =>
        Results.Json(new { message, code }, statusCode: status);

    /// <summary>What Discord answers when a category already holds 50 channels: an invalid form, the reason on parent_id.</summary>
    private IResult CategoryFull() =>
        InvalidForm("parent_id", "CHANNEL_PARENT_MAX_CHANNELS", $"Maximum number of channels in category reached ({CategoryChannelLimit})");

    /// <summary>Discord's 400 for a form field it refuses (code 50035), the reason under the field's <c>_errors</c>.</summary>
    private static IResult InvalidForm(string field, string code, string message) => Results.Json(new JsonObject
    {
        ["message"] = "Invalid Form Body",
        ["code"] = 50035,
        ["errors"] = new JsonObject
        {
            [field] = new JsonObject
            {
                ["_errors"] = new JsonArray(new JsonObject { ["code"] = code, ["message"] = message }),
            },
        },
    }, statusCode: 400);

    private void Map(WebApplication app)
    {
        app.UseWebSockets();
        app.Map("/gateway", GatewayAsync);
        app.Map("/resume", GatewayAsync);
        app.MapGet("/attachments/{id}/{filename}", (string id) =>
        {
            if (Interlocked.Decrement(ref _attachmentFailures) >= 0 || DateTimeOffset.UtcNow < AttachmentOutageUntil)
            {
                Interlocked.Increment(ref _attachmentRefusals);
                return Results.StatusCode(503);
            }

            var attachment = AllMessages().Select(m => m.Attachment).FirstOrDefault(a => a?.Id == id);
            return attachment is null ? Results.NotFound() : Results.Bytes(attachment.Content, "application/octet-stream");
        });

        var api = app.MapGroup("/api/v10");
        Route(api, "GET", "/gateway/bot", (_, _, _) => Task.FromResult(Results.Json(new
        {
            url = GatewayUrl,
            shards = 1,
            session_start_limit = new { total = 1000, remaining = 999, reset_after = 14_400_000, max_concurrency = 1 },
        })));
        // Get Current User: the bot's own user object (as Discord: discriminator "0" for migrated names).
        Route(api, "GET", "/users/@me", (_, bot, _) => Task.FromResult(Results.Json(new
        {
            id = bot.UserId, username = bot.Username, discriminator = "0", global_name = (string?)null, avatar = (string?)null,
            bot = true, flags = 0,
        })));
        // Get Current Application: the bot's application; its flags say which privileged intents the Portal enabled.
        Route(api, "GET", "/applications/@me", (_, bot, _) => Task.FromResult(Results.Json(new JsonObject
        {
            ["id"] = bot.ApplicationId,
            ["name"] = bot.Username,
            ["icon"] = null,
            ["description"] = "",
            ["type"] = null,
            ["bot"] = new JsonObject { ["id"] = bot.UserId, ["username"] = bot.Username, ["discriminator"] = "0", ["bot"] = true },
            ["bot_public"] = true,
            ["bot_require_code_grant"] = false,
            ["verify_key"] = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(bot.ApplicationId))).ToLowerInvariant(),
            ["flags"] = bot.MessageContentAllowed ? GatewayMessageContentLimited : 0,
            ["redirect_uris"] = new JsonArray(),
            ["interactions_endpoint_url"] = null,
            ["role_connections_verification_url"] = null,
            ["owner"] = new JsonObject { ["id"] = GuildId, ["username"] = "owner", ["discriminator"] = "0" },
            ["approximate_guild_count"] = bot.InGuild ? 1 : 0,
            ["team"] = null,
        })));
        // Get Guild: only the guild the fake's bots are members of; any other id is Discord's 404 Unknown Guild, and a
        // bot that is not (or no longer) a member gets 403 Missing Access.
        Route(api, "GET", "/guilds/{guild_id}", (ctx, bot, _) => Task.FromResult(
            GuildRefusal(ctx, bot)
            ?? Results.Json(new { id = GuildId, name = GuildName, owner_id = GuildId, roles = Array.Empty<object>(), features = Array.Empty<string>() })));
        // Get Guild Member: the bots that are members, with their managed role; anyone else is 404 Unknown Member.
        Route(api, "GET", "/guilds/{guild_id}/members/{user_id}", (ctx, bot, _) =>
        {
            if (GuildRefusal(ctx, bot) is { } refused)
            {
                return Task.FromResult(refused);
            }

            var userId = (string)ctx.Request.RouteValues["user_id"]!;
            var member = _botsByToken.Values.FirstOrDefault(b => b.UserId == userId && b.InGuild);
            return Task.FromResult(member is null
                ? Error(404, 10007, "Unknown Member")
                : Results.Json(new JsonObject
                {
                    ["user"] = new JsonObject { ["id"] = member.UserId, ["username"] = member.Username, ["discriminator"] = "0", ["bot"] = true },
                    ["nick"] = null,
                    ["avatar"] = null,
                    ["banner"] = null,
                    ["roles"] = new JsonArray(member.RoleId),
                    ["joined_at"] = "2026-01-01T00:00:00.000000+00:00",
                    ["premium_since"] = null,
                    ["deaf"] = false,
                    ["mute"] = false,
                    ["flags"] = 0,
                    ["pending"] = false,
                    ["communication_disabled_until"] = null,
                }));
        });
        // List Guild Roles: @everyone (its id is the guild's) and each member bot's managed role; bitsets as strings.
        Route(api, "GET", "/guilds/{guild_id}/roles", (ctx, bot, _) => Task.FromResult(GuildRefusal(ctx, bot) ?? Results.Json(
            new[] { Role(GuildId, "@everyone", EveryoneRolePermissions, 0, managed: false) }
                .Concat(_botsByToken.Values.Where(b => b.InGuild).Select((b, i) => Role(b.RoleId, b.Username, b.RolePermissions, i + 1, managed: true)))
                .ToList())));
        Route(api, "GET", "/guilds/{guild_id}/channels", (_, _, _) =>
            Task.FromResult(Results.Json(_channels.Values.Select(c => ChannelJson(c, GuildId)).ToList())));
        Route(api, "POST", "/guilds/{guild_id}/channels", CreateChannelAsync);
        Route(api, "GET", "/channels/{channel_id}", (ctx, bot, _) =>
        {
            var id = (string)ctx.Request.RouteValues["channel_id"]!;
            if (!_channels.TryGetValue(id, out var channel))
            {
                return Task.FromResult(Error(404, 10003, "Unknown Channel"));
            }

            return Task.FromResult(CanView(channel, bot.UserId, GuildId)
                ? Results.Json(ChannelJson(channel, GuildId))
                : Error(403, 50001, "Missing Access"));
        });
        Route(api, "PATCH", "/channels/{channel_id}", (ctx, bot, body) =>
        {
            var id = (string)ctx.Request.RouteValues["channel_id"]!;
            var request = JsonNode.Parse(body!)!.AsObject();
            // Moving a channel needs MANAGE_CHANNELS; changing its overwrites, MANAGE_ROLES (Modify Channel).
            var needed = (request.ContainsKey("parent_id") ? ManageChannels : 0) | (request.ContainsKey("permission_overwrites") ? ManageRoles : 0);
            if (RefuseUnlessAllowed(bot, needed, request["permission_overwrites"]) is { } refused)
            {
                return Task.FromResult(refused);
            }

            lock (_lock)
            {
                if (!_channels.TryGetValue(id, out var channel))
                {
                    return Task.FromResult(Error(404, 10003, "Unknown Channel"));
                }

                if (!CanView(channel, bot.UserId, GuildId))
                {
                    return Task.FromResult(Error(403, 50001, "Missing Access"));
                }

                if (request.ContainsKey("permission_overwrites") && RefuseUnlessManagesOverwrites(bot, channel) is { } notHere)
                {
                    return Task.FromResult(notHere);
                }

                var parent = request.ContainsKey("parent_id") ? request["parent_id"]?.GetValue<string>() : channel.ParentId;
                if (parent is not null && parent != channel.ParentId)
                {
                    if (!_channels.TryGetValue(parent, out var category) || category.Type != 4)
                    {
                        return Task.FromResult(Error(400, 50035, "Invalid Form Body: parent_id is not a category"));
                    }

                    if (_channels.Values.Count(c => c.ParentId == parent) >= CategoryChannelLimit)
                    {
                        return Task.FromResult(CategoryFull());
                    }
                }

                var changed = channel with
                {
                    ParentId = parent,
                    Topic = request.ContainsKey("topic") ? request["topic"]?.GetValue<string>() : channel.Topic,
                    Overwrites = request["permission_overwrites"]?.AsArray() is { } o
                        ? JsonNode.Parse(o.ToJsonString())!.AsArray()
                        : channel.Overwrites,
                };
                _channels[id] = changed;
                _ = BroadcastAsync(id, "CHANNEL_UPDATE", ChannelJson(changed, GuildId));
                return Task.FromResult(Results.Json(ChannelJson(changed, GuildId)));
            }
        });
        // Edit Channel Permissions: one overwrite set (or replaced), the others left as they are; 204.
        Route(api, "PUT", "/channels/{channel_id}/permissions/{overwrite_id}", (ctx, bot, body) =>
        {
            var id = (string)ctx.Request.RouteValues["channel_id"]!;
            var target = (string)ctx.Request.RouteValues["overwrite_id"]!;
            var request = JsonNode.Parse(body!)!.AsObject();
            var overwrite = new JsonObject
            {
                ["id"] = target,
                ["type"] = request["type"]?.GetValue<int>() ?? 1,
                ["allow"] = Bits(request["allow"]).ToString(CultureInfo.InvariantCulture),
                ["deny"] = Bits(request["deny"]).ToString(CultureInfo.InvariantCulture),
            };
            return Task.FromResult(ChangeOverwrite(bot, id, target, overwrite));
        });
        Route(api, "DELETE", "/channels/{channel_id}/permissions/{overwrite_id}", (ctx, bot, _) =>
            Task.FromResult(ChangeOverwrite(bot, (string)ctx.Request.RouteValues["channel_id"]!,
                (string)ctx.Request.RouteValues["overwrite_id"]!, null)));
        Route(api, "DELETE", "/channels/{channel_id}", (ctx, bot, _) =>
        {
            var id = (string)ctx.Request.RouteValues["channel_id"]!;
            if (RefuseUnlessAllowed(bot, ManageChannels, null) is { } refused)
            {
                return Task.FromResult(refused);
            }

            if (!_channels.TryRemove(id, out var channel))
            {
                return Task.FromResult(Error(404, 10003, "Unknown Channel"));
            }

            return Task.FromResult(Results.Json(ChannelJson(channel, GuildId)));
        });
        Route(api, "POST", "/channels/{channel_id}/messages", CreateMessageAsync);
        Route(api, "GET", "/channels/{channel_id}/messages", (ctx, bot, _) =>
        {
            var id = (string)ctx.Request.RouteValues["channel_id"]!;
            if (!_channels.TryGetValue(id, out var channel))
            {
                return Task.FromResult(Error(404, 10003, "Unknown Channel"));
            }

            if (!CanView(channel, bot.UserId, GuildId))
            {
                return Task.FromResult(Error(403, 50001, "Missing Access"));
            }

            // As Discord documents it: limit 1-100 (default 50); around, before and after are snowflakes, and only one
            // of them may be given.
            var query = ctx.Request.Query;
            var limit = 50;
            if (query.ContainsKey("limit") && (!int.TryParse(query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out limit)
                                                || limit is < 1 or > 100))
            {
                return Task.FromResult(Error(400, 50035, "Invalid Form Body"));
            }

            var anchors = new[] { "around", "before", "after" }.Where(query.ContainsKey).ToArray();
            ulong anchor = 0;
            if (anchors.Length > 1
                || (anchors.Length == 1 && !ulong.TryParse(query[anchors[0]], NumberStyles.None, CultureInfo.InvariantCulture, out anchor)))
            {
                return Task.FromResult(Error(400, 50035, "Invalid Form Body"));
            }

            // With `after`, the `limit` messages that follow it (the oldest ones after it, so a reader can page
            // forward); with `before`, the ones right before it; with `around`, those on either side of it; with none,
            // the newest. Every page comes newest first.
            var ordered = Messages(id).OrderBy(m => ulong.Parse(m.Id, CultureInfo.InvariantCulture)).ToList();
            ulong IdOf(FakeMessage m) => ulong.Parse(m.Id, CultureInfo.InvariantCulture);
            var page = anchors.FirstOrDefault() switch
            {
                "after" => ordered.Where(m => IdOf(m) > anchor).Take(limit).ToList(),
                "before" => ordered.Where(m => IdOf(m) < anchor).TakeLast(limit).ToList(),
                "around" => [.. ordered.Where(m => IdOf(m) < anchor).TakeLast(limit / 2),
                    .. ordered.Where(m => IdOf(m) >= anchor).Take(limit - limit / 2)],
                _ => ordered.TakeLast(limit).ToList(),
            };
            return Task.FromResult(Results.Json(page.AsEnumerable().Reverse().Select(MessageJson).ToList()));
        });
        Route(api, "PATCH", "/channels/{channel_id}/messages/{message_id}", (ctx, bot, body) =>
        {
            var channelId = (string)ctx.Request.RouteValues["channel_id"]!;
            var messageId = (string)ctx.Request.RouteValues["message_id"]!;
            var message = Messages(channelId).FirstOrDefault(m => m.Id == messageId);
            if (message is null)
            {
                return Task.FromResult(Error(404, 10008, "Unknown Message"));
            }

            if (message.AuthorId != bot.UserId)
            {
                return Task.FromResult(Error(403, 50005, "Cannot edit a message authored by another user"));
            }

            if (JsonNode.Parse(body!)?["content"]?.GetValue<string>() is { } content)
            {
                if (content.Length > MaxContent)
                {
                    return Task.FromResult(Error(400, 50035, "Invalid Form Body"));
                }

                message.Content = content;
                message.Edits++;
            }

            _ = BroadcastAsync(channelId, "MESSAGE_UPDATE", MessageJson(message));
            return Task.FromResult(Results.Json(MessageJson(message)));
        });
        Route(api, "POST", "/channels/{channel_id}/typing", (ctx, bot, _) =>
        {
            var id = (string)ctx.Request.RouteValues["channel_id"]!;
            if (!_channels.TryGetValue(id, out var channel))
            {
                return Task.FromResult(Error(404, 10003, "Unknown Channel"));
            }

            _typing.AddOrUpdate(id, 1, (_, n) => n + 1);
            return Task.FromResult(CanView(channel, bot.UserId, GuildId) ? Results.NoContent() : Error(403, 50001, "Missing Access"));
        });
        Route(api, "PUT", "/applications/{application_id}/guilds/{guild_id}/commands", (ctx, bot, body) =>
        {
            // Only the token's own application, in a guild it was invited to (else Discord's 403 Missing Access).
            if ((string)ctx.Request.RouteValues["application_id"]! != bot.ApplicationId || !bot.InGuild)
            {
                return Task.FromResult(Error(403, 50001, "Missing Access"));
            }

            if (GuildRefusal(ctx, bot) is { } refused)
            {
                return Task.FromResult(refused);
            }

            var commands = JsonNode.Parse(body!)!.AsArray();
            RegisteredCommands = [.. commands.Select(c => c!["name"]!.GetValue<string>())];
            var answer = commands.Select(c => new JsonObject { ["id"] = NextId(), ["name"] = c!["name"]!.GetValue<string>() }).ToList();
            return Task.FromResult(Results.Json(answer));
        });
        Route(api, "POST", "/interactions/{interaction_id}/{interaction_token}/callback", (ctx, bot, body) =>
        {
            var id = (string)ctx.Request.RouteValues["interaction_id"]!;
            if (!_answeredInteractions.TryAdd(id, true))
            {
                return Task.FromResult(Error(400, 40060, "Interaction has already been acknowledged."));
            }

            var answer = JsonNode.Parse(body!)!.AsObject();
            answer["interaction_id"] = id;
            _interactionAnswers.Enqueue(answer);
            // A public answer (not ephemeral, flag 64) is a message of the application in the invoking channel; a
            // deferred one (type 5) shows "thinking" there until @original is edited.
            var token = (string)ctx.Request.RouteValues["interaction_token"]!;
            var flags = answer["data"]?["flags"]?.GetValue<int>() ?? 0;
            if ((flags & 64) == 0 && _interactionChannels.TryGetValue(token, out var channelId)
                && answer["type"]?.GetValue<int>() is 4 or 5)
            {
                _interactionMessages[token] = StoreMessage(channelId, bot.UserId, answer["data"]?["content"]?.GetValue<string>() ?? "",
                    null, null);
            }

            return Task.FromResult(Results.NoContent());
        });
        Route(api, "PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", (ctx, bot, body) =>
        {
            var answer = JsonNode.Parse(body!)!.AsObject();
            answer["edited_original"] = (string)ctx.Request.RouteValues["webhook_token"]!;
            _interactionAnswers.Enqueue(answer);
            if (_interactionMessages.TryGetValue((string)ctx.Request.RouteValues["webhook_token"]!, out var original))
            {
                original.Content = answer["content"]?.GetValue<string>() ?? original.Content;
                original.Edits++;
                return Task.FromResult(Results.Json(MessageJson(original)));
            }

            return Task.FromResult(Results.Json(new JsonObject
            {
                ["id"] = NextId(), ["channel_id"] = "0", ["content"] = answer["content"]?.GetValue<string>() ?? "",
                ["author"] = new JsonObject { ["id"] = bot.UserId, ["username"] = bot.Username },
            }));
        });
        Route(api, "POST", "/webhooks/{webhook_id}/{webhook_token}", (ctx, bot, body) =>
        {
            var answer = JsonNode.Parse(body!)!.AsObject();
            answer["followup"] = (string)ctx.Request.RouteValues["webhook_token"]!;
            _interactionAnswers.Enqueue(answer);
            return Task.FromResult(Results.Json(new JsonObject
            {
                ["id"] = NextId(), ["channel_id"] = "0", ["content"] = answer["content"]?.GetValue<string>() ?? "",
                ["author"] = new JsonObject { ["id"] = bot.UserId, ["username"] = bot.Username },
            }));
        });
    }

    public IReadOnlyList<string> RegisteredCommands { get; private set; } = [];

    /// <summary>Deletes a channel as an admin would by hand (e.g. to start from a guild without the relay's category).</summary>
    public void DeleteChannelByHand(string channelId) => _channels.TryRemove(channelId, out _);

    /// <summary>
    /// PUT or DELETE of one overwrite, checked as Discord does: the bot must see the channel, hold MANAGE_ROLES in the
    /// guild and in the channel, and allow or deny only what it holds itself.
    /// </summary>
    private IResult ChangeOverwrite(FakeBot bot, string channelId, string targetId, JsonObject? overwrite)
    {
        FakeChannel changed;
        lock (_lock)
        {
            if (!_channels.TryGetValue(channelId, out var channel))
            {
                return Error(404, 10003, "Unknown Channel");
            }

            if (!CanView(channel, bot.UserId, GuildId))
            {
                return Error(403, 50001, "Missing Access");
            }

            if ((RefuseUnlessAllowed(bot, ManageRoles, overwrite is null ? null : new JsonArray(JsonNode.Parse(overwrite.ToJsonString())))
                 ?? RefuseUnlessManagesOverwrites(bot, channel)) is { } refused)
            {
                return refused;
            }

            changed = ReplaceOverwrite(channel, targetId, overwrite);
        }

        _ = BroadcastAsync(channelId, "CHANNEL_UPDATE", ChannelJson(changed, GuildId));
        return Results.NoContent();
    }

    /// <summary>404 Unknown Guild for another guild's id; 403 Missing Access for a bot that is not a member.</summary>
    private IResult? GuildRefusal(HttpContext ctx, FakeBot bot) =>
        (string)ctx.Request.RouteValues["guild_id"]! != GuildId ? Error(404, 10004, "Unknown Guild")
        : !bot.InGuild ? Error(403, 50001, "Missing Access")
        : null;

    private static JsonObject Role(string id, string name, ulong permissions, int position, bool managed) => new()
    {
        ["id"] = id,
        ["name"] = name,
        ["permissions"] = permissions.ToString(CultureInfo.InvariantCulture),
        ["position"] = position,
        ["color"] = 0,
        ["hoist"] = false,
        ["managed"] = managed,
        ["mentionable"] = false,
        ["icon"] = null,
        ["unicode_emoji"] = null,
        ["flags"] = 0,
    };

    private Task<IResult> CreateChannelAsync(HttpContext ctx, FakeBot bot, string? body)
    {
        var request = JsonNode.Parse(body!)!.AsObject();
        var parent = request["parent_id"]?.GetValue<string>();
        if ((GuildRefusal(ctx, bot) ?? RefuseUnlessAllowed(bot, ManageChannels, request["permission_overwrites"])) is { } refused)
        {
            return Task.FromResult(refused);
        }

        var type = request["type"]?.GetValue<int>() ?? 0;
        var name = request["name"]?.GetValue<string>() ?? "";
        if (name.Length is < 1 or > 100 || (type == 4 && parent is not null))
        {
            // Names are 1–100 characters; a category cannot sit in another category.
            return Task.FromResult(Error(400, 50035, "Invalid Form Body"));
        }

        lock (_lock)
        {
            if (parent is not null && (!_channels.TryGetValue(parent, out var category) || category.Type != 4))
            {
                return Task.FromResult(Error(400, 50035, "Invalid Form Body: parent_id is not a category"));
            }

            var text = _channels.Values.Count(c => c.Type != 4);
            if (text >= GuildChannelLimit)
            {
                return Task.FromResult(Error(400, 30013, "Maximum number of guild channels reached (500)"));
            }

            if (parent is not null && _channels.Values.Count(c => c.ParentId == parent) >= CategoryChannelLimit)
            {
                return Task.FromResult(CategoryFull());
            }

            var channel = new FakeChannel(NextId(), name, type,
                parent, request["topic"]?.GetValue<string>(), request["permission_overwrites"]?.AsArray() is { } o
                    ? JsonNode.Parse(o.ToJsonString())!.AsArray()
                    : []);
            _channels[channel.Id] = channel;
            _ = BroadcastAsync(channel.Id, "CHANNEL_CREATE", ChannelJson(channel, GuildId));
            return Task.FromResult(Results.Json(ChannelJson(channel, GuildId)));
        }
    }

    private async Task<IResult> CreateMessageAsync(HttpContext ctx, FakeBot bot, string? body)
    {
        var channelId = (string)ctx.Request.RouteValues["channel_id"]!;
        if (!_channels.TryGetValue(channelId, out var channel))
        {
            return Error(404, 10003, "Unknown Channel");
        }

        if (!CanView(channel, bot.UserId, GuildId))
        {
            return Error(403, 50001, "Missing Access");
        }

        // Seeing a channel is not enough to post there: SEND_MESSAGES, and ATTACH_FILES for a file (an archived chat's
        // channel lets the bots read, not write).
        var permissions = Permissions(channel, bot.UserId, GuildId);
        if ((permissions & SendMessages) == 0 || (ctx.Items["file"] is not null && (permissions & AttachFiles) == 0))
        {
            return Error(403, 50013, "Missing Permissions");
        }

        FakeAttachment? attachment = null;
        if (ctx.Items["file"] is (string filename, byte[] bytes))
        {
            attachment = new FakeAttachment(NextId(), filename, bytes);
        }

        var request = JsonNode.Parse(body!)!.AsObject();
        var content = request["content"]?.GetValue<string>() ?? "";
        if (content.Length > MaxContent)
        {
            return Error(400, 50035, "Invalid Form Body: content must be 2000 or fewer in length.");
        }

        if (content.Length == 0 && attachment is null)
        {
            return Error(400, 50006, "Cannot send an empty message");
        }

        var nonce = request["nonce"]?.ToString();
        if (request["enforce_nonce"]?.GetValue<bool>() == true && nonce is not null)
        {
            var existing = Messages(channelId).FirstOrDefault(m => m.AuthorId == bot.UserId && m.Nonce == nonce);
            if (existing is not null)
            {
                return Results.Json(MessageJson(existing));
            }
        }

        // A reply names a message of the same channel; an unknown one is refused unless fail_if_not_exists is false,
        // when the message is posted as a plain one.
        string? replyTo = null;
        if (request["message_reference"] is JsonObject reference)
        {
            var referencedId = reference["message_id"]?.GetValue<string>();
            var referenceChannel = reference["channel_id"]?.GetValue<string>() ?? channelId;
            var exists = referenceChannel == channelId && Messages(channelId).Any(m => m.Id == referencedId);
            if (!exists && reference["fail_if_not_exists"]?.GetValue<bool>() != false)
            {
                return InvalidForm("message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message");
            }

            replyTo = exists ? referencedId : null;
        }

        await Task.Yield();
        return Results.Json(MessageJson(StoreMessage(channelId, bot.UserId, content, attachment, nonce, replyTo)));
    }

    private void Route(RouteGroupBuilder api, string method, string template, Func<HttpContext, FakeBot, string?, Task<IResult>> handler)
    {
        api.MapMethods(template, [method], async (HttpContext ctx) =>
        {
            var auth = ctx.Request.Headers.Authorization.ToString();
            if (!auth.StartsWith("Bot ", StringComparison.Ordinal) || !_botsByToken.TryGetValue(auth[4..], out var bot))
            {
                _requests.Enqueue(new RecordedRequest(method, template, ctx.Request.Path, null, null, 401));
                return Error(401, 0, "401: Unauthorized");
            }

            string? body = null;
            if (ctx.Request.HasFormContentType)
            {
                var form = await ctx.Request.ReadFormAsync();
                body = form["payload_json"];
                if (form.Files.GetFile("files[0]") is { } file)
                {
                    using var stream = new MemoryStream();
                    await file.CopyToAsync(stream);
                    ctx.Items["file"] = (file.FileName, stream.ToArray());
                }
            }
            else if (ctx.Request.ContentLength > 0 || ctx.Request.Headers.TransferEncoding.Count > 0)
            {
                body = await new StreamReader(ctx.Request.Body, Encoding.UTF8).ReadToEndAsync();
            }

            if (body is not null)
            {
                foreach (var problem in _validator.Validate(method, template, body))
                {
                    _violations.Enqueue(problem);
                }
            }

            if (await OutageAnswerAsync(ctx.RequestAborted) is { } outage)
            {
                _requests.Enqueue(new RecordedRequest(method, template, ctx.Request.Path, bot.UserId, body, outage.Status));
                return Results.Json(new { message = outage.Message, code = 0 }, statusCode: outage.Status);
            }

            var major = MajorOf(template, ctx);
            var bucket = $"{method} {template}";
            var key = $"{bot.UserId}|{bucket}|{major}";
            var result = await LimitAsync(ctx, key, bucket, template, () => handler(ctx, bot, body));
            // The answer's status is the result's own (the response's is set only when the result is written).
            var status = result is IStatusCodeHttpResult { StatusCode: { } code } ? code : ctx.Response.StatusCode;
            _requests.Enqueue(new RecordedRequest(method, template, ctx.Request.Path, bot.UserId, body, status));
            return result;
        });
    }

    private async Task<IResult> LimitAsync(HttpContext ctx, string key, string bucket, string template, Func<Task<IResult>> handler)
    {
        var interaction = template.StartsWith("/interactions", StringComparison.Ordinal);
        var window = _windows.GetOrAdd(key, _ => new Window());
        var bucketHash = Convert.ToHexString(System.Security.Cryptography.SHA1.HashData(Encoding.UTF8.GetBytes(bucket)))[..16].ToLowerInvariant();
        int remaining;
        double resetAfter;
        bool exhausted;
        lock (window)
        {
            var now = DateTimeOffset.UtcNow;
            if (now >= window.ResetAt)
            {
                window.Used = 0;
                window.ResetAt = now + RateWindow;
            }

            exhausted = window.Used >= RateLimit && !interaction;
            if (!exhausted)
            {
                window.Used++;
            }

            remaining = Math.Max(0, RateLimit - window.Used);
            resetAfter = Math.Max(0.001, (window.ResetAt - now).TotalSeconds);
        }

        var headers = ctx.Response.Headers;
        headers["X-RateLimit-Limit"] = RateLimit.ToString(CultureInfo.InvariantCulture);
        headers["X-RateLimit-Remaining"] = remaining.ToString(CultureInfo.InvariantCulture);
        headers["X-RateLimit-Reset-After"] = resetAfter.ToString("0.000", CultureInfo.InvariantCulture);
        headers["X-RateLimit-Reset"] = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 + resetAfter).ToString("0.000", CultureInfo.InvariantCulture);
        headers["X-RateLimit-Bucket"] = bucketHash;

        if (TakeFault(template, before: true) is { } fault)
        {
            headers["Retry-After"] = Math.Ceiling(fault.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Scope"] = fault.Global ? "global" : "user";
            if (fault.Global)
            {
                headers["X-RateLimit-Global"] = "true";
            }

            return Results.Json(new { message = "You are being rate limited.", retry_after = fault.RetryAfter.TotalSeconds, global = fault.Global },
                statusCode: 429);
        }

        if (exhausted)
        {
            Interlocked.Increment(ref _naturalRateLimits);
            headers["Retry-After"] = Math.Ceiling(resetAfter).ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Scope"] = "user";
            return Results.Json(new { message = "You are being rate limited.", retry_after = resetAfter, global = false }, statusCode: 429);
        }

        var inFlight = _inFlight.AddOrUpdate(key, 1, (_, n) => n + 1);
        try
        {
            if (remaining == 0)
            {
                lock (_lock)
                {
                    _maxInFlightPerBucket = Math.Max(_maxInFlightPerBucket, inFlight);
                }
            }

            var result = await handler();
            if (TakeFault(template, before: false) is { } lost)
            {
                return Results.Json(new { message = "Bad Gateway", code = 0 }, statusCode: lost.Status);
            }

            return result;
        }
        finally
        {
            _inFlight.AddOrUpdate(key, 0, (_, n) => n - 1);
        }
    }

    private Fault? TakeFault(string template, bool before)
    {
        lock (_faults)
        {
            var all = _faults.ToList();
            var index = all.FindIndex(f => f.Template == template && f.AfterProcessing != before);
            if (index < 0)
            {
                return null;
            }

            var fault = all[index];
            _faults.Clear();
            foreach (var f in all.Where((_, i) => i != index))
            {
                _faults.Enqueue(f);
            }

            return fault;
        }
    }

    private static string MajorOf(string template, HttpContext ctx)
    {
        foreach (var name in new[] { "channel_id", "guild_id", "webhook_id", "interaction_id" })
        {
            if (template.Contains($"{{{name}}}", StringComparison.Ordinal))
            {
                return (string)ctx.Request.RouteValues[name]!;
            }
        }

        return "";
    }

    private async Task GatewayAsync(HttpContext ctx)
    {
        if (!ctx.WebSockets.IsWebSocketRequest || ctx.Request.Query["v"] != "10" || ctx.Request.Query["encoding"] != "json")
        {
            ctx.Response.StatusCode = 400;
            return;
        }

        if (!GatewayOpen)
        {
            ctx.Response.StatusCode = 503;
            return;
        }

        using var socket = await ctx.WebSockets.AcceptWebSocketAsync();
        var connection = new GatewayConnection(socket, this);
        await connection.SendAsync(new JsonObject { ["op"] = 10, ["d"] = new JsonObject { ["heartbeat_interval"] = HeartbeatInterval.TotalMilliseconds } });
        GatewaySession? session = null;
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var message = await connection.ReceiveAsync();
                if (message is null)
                {
                    break;
                }

                var op = message["op"]!.GetValue<int>();
                var d = message["d"];
                switch (op)
                {
                    case 1:
                        if (session?.Bot.SuppressHeartbeatAcks != true)
                        {
                            await connection.SendAsync(new JsonObject { ["op"] = 11 });
                        }

                        break;
                    case 2:
                        var token = d?["token"]?.GetValue<string>() ?? "";
                        if (!_botsByToken.TryGetValue(token, out var bot))
                        {
                            await connection.CloseAsync(4004);
                            return;
                        }

                        var intents = d?["intents"]?.GetValue<int>() ?? 0;
                        if ((intents & 32768) != 0 && !bot.MessageContentAllowed)
                        {
                            await connection.CloseAsync(4014);
                            return;
                        }

                        session = new GatewaySession(Guid.NewGuid().ToString("N"), bot, DateTimeOffset.UtcNow);
                        _sessions[session.Id] = session;
                        session.Attach(connection, afterSequence: long.MaxValue);
                        await session.DispatchAsync("READY", new JsonObject
                        {
                            ["v"] = 10,
                            ["user"] = new JsonObject { ["id"] = bot.UserId, ["username"] = bot.Username, ["bot"] = true },
                            ["session_id"] = session.Id,
                            ["resume_gateway_url"] = BaseUrl.Replace("http://", "ws://", StringComparison.Ordinal) + "/resume",
                            ["application"] = new JsonObject { ["id"] = bot.ApplicationId, ["flags"] = 0 },
                            ["guilds"] = new JsonArray(new JsonObject { ["id"] = GuildId, ["unavailable"] = true }),
                        });
                        break;
                    case 6:
                        var sessionId = d?["session_id"]?.GetValue<string>() ?? "";
                        var resumeToken = d?["token"]?.GetValue<string>() ?? "";
                        var seq = d?["seq"]?.GetValue<long>() ?? 0;
                        if (!_sessions.TryGetValue(sessionId, out var existing) || existing.Bot.Token != resumeToken)
                        {
                            await connection.SendAsync(new JsonObject { ["op"] = 9, ["d"] = false });
                            break;
                        }

                        session = existing;
                        await session.ResumeAsync(connection, seq);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
        }
        finally
        {
            session?.Detach(connection);
        }
    }

    private sealed record Fault(string Template, int Status, TimeSpan RetryAfter, bool Global, bool AfterProcessing);

    private sealed class Window
    {
        public int Used;
        public DateTimeOffset ResetAt = DateTimeOffset.MinValue;
    }

    /// <summary>A gateway session: its event log (for replay on resume) and the connection attached now, if any.</summary>
    private sealed class GatewaySession(string id, FakeBot bot, DateTimeOffset created)
    {
        private readonly List<(long Seq, string Type, string Data)> _log = [];
        private readonly SemaphoreSlim _lock = new(1, 1);
        private long _seq;

        public string Id { get; } = id;

        public FakeBot Bot { get; } = bot;

        public DateTimeOffset Created { get; } = created;

        public GatewayConnection? Connection { get; private set; }

        public void Attach(GatewayConnection connection, long afterSequence) => Connection = connection;

        public void Detach(GatewayConnection connection)
        {
            if (Connection == connection)
            {
                Connection = null;
            }
        }

        public async Task DispatchAsync(string type, JsonNode data)
        {
            await _lock.WaitAsync();
            try
            {
                var seq = ++_seq;
                var json = data.ToJsonString();
                _log.Add((seq, type, json));
                if (Connection is { } connection)
                {
                    await connection.TrySendDispatchAsync(seq, type, json);
                }
            }
            finally
            {
                _lock.Release();
            }
        }

        public async Task ResumeAsync(GatewayConnection connection, long afterSequence)
        {
            await _lock.WaitAsync();
            try
            {
                Connection = connection;
                foreach (var (seq, type, json) in _log.Where(e => e.Seq > afterSequence))
                {
                    await connection.TrySendDispatchAsync(seq, type, json);
                }

                var resumed = ++_seq;
                _log.Add((resumed, "RESUMED", "{}"));
                await connection.TrySendDispatchAsync(resumed, "RESUMED", "{}");
            }
            finally
            {
                _lock.Release();
            }
        }
    }

    private sealed class GatewayConnection(WebSocket socket, FakeDiscordServer server)
    {
        private readonly SemaphoreSlim _send = new(1, 1);

        public bool IsOpen => socket.State == WebSocketState.Open;

        public WebSocketState State => socket.State;

        public void Abort() => socket.Abort();

        public async Task CloseAsync(int code)
        {
            try
            {
                await socket.CloseOutputAsync((WebSocketCloseStatus)code, $"closed with {code}", CancellationToken.None);
            }
            catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }

        public Task SendAsync(JsonObject payload) => SendRawAsync(payload.ToJsonString());

        public async Task TrySendDispatchAsync(long seq, string type, string data)
        {
            try
            {
                await SendRawAsync($"{{\"op\":0,\"s\":{seq},\"t\":\"{type}\",\"d\":{data}}}");
            }
            catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException or IOException)
            {
                // Lost with the connection; the client replays it by resuming.
            }
        }

        private async Task SendRawAsync(string json)
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            await _send.WaitAsync();
            try
            {
                // Long messages go out in several frames, as Discord's may.
                for (var offset = 0; offset < bytes.Length; offset += server.FrameSize)
                {
                    var count = Math.Min(server.FrameSize, bytes.Length - offset);
                    await socket.SendAsync(bytes.AsMemory(offset, count), WebSocketMessageType.Text,
                        endOfMessage: offset + count >= bytes.Length, CancellationToken.None);
                }
            }
            finally
            {
                _send.Release();
            }
        }

        public async Task<JsonObject?> ReceiveAsync()
        {
            var buffer = new byte[8192];
            using var message = new MemoryStream();
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return null;
                }

                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    if (message.Length > 4096)
                    {
                        await CloseAsync(4002);
                        return null;
                    }

                    return JsonNode.Parse(message.ToArray())?.AsObject();
                }
            }
        }
    }
}
