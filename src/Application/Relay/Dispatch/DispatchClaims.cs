using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>
/// Claims pending requests for one dispatch, with a lease, so dispatchers in other processes skip them; if this one dies
/// before dispatching them, they become claimable again when the lease runs out.
/// </summary>
public sealed partial class DispatchClaims(
    IRelayRequestRepository requests,
    IClock clock,
    IOptions<RelayOptions> options,
    ILogger<DispatchClaims> logger)
{
    /// <summary>Up to <paramref name="max"/> pending requests, each with its chat and the history its prompt needs.</summary>
    public Task<IReadOnlyList<ClaimedRequest>> ClaimAsync(int max, CancellationToken cancellationToken)
    {
        var now = clock.UtcNow;
        var relay = options.Value;
        return requests.ClaimPendingAsync(max, relay.MaxHistoryMessages, now, now + relay.DispatchLease, cancellationToken);
    }

    /// <summary>
    /// When a claim still held runs out (null: none is): one a dispatcher died holding is claimable by the others then,
    /// and no new question or answer need come to wake them for it.
    /// </summary>
    public Task<DateTimeOffset?> NextExpiryAsync(CancellationToken cancellationToken) =>
        requests.NextClaimExpiryAsync(clock.UtcNow, cancellationToken);

    /// <summary>Gives the claims back: the requests wait in their places (the way to the hosts is out, or only just back).</summary>
    public async Task HoldAsync(IReadOnlyList<ClaimedRequest> pending, CancellationToken cancellationToken)
    {
        await requests.ReleaseClaimsAsync(pending.Select(c => c.Request.Id).ToList(), cancellationToken);
        LogHeldForOutage(logger, pending.Count);
    }

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "{Count} request(s) wait: the way to the model hosts is out, or only just back")]
    private static partial void LogHeldForOutage(ILogger logger, int count);
}
