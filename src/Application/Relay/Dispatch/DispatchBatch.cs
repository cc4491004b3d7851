using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay.Hosts;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>
/// One dispatch of claimed requests to the hosts that accept work: planned (<see cref="DispatchPlanner"/>), then the
/// whole batch stored in one statement, each request only if it is still pending — a cancel in this process or another
/// may have come first, and it must not be undone — in the claim's transaction, and only those stored sent, once it
/// commits. Those whose hosts are all busy go back to the queue, keeping their places, and are told where they stand.
/// </summary>
public sealed partial class DispatchBatch(
    IRelayRequestRepository requests,
    ModelHosts hosts,
    DispatchPlanner planner,
    RequestSender sender,
    QueuePositions positions,
    UnplacedRequests unplaced,
    ILogger<DispatchBatch> logger)
{
    /// <summary>
    /// Plans the claimed requests and stores the batch, in the caller's transaction (the claim's): nothing is sent here.
    /// The hosts' counts stay held (<see cref="StoredDispatch.Placement"/>) until <see cref="SendAsync"/>, after the
    /// commit, so a dispatch side by side counts this batch's slots once they are stored.
    /// </summary>
    /// <returns>Null (nothing done) when no live host accepts requests.</returns>
    public async Task<StoredDispatch?> StoreAsync(IReadOnlyList<ClaimedRequest> claimed, CancellationToken cancellationToken)
    {
        // Placing holds the hosts' counts until the batch is stored, so dispatches running side by side never give a
        // host more than its slots.
        var placement = await hosts.PlaceAsync(requests, cancellationToken);
        try
        {
            if (placement.Hosts.Count == 0)
            {
                await placement.DisposeAsync();
                return null;
            }

            var plan = await planner.PlanAsync(claimed, placement, cancellationToken);
            hosts.QueueWaiting = plan.Waiting.Count > 0;
            if (plan.Waiting.Count > 0)
            {
                await requests.ReleaseClaimsAsync(plan.Waiting.Select(w => w.Request.Id).ToList(), cancellationToken);
            }

            // Stored before sent, so the worker's ack always finds the request dispatched. One statement: it needs no
            // transaction of its own to be stored as a whole, and it commits with the claim.
            var stored = await requests.TryUpdateManyAsync(plan.ToStore, RelayRequestStatus.Pending, cancellationToken);
            return new StoredDispatch(plan, placement, stored);
        }
        catch
        {
            await placement.DisposeAsync();
            throw;
        }
    }

    /// <summary>Once the batch is committed: sends what was stored, tells the rest where they stand.</summary>
    /// <returns>How many went back to the queue.</returns>
    public async Task<int> SendAsync(StoredDispatch dispatch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dispatch);
        var (plan, placement, stored) = dispatch;
        await placement.DisposeAsync();
        foreach (var (relayRequest, body, turns) in plan.Outgoing)
        {
            if (!stored.Contains(relayRequest.Id))
            {
                LogNoLongerPending(logger, relayRequest.Id.Value);
                continue;
            }

            await sender.SendAsync(relayRequest, await planner.WithTurnsAsync(body, turns, cancellationToken),
                cancellationToken);
        }

        if (plan.Waiting.Count > 0)
        {
            await positions.TellAsync(plan.Waiting, placement, cancellationToken);
        }

        foreach (var (id, model, needs) in plan.Unserved)
        {
            await unplaced.UnservedAsync(id, model, needs, placement.Models, cancellationToken);
        }

        return plan.Waiting.Count;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId} changed (cancelled or timed out) while it was being dispatched; not sent")]
    private static partial void LogNoLongerPending(ILogger logger, Guid requestId);
}

/// <summary>
/// A batch stored but not yet sent: its plan, the hosts' counts it holds until it is committed, and the requests the
/// conditional update stored (only those are sent).
/// </summary>
public sealed record StoredDispatch(DispatchPlan Plan, HostPlacement Placement, IReadOnlySet<RelayRequestId> Stored)
    : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Placement.DisposeAsync();
}
