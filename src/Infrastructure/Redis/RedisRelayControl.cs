using System.Collections.Concurrent;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>One call from an API instance to the relay server, and its reply (JSON on Redis pub/sub).</summary>
internal sealed record RelayControlCall(Guid Id, string ReplyTo, string Operation, Guid? SessionId, Guid? RequestId)
{
    public const string Cancel = "cancel";
    public const string Progress = "progress";
    public const string Embed = "embed";

    /// <summary>What an <see cref="Embed"/> call asks for.</summary>
    public EmbeddingsAsked? Embedding { get; init; }
}

/// <remarks>
/// An embed's reply holds the vectors (base64 of little-endian floats) and what came with them, or the refusal's
/// <see cref="ErrorStatus"/>, message and parameter; a relay server that left the call to another replies with neither.
/// </remarks>
internal sealed record RelayControlReply(Guid Id, Guid? RequestId, string? Text, int? LastSeq)
{
    public IReadOnlyList<string>? Vectors { get; init; }

    public int PromptTokens { get; init; }

    public string? Model { get; init; }

    public Guid? WorkerId { get; init; }

    public int? ErrorStatus { get; init; }

    public string? Error { get; init; }

    public string? ErrorParam { get; init; }
}

/// <summary>
/// <see cref="IRelayControl"/> for an API instance that does not run the relay server (Relay:Dispatcher=External):
/// each call is published on the relay server's control channel and answered on this instance's own reply channel
/// by <see cref="RedisRelayControlServer"/> in the server bot, which cancels under the request's gate and knows the
/// text streamed so far. PUBLISH says how many servers heard the call, so the client waits for exactly that many
/// replies (or <see cref="ReplyTimeout"/>). With no relay server listening, or Redis down, a cancel is refused with
/// a 503 (nothing else may change a request the server bot could be answering) and progress is unknown (null).
/// </summary>
public sealed class RedisRelayControl(RedisConnection connection, RedisOutages outages) : IRelayControl, IAsyncDisposable
{
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(10);

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private readonly string _replyChannel = $"{connection.KeyPrefix}relay:reply:{Guid.NewGuid():N}";
    private readonly ConcurrentDictionary<Guid, PendingCall> _calls = new();
    private readonly SemaphoreSlim _subscribing = new(1, 1);
    private bool _subscribed;
    private Action<RedisChannel, RedisValue>? _receive;
    private int _disposed;

    internal static string ControlChannel(RedisConnection connection) => $"{connection.KeyPrefix}relay:control";

    public async Task<RelayRequestId?> CancelUnfinishedAsync(ChatId chatId, CancellationToken cancellationToken)
    {
        IReadOnlyList<RelayControlReply> replies;
        try
        {
            replies = await CallAsync(RelayControlCall.Cancel, chatId.Value, null, cancellationToken);
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("relay cancel", "refused", ex);
            throw new ServiceUnavailableException(
                "The generation cannot be stopped right now (the relay server is out of reach); try again in a moment.");
        }

        if (replies.Count == 0)
        {
            throw new ServiceUnavailableException(
                "The generation cannot be stopped right now: no relay server (server bot) answered; try again in a moment.");
        }

        return replies.FirstOrDefault(r => r.RequestId is not null)?.RequestId is { } cancelled
            ? new RelayRequestId(cancelled)
            : null;
    }

    public async Task<StreamProgress?> GetProgressAsync(RelayRequestId requestId, CancellationToken cancellationToken)
    {
        try
        {
            var replies = await CallAsync(RelayControlCall.Progress, null, requestId.Value, cancellationToken);
            return replies.Where(r => r.Text is not null).MaxBy(r => r.LastSeq) is { } best
                ? new StreamProgress(best.Text!, best.LastSeq ?? 0)
                : null;
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("relay progress", "shown without the text so far", ex);
            return null;
        }
    }

    /// <summary>
    /// Asks the relay servers for the vectors of <paramref name="asked"/>: the one that claims the call sends the embeds
    /// to the hosts and replies with the vectors, or with why not. No relay server (or none that answered in
    /// <paramref name="wait"/>) is a 503.
    /// </summary>
    internal async Task<RelayControlReply> EmbedAsync(EmbeddingsAsked asked, TimeSpan wait, CancellationToken cancellationToken)
    {
        IReadOnlyList<RelayControlReply> replies;
        try
        {
            replies = await CallAsync(RelayControlCall.Embed, null, null, cancellationToken, asked, wait);
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("relay embed", "refused", ex);
            throw new ServiceUnavailableException(
                "The embeddings cannot be made right now (the relay server is out of reach); try again in a moment.");
        }

        return replies.FirstOrDefault(r => r.Vectors is not null || r.ErrorStatus is not null)
               ?? throw new ServiceUnavailableException(
                   "The embeddings cannot be made right now: no relay server (server bot) answered; try again in a moment.");
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_subscribed)
        {
            try
            {
                await connection.UnsubscribeAsync(_replyChannel);
            }
            catch (Exception ex) when (RedisOutages.IsOutage(ex))
            {
                // The multiplexer drops the subscription when it closes.
            }
        }

        _subscribing.Dispose();
    }

    private async Task<IReadOnlyList<RelayControlReply>> CallAsync(
        string operation, Guid? chatId, Guid? requestId, CancellationToken cancellationToken,
        EmbeddingsAsked? embedding = null, TimeSpan? wait = null)
    {
        await EnsureSubscribedAsync(cancellationToken);
        var call = new RelayControlCall(Guid.NewGuid(), _replyChannel, operation, chatId, requestId) { Embedding = embedding };
        var pending = new PendingCall();
        _calls[call.Id] = pending;
        try
        {
            var subscriber = await connection.GetSubscriberAsync();
            var listeners = await connection.WithinTimeout(subscriber.PublishAsync(
                ControlChannel(connection), JsonSerializer.SerializeToUtf8Bytes(call, s_json)));
            if (listeners == 0)
            {
                return [];
            }

            pending.Expect((int)listeners);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(wait ?? ReplyTimeout);
            try
            {
                await pending.Complete.Task.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // A relay server that did not answer in time: go on with the replies that came.
            }

            return pending.Replies;
        }
        finally
        {
            _calls.TryRemove(call.Id, out _);
        }
    }

    private async Task EnsureSubscribedAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _subscribed))
        {
            return;
        }

        await _subscribing.WaitAsync(cancellationToken);
        try
        {
            if (!_subscribed)
            {
                var subscriber = await connection.GetSubscriberAsync();
                // Confirmed before the first call goes out: a reply sent before Redis had the SUBSCRIBE would be lost
                // (the multiplexer's own task may complete first), and the call would wait out its time for nothing.
                // One handler for every attempt (see RedisConnection.SubscribeAsync); attempts run one at a time.
                _receive ??= (_, message) => Receive(message);
                await connection.SubscribeAsync(subscriber, _replyChannel, _receive);
                Volatile.Write(ref _subscribed, true);
            }
        }
        finally
        {
            _subscribing.Release();
        }
    }

    private void Receive(RedisValue message)
    {
        RelayControlReply? reply;
        try
        {
            reply = JsonSerializer.Deserialize<RelayControlReply>((byte[])message!, s_json);
        }
        catch (JsonException)
        {
            return;
        }

        if (reply is not null && _calls.TryGetValue(reply.Id, out var pending))
        {
            pending.Add(reply);
        }
    }

    /// <summary>Replies to one call; complete once as many arrived as servers heard the call.</summary>
    private sealed class PendingCall
    {
        private readonly List<RelayControlReply> _replies = [];
        private int _expected = int.MaxValue;

        public TaskCompletionSource Complete { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyList<RelayControlReply> Replies
        {
            get
            {
                lock (_replies)
                {
                    return [.. _replies];
                }
            }
        }

        public void Expect(int listeners)
        {
            lock (_replies)
            {
                _expected = listeners;
                CompleteWhenAllArrived();
            }
        }

        public void Add(RelayControlReply reply)
        {
            lock (_replies)
            {
                _replies.Add(reply);
                CompleteWhenAllArrived();
            }
        }

        private void CompleteWhenAllArrived()
        {
            if (_replies.Count >= _expected)
            {
                Complete.TrySetResult();
            }
        }
    }
}
