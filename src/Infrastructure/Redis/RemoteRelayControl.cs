using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// <see cref="IRelayControl"/> of an API instance beside a server bot: asks the relay server
/// (<see cref="RedisRelayControl"/>) only when the session has an unfinished request, so closing a finished chat
/// never depends on the server bot being up.
/// </summary>
public sealed class RemoteRelayControl(IRelayRequestRepository requests, RedisRelayControl relay) : IRelayControl
{
    public async Task<RelayRequestId?> CancelUnfinishedAsync(ChatId chatId, CancellationToken cancellationToken) =>
        await requests.GetUnfinishedForSessionAsync(chatId, cancellationToken) is null
            ? null
            : await relay.CancelUnfinishedAsync(chatId, cancellationToken);

    public Task<StreamProgress?> GetProgressAsync(RelayRequestId requestId, CancellationToken cancellationToken) =>
        relay.GetProgressAsync(requestId, cancellationToken);
}
