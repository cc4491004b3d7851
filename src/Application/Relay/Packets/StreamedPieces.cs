using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Relay.Packets;

/// <summary>
/// The pieces of an answer a host streamed: added to the request's stream here, kept for the other relay server
/// processes (<see cref="IAnswerPieces"/>), and told as delta events.
/// </summary>
public sealed class StreamedPieces(RelayStreamState streams, IAnswerPieces shared, IChatEvents events)
{
    /// <summary>The pieces that arrived together, published as one unit.</summary>
    public async Task StreamAsync(
        Guid requestId, Guid chatId, List<(int Seq, string Text)>? pieces, CancellationToken cancellationToken)
    {
        if (Deltas(requestId, chatId, pieces) is { } deltas)
        {
            await events.PublishAsync(deltas, cancellationToken);
        }
    }

    /// <summary>The pieces added to the request's stream, as the delta events that tell them; null when none came.</summary>
    public ChatEvent[]? Deltas(Guid requestId, Guid chatId, List<(int Seq, string Text)>? pieces)
    {
        if (pieces is null)
        {
            return null;
        }

        var deltas = new ChatEvent[pieces.Count];
        for (var i = 0; i < deltas.Length; i++)
        {
            var (seq, text) = pieces[i];
            streams.Append(requestId, seq, text);
            deltas[i] = new ChatEvent(ChatEventTypes.Delta, chatId, requestId, Seq: seq, Text: text);
        }

        shared.Keep(requestId, pieces);
        return deltas;
    }
}
