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
// The fake Discord's Gateway: sessions, connections, heartbeats, resume and replay, and the test's control of them.
public sealed partial class FakeDiscordServer
{
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

    /// <summary>
    /// Dispatches an event to every session of the bot (logged for replay): two processes of one bot, unsharded, each
    /// receive every event, as at Discord.
    /// </summary>
    public async Task DispatchAsync(FakeBot bot, string type, JsonNode data)
    {
        foreach (var session in _sessions.Values.Where(s => s.Bot == bot).ToList())
        {
            await session.DispatchAsync(type, data.DeepClone());
        }
    }

    /// <summary>
    /// Dispatches an event whose data is the JSON text given as it is (for escapes a serializer would not write, such
    /// as half a surrogate pair alone, which Discord's JSON may carry as any JSON may).
    /// </summary>
    public async Task DispatchRawAsync(FakeBot bot, string type, string data)
    {
        using var _ = JsonDocument.Parse(data); // JSON all the same
        foreach (var session in _sessions.Values.Where(s => s.Bot == bot).ToList())
        {
            await session.DispatchAsync(type, data);
        }
    }

    public int SessionsOf(FakeBot bot) => _sessions.Values.Count(s => s.Bot == bot);

    public bool IsConnected(FakeBot bot) => SessionOf(bot)?.Connection is { IsOpen: true };

    private GatewaySession? SessionOf(FakeBot bot) =>
        _sessions.Values.Where(s => s.Bot == bot).OrderByDescending(s => s.Created).FirstOrDefault();

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

                        session = new GatewaySession(Guid.NewGuid().ToString("N"), bot, DateTimeOffset.UtcNow) { Intents = intents };
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

    /// <summary>A gateway session: its event log (for replay on resume) and the connection attached now, if any.</summary>
    private sealed class GatewaySession(string id, FakeBot bot, DateTimeOffset created)
    {
        private readonly List<(long Seq, string Type, string Data)> _log = [];
        private readonly SemaphoreSlim _lock = new(1, 1);
        private long _seq;

        public string Id { get; } = id;

        public FakeBot Bot { get; } = bot;

        public DateTimeOffset Created { get; } = created;

        /// <summary>The intents the session identified with: events of another intent never reach it.</summary>
        public int Intents { get; init; }

        public GatewayConnection? Connection { get; private set; }

        public void Attach(GatewayConnection connection, long afterSequence) => Connection = connection;

        public void Detach(GatewayConnection connection)
        {
            if (Connection == connection)
            {
                Connection = null;
            }
        }

        public Task DispatchAsync(string type, JsonNode data) => DispatchAsync(type, data.ToJsonString());

        public async Task DispatchAsync(string type, string json)
        {
            await _lock.WaitAsync();
            try
            {
                var seq = ++_seq;
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
