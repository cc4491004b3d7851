using System.Collections.Concurrent;
using System.Text;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Relay;

/// <summary>
/// The text streamed so far for each request in flight and the sequence number of its last piece, so a stopped
/// generation keeps what it produced and a client that connects mid-answer is shown the beginning and continues
/// from the right delta. It also keeps each request as this process last stored it, so the worker's next envelope
/// is applied without reading the request back (the store stays conditional on the status, so a copy made stale by
/// another process is noticed there and read again).
/// </summary>
public sealed class RelayStreamState
{
    // Only a cache: entries of requests ended by another process are never removed here, so it is bounded.
    private const int MaxStored = 10_000;

    private readonly ConcurrentDictionary<Guid, Stream> _streams = new();
    private readonly ConcurrentDictionary<Guid, RelayRequest> _stored = new();

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

    /// <summary>Keeps <paramref name="request"/> as it was just stored by this process (the caller holds its gate).</summary>
    public void RememberStored(RelayRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_stored.Count >= MaxStored)
        {
            _stored.Clear();
        }

        _stored[request.Id.Value] = request;
    }

    /// <summary>
    /// Hands over the request as this process last stored it (null when unknown here): the caller, holding its gate,
    /// changes it and gives it back with <see cref="RememberStored"/> once that change is stored.
    /// </summary>
    public RelayRequest? TakeStored(Guid requestId) => _stored.TryRemove(requestId, out var request) ? request : null;

    /// <summary>Forgets a request that has ended.</summary>
    public void Remove(Guid requestId)
    {
        _streams.TryRemove(requestId, out _);
        _stored.TryRemove(requestId, out _);
    }

    private sealed class Stream
    {
        public StringBuilder Text { get; } = new();

        public int LastSeq { get; set; }

        public bool Whole { get; set; } = true;
    }
}
