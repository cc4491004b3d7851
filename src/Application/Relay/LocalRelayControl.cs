using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Relay;

/// <summary>The relay server's controls in its own process.</summary>
public sealed class LocalRelayControl(RelayCancellation cancellation, RelayStreamState streams) : IRelayControl
{
    public Task<RelayRequestId?> CancelUnfinishedAsync(ChatId chatId, CancellationToken cancellationToken) =>
        cancellation.CancelUnfinishedAsync(chatId, cancellationToken);

    public Task<StreamProgress?> GetProgressAsync(RelayRequestId requestId, CancellationToken cancellationToken) =>
        Task.FromResult(streams.Peek(requestId.Value) is { } streamed ? new StreamProgress(streamed.Text, streamed.LastSeq) : null);
}
