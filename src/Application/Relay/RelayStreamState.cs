using System.Collections.Concurrent;
using System.Text;

namespace MeatLizard.Application.Relay;

/// <summary>
/// The text streamed so far for each request in flight and the sequence number of its last piece, so a stopped
/// generation keeps what it produced and a client that connects mid-answer is shown the beginning and continues
/// from the right delta.
/// </summary>
public sealed class RelayStreamState
{
    private readonly ConcurrentDictionary<Guid, Stream> _streams = new();

    public void Append(Guid requestId, int seq, string text)
    {
        var stream = _streams.GetOrAdd(requestId, _ => new Stream());
        lock (stream)
        {
            stream.Text.Append(text);
            stream.LastSeq = Math.Max(stream.LastSeq, seq);
        }
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

    /// <summary>Forgets a request that has ended.</summary>
    public void Remove(Guid requestId) => _streams.TryRemove(requestId, out _);

    private sealed class Stream
    {
        public StringBuilder Text { get; } = new();

        public int LastSeq { get; set; }
    }
}
