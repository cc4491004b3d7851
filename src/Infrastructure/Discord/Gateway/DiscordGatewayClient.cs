using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MeatLizard.Infrastructure.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord.Gateway;

/// <summary>
/// A Discord Gateway v10 session over <see cref="ClientWebSocket"/> and System.Text.Json: HELLO, heartbeats (the
/// first after a random part of the interval), zombie detection when an ACK is missing, IDENTIFY with the given
/// intents, READY, RESUME on <c>resume_gateway_url</c> (Discord replays what was missed; an event seen twice is
/// passed on once), op 7 and op 9, resumable versus fatal close codes, reconnects with backoff, and the
/// 120-per-minute send limit. Messages may span several WebSocket frames. The handler must be quick (queue work):
/// ACKs are read on the same loop.
/// </summary>
public sealed partial class DiscordGatewayClient(
    DiscordRestClient rest,
    DiscordOptions options,
    GatewayIntents intents,
    GatewayTimings timings,
    TimeProvider time,
    ILogger<DiscordGatewayClient> logger)
{
    public const int MaxFrameBytes = 4096;

    private readonly TaskCompletionSource<GatewayReady> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Queue<DateTimeOffset> _sent = new();
    private readonly SemaphoreSlim _firstConnection = new(0, 1);
    private string? _sessionId;
    private string? _resumeUrl;
    private long? _sequence;
    private DateTimeOffset _lastIdentify = DateTimeOffset.MinValue;
    private int _identifies;
    private int _resumes;

    /// <summary>Receives every dispatch once, in order (READY and RESUMED included).</summary>
    public Func<GatewayDispatch, CancellationToken, Task> OnDispatch { get; set; } = (_, _) => Task.CompletedTask;

    /// <summary>Completes with the first READY.</summary>
    public Task<GatewayReady> Ready => _ready.Task;

    public int Identifies => _identifies;

    public int Resumes => _resumes;

    /// <summary>
    /// Runs the session until <paramref name="cancellationToken"/> is cancelled (then closes with 1000, ending it),
    /// reconnecting as Discord asks. Throws <see cref="DiscordGatewayFatalException"/> on a fatal close code.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        string? gatewayUrl = options.GatewayUrl;
        while (!cancellationToken.IsCancellationRequested)
        {
            GatewayCloseOutcome outcome;
            var established = false;
            try
            {
                gatewayUrl ??= (await rest.GetGatewayBotAsync(cancellationToken)).Url;
                var resuming = _sessionId is not null && _sequence is not null && _resumeUrl is not null;
                var url = resuming ? _resumeUrl! : gatewayUrl;
                (outcome, established) = await RunConnectionAsync(Connect(url), resuming, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (DiscordUnauthorizedException)
            {
                outcome = GatewayCloseOutcome.FatalWith(4004, "Discord rejected the bot token (HTTP 401 on GET /gateway/bot): check Discord:BotToken.");
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // A drop without a close code (or Discord unreachable): resume when the session allows it.
                LogDropped(logger, ex.GetType().Name, ex.Message);
                outcome = GatewayCloseOutcome.Resume;
            }

            if (outcome.Fatal is { } fatal)
            {
                _ready.TrySetException(fatal);
                throw fatal;
            }

            if (!outcome.CanResume)
            {
                _sessionId = null;
                _sequence = null;
                _resumeUrl = null;
            }

            failures = established ? 0 : failures + 1;
            var delay = failures == 0
                ? timings.ReconnectDelay * Random.Shared.NextDouble()
                : TimeSpan.FromMilliseconds(Math.Min(timings.MaxReconnectDelay.TotalMilliseconds,
                    timings.ReconnectDelay.TotalMilliseconds * Math.Pow(2, failures - 1) * (0.5 + Random.Shared.NextDouble())));
            try
            {
                await Task.Delay(delay, time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static Uri Connect(string url)
    {
        var builder = new UriBuilder(url);
        builder.Query = "v=10&encoding=json";
        return builder.Uri;
    }

    private async Task<(GatewayCloseOutcome Outcome, bool Established)> RunConnectionAsync(Uri uri, bool resuming, CancellationToken stopping)
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(uri, stopping);
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var hello = await ReceiveAsync(socket, stopping);
        if (hello is null)
        {
            return (GatewayCloseOutcome.FromClose(socket.CloseStatus, socket.CloseStatusDescription), false);
        }

        using var helloDoc = hello;
        if (helloDoc.RootElement.GetProperty("op").GetInt32() != 10)
        {
            await CloseQuietlyAsync(socket, (WebSocketCloseStatus)4000, "expected hello");
            return (GatewayCloseOutcome.Resume, false);
        }

        var interval = TimeSpan.FromMilliseconds(helloDoc.RootElement.GetProperty("d").GetProperty("heartbeat_interval").GetDouble());
        var heartbeat = new HeartbeatState();
        var heartbeats = HeartbeatAsync(socket, interval, heartbeat, connection.Token);
        var established = false;
        try
        {
            if (resuming)
            {
                Interlocked.Increment(ref _resumes);
                await SendAsync(socket, new JsonObject
                {
                    ["op"] = 6,
                    ["d"] = new JsonObject { ["token"] = options.BotToken, ["session_id"] = _sessionId, ["seq"] = _sequence },
                }, stopping);
            }
            else
            {
                await IdentifyAsync(socket, stopping);
            }

            while (true)
            {
                var message = await ReceiveAsync(socket, stopping);
                if (message is null)
                {
                    return (heartbeat.Zombie ? GatewayCloseOutcome.Resume : GatewayCloseOutcome.FromClose(socket.CloseStatus, socket.CloseStatusDescription), established);
                }

                using var document = message;
                var root = document.RootElement;
                switch (root.GetProperty("op").GetInt32())
                {
                    case 0:
                        var type = root.GetProperty("t").GetString() ?? "";
                        var sequence = root.GetProperty("s").GetInt64();
                        if (_sequence is { } last && sequence <= last)
                        {
                            continue; // Replayed on resume and already passed on.
                        }

                        _sequence = sequence;
                        var data = root.GetProperty("d").Clone();
                        if (type == "READY")
                        {
                            established = true;
                            _sessionId = data.GetProperty("session_id").GetString();
                            _resumeUrl = data.TryGetProperty("resume_gateway_url", out var resume) ? resume.GetString() : null;
                            var ready = new GatewayReady(
                                data.GetProperty("user").GetProperty("id").GetString()!,
                                data.TryGetProperty("application", out var app) && app.ValueKind == JsonValueKind.Object
                                    ? app.GetProperty("id").GetString()
                                    : null,
                                _sessionId!);
                            LogReady(logger, ready.UserId, ready.SessionId);
                            _ready.TrySetResult(ready);
                        }
                        else if (type == "RESUMED")
                        {
                            established = true;
                            LogResumed(logger, _sessionId ?? "");
                        }

                        try
                        {
                            await OnDispatch(new GatewayDispatch(type, sequence, data), stopping);
                        }
                        catch (Exception ex) when (ex is not OperationCanceledException)
                        {
                            LogHandlerFailed(logger, type, ex);
                        }

                        break;
                    case 1:
                        await SendHeartbeatAsync(socket, stopping);
                        break;
                    case 7:
                        LogReconnectAsked(logger);
                        await CloseQuietlyAsync(socket, (WebSocketCloseStatus)4000, "reconnect requested");
                        return (GatewayCloseOutcome.Resume, true);
                    case 9:
                        var resumable = root.TryGetProperty("d", out var d) && d.ValueKind == JsonValueKind.True;
                        LogInvalidSession(logger, resumable);
                        await CloseQuietlyAsync(socket, (WebSocketCloseStatus)4000, "invalid session");
                        if (!resumable)
                        {
                            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(100, 1000)), time, stopping);
                        }

                        return (resumable ? GatewayCloseOutcome.Resume : GatewayCloseOutcome.Reidentify, established);
                    case 11:
                        heartbeat.Acknowledged = true;
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Closing with 1000 ends the session for good: we are stopping.
            await CloseQuietlyAsync(socket, WebSocketCloseStatus.NormalClosure, "stopping");
            throw;
        }
        finally
        {
            await connection.CancelAsync();
            await heartbeats.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task IdentifyAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var wait = _lastIdentify + timings.IdentifyInterval - time.GetUtcNow();
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, time, cancellationToken);
        }

        _lastIdentify = time.GetUtcNow();
        _sequence = null;
        Interlocked.Increment(ref _identifies);
        await SendAsync(socket, new JsonObject
        {
            ["op"] = 2,
            ["d"] = new JsonObject
            {
                ["token"] = options.BotToken,
                ["intents"] = (int)intents,
                ["properties"] = new JsonObject { ["os"] = "linux", ["browser"] = "meatlizard", ["device"] = "meatlizard" },
            },
        }, cancellationToken);
    }

    private async Task HeartbeatAsync(ClientWebSocket socket, TimeSpan interval, HeartbeatState state, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(interval * Random.Shared.NextDouble(), time, cancellationToken);
            while (!cancellationToken.IsCancellationRequested)
            {
                if (!state.Acknowledged)
                {
                    // No ACK since our last heartbeat: the connection is a zombie. Not 1000/1001, so we can resume.
                    state.Zombie = true;
                    LogZombie(logger);
                    socket.Abort();
                    return;
                }

                state.Acknowledged = false;
                await SendHeartbeatAsync(socket, cancellationToken);
                await Task.Delay(interval, time, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }
    }

    private Task SendHeartbeatAsync(ClientWebSocket socket, CancellationToken cancellationToken) =>
        SendAsync(socket, new JsonObject { ["op"] = 1, ["d"] = _sequence }, cancellationToken);

    private async Task SendAsync(ClientWebSocket socket, JsonObject payload, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(payload.ToJsonString());
        if (bytes.Length > MaxFrameBytes)
        {
            throw new InvalidOperationException($"A gateway payload holds at most {MaxFrameBytes} bytes (got {bytes.Length}).");
        }

        await _sendLock.WaitAsync(cancellationToken);
        try
        {
            while (true)
            {
                var now = time.GetUtcNow();
                while (_sent.Count > 0 && _sent.Peek() <= now - timings.SendWindow)
                {
                    _sent.Dequeue();
                }

                if (_sent.Count < timings.SendLimit)
                {
                    break;
                }

                await Task.Delay(_sent.Peek() + timings.SendWindow - now, time, cancellationToken);
            }

            _sent.Enqueue(time.GetUtcNow());
            await socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Reads one whole message (however many frames it spans); null when the server closed.</summary>
    private static async Task<JsonDocument?> ReceiveAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(8192);
        while (true)
        {
            var memory = buffer.GetMemory(8192);
            var result = await socket.ReceiveAsync(memory, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            buffer.Advance(result.Count);
            if (result.EndOfMessage)
            {
                return Parse(buffer.WrittenMemory);
            }
        }
    }

    /// <summary>
    /// The event's JSON, with half a surrogate pair escaped alone (<c>"\ud800"</c>: valid JSON, not valid Unicode) read
    /// as U+FFFD: otherwise every handler that reads that string (a member's text or name, a command's option) throws,
    /// and the event is lost to it. Only a payload with a surrogate's escape in it (<c>\uD800</c>–<c>\uDFFF</c>) is
    /// looked at again.
    /// </summary>
    private static JsonDocument Parse(ReadOnlyMemory<byte> payload)
    {
        if (payload.Span.IndexOf("\\ud"u8) >= 0 || payload.Span.IndexOf("\\uD"u8) >= 0)
        {
            var text = Encoding.UTF8.GetString(payload.Span);
            var repaired = LoneSurrogates.Repair(text);
            if (!ReferenceEquals(repaired, text))
            {
                return JsonDocument.Parse(repaired);
            }
        }

        return JsonDocument.Parse(payload);
    }

    private static async Task CloseQuietlyAsync(ClientWebSocket socket, WebSocketCloseStatus status, string reason)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.CloseOutputAsync(status, reason, timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private sealed class HeartbeatState
    {
        public volatile bool Acknowledged = true;
        public volatile bool Zombie;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Discord gateway ready as user {UserId} (session {SessionId})")]
    private static partial void LogReady(ILogger logger, string userId, string sessionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Discord gateway session {SessionId} resumed")]
    private static partial void LogResumed(ILogger logger, string sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Discord gateway connection dropped ({Kind}: {Reason}); reconnecting")]
    private static partial void LogDropped(ILogger logger, string kind, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling the gateway event {Type} failed")]
    private static partial void LogHandlerFailed(ILogger logger, string type, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Discord asked us to reconnect (op 7); resuming")]
    private static partial void LogReconnectAsked(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Discord gateway: invalid session (resumable: {Resumable})")]
    private static partial void LogInvalidSession(ILogger logger, bool resumable);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Discord gateway: no heartbeat ACK since the last heartbeat; reconnecting")]
    private static partial void LogZombie(ILogger logger);
}
