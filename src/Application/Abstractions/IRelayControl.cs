using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>The text streamed so far for a request in flight, and the sequence number of its last piece.</summary>
public sealed record StreamProgress(string Text, int LastSeq);

/// <summary>
/// What needs the process that runs the relay server (it holds each request's gate and the text streamed so far):
/// stopping a generation and telling how far one has got. In that process (embedded, the server bot) the answer is
/// local; an API instance beside a server bot (Relay:Dispatcher=External) asks the server bot.
/// </summary>
public interface IRelayControl
{
    /// <summary>Cancels the session's unfinished request; returns its id, or null when nothing was running.</summary>
    Task<RelayRequestId?> CancelUnfinishedAsync(ChatId chatId, CancellationToken cancellationToken);

    /// <summary>The text streamed so far for a request; null when nothing was streamed (or nobody knows).</summary>
    Task<StreamProgress?> GetProgressAsync(RelayRequestId requestId, CancellationToken cancellationToken);
}
