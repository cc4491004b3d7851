using System.Collections.Concurrent;
using System.Text;

namespace MeatLizard.Application.Relay;

/// <summary>
/// The text streamed so far for each request in flight, so a stopped generation keeps what it produced and a client
/// that connects mid-answer can be shown the beginning.
/// </summary>
public sealed class RelayStreamState
{
    private readonly ConcurrentDictionary<Guid, StringBuilder> _texts = new();

    public void Append(Guid requestId, string text)
    {
        var builder = _texts.GetOrAdd(requestId, _ => new StringBuilder());
        lock (builder)
        {
            builder.Append(text);
        }
    }

    public string? Peek(Guid requestId)
    {
        if (!_texts.TryGetValue(requestId, out var builder))
        {
            return null;
        }

        lock (builder)
        {
            return builder.ToString();
        }
    }

    /// <summary>Removes and returns the text of a request that has ended.</summary>
    public string? Take(Guid requestId) => _texts.TryRemove(requestId, out var builder) ? builder.ToString() : null;
}
