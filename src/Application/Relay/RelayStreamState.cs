using System.Collections.Concurrent;
using System.Text;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Relay;

/// <summary>
/// The text streamed so far for each request in flight and the sequence number of its last piece, so a stopped
/// generation keeps what it produced and a client that connects mid-answer is shown the beginning and continues
/// from the right delta. It also keeps each request as this process last stored it, so the worker's next envelope
/// is applied without reading the request back (the store stays conditional on the status, so a copy made stale by
/// another process is noticed there and read again). Pieces change nothing stored after the first, so a copy is also
/// read again once it has gone <see cref="CheckedEvery"/> without being stored or read: a request another process
/// ended meanwhile (a cancel asked at another API instance) is noticed within that while its host streams, and the
/// host is told to stop (<see cref="Outcomes.HostEnvelopes.StopEndedAsync"/>).
/// </summary>
public sealed class RelayStreamState(IClock clock)
{
    // Only a cache: entries of requests ended by another process are never removed here, so it is bounded.
    private const int MaxStored = 10_000;

    /// <summary>
    /// How long a request kept here is taken as stored without being read again. A piece of a long answer reads it about
    /// once a second: a primary-key read, for answers that last longer than that.
    /// </summary>
    public static readonly TimeSpan CheckedEvery = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<Guid, Stream> _streams = new();
    private readonly CountedMap<Guid, RelayRequest> _stored = new();

    /// <summary>When each kept request was last stored or read (UTC ticks).</summary>
    private readonly CountedMap<Guid, long> _checkedAt = new();

    public void Append(Guid requestId, int seq, string text)
    {
        var stream = _streams.GetOrAdd(requestId, _ => new Stream());
        lock (stream)
        {
            // Whole while each piece follows the one before, from its attempt's first (RelayRequest.SeqPerAttempt).
            // Pieces another server bot took, or one lost, leave a gap.
            stream.Whole &= RelayRequest.FollowsOn(stream.LastSeq, seq);
            stream.Text.Append(text);
            stream.LastSeq = Math.Max(stream.LastSeq, seq);
        }
    }

    /// <summary>
    /// The text clients were shown of the request's attempt, when this process has all of it: every piece from the
    /// attempt's first, none missing (with two server bots, each takes some of a host's envelopes). Null otherwise, or
    /// when nothing was streamed: the next attempt then writes the answer from the beginning.
    /// </summary>
    public string? WholeTextOf(Guid requestId)
    {
        if (!_streams.TryGetValue(requestId, out var stream))
        {
            return null;
        }

        lock (stream)
        {
            return stream.Whole && stream.Text.Length > 0 ? stream.Text.ToString() : null;
        }
    }

    /// <summary>
    /// The text of <paramref name="attempt"/> told by <paramref name="pieces"/> (of any attempts, in any order), when they
    /// hold all of it: every piece from the attempt's first, none missing. Null otherwise.
    /// </summary>
    public static string? WholeTextOf(IEnumerable<(int Seq, string Text)> pieces, int attempt)
    {
        var text = new StringBuilder();
        var last = 0;
        foreach (var (seq, piece) in pieces.Where(p => RelayRequest.AttemptOf(p.Seq) == attempt).OrderBy(p => p.Seq))
        {
            if (!RelayRequest.FollowsOn(last, seq))
            {
                return null;
            }

            text.Append(piece);
            last = seq;
        }

        return text.Length > 0 ? text.ToString() : null;
    }

    /// <summary>The text so far and the seq of its last piece; null when nothing was streamed.</summary>
    public (string Text, int LastSeq)? Peek(Guid requestId)
    {
        if (!_streams.TryGetValue(requestId, out var stream))
        {
            return null;
        }

        lock (stream)
        {
            return (stream.Text.ToString(), stream.LastSeq);
        }
    }

    /// <summary>The seq of the request's last piece; null when nothing was streamed.</summary>
    public int? LastSeqOf(Guid requestId)
    {
        if (!_streams.TryGetValue(requestId, out var stream))
        {
            return null;
        }

        lock (stream)
        {
            return stream.LastSeq;
        }
    }

    /// <summary>
    /// Keeps <paramref name="request"/> as it was just stored or read by this process (the caller holds its gate); with
    /// <paramref name="stored"/> false, one given back unchanged since it was taken: it is as fresh as when it was
    /// last stored or read (read now when it was not kept).
    /// </summary>
    public void RememberStored(RelayRequest request, bool stored = true)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_stored.Count >= MaxStored || _checkedAt.Count >= MaxStored)
        {
            _stored.Clear();
            _checkedAt.Clear();
        }

        var id = request.Id.Value;
        _stored[id] = request;
        if (stored)
        {
            _checkedAt[id] = clock.UtcNow.UtcTicks;
        }
        else
        {
            _checkedAt.TryAdd(id, clock.UtcNow.UtcTicks);
        }
    }

    /// <summary>
    /// Hands over the request as this process last stored it (null when unknown here, or kept unread for longer than
    /// <see cref="CheckedEvery"/>: read it again): the caller, holding its gate, changes it and gives it back with
    /// <see cref="RememberStored"/>.
    /// </summary>
    public RelayRequest? TakeStored(Guid requestId)
    {
        if (!_stored.TryRemove(requestId, out var request))
        {
            return null;
        }

        if (_checkedAt.TryGetValue(requestId, out var at) && clock.UtcNow.UtcTicks - at <= CheckedEvery.Ticks)
        {
            return request;
        }

        _checkedAt.TryRemove(requestId, out _);
        return null;
    }

    /// <summary>Forgets a request that has ended.</summary>
    public void Remove(Guid requestId)
    {
        _streams.TryRemove(requestId, out _);
        _stored.TryRemove(requestId, out _);
        _checkedAt.TryRemove(requestId, out _);
    }

    private sealed class Stream
    {
        public StringBuilder Text { get; } = new();

        public int LastSeq { get; set; }

        public bool Whole { get; set; } = true;
    }
}
