using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>
/// One dispatch of claimed requests to the hosts that accept work: planned (<see cref="DispatchPlanner"/>), then the
/// whole batch stored in one statement, each request only if it is still pending — a cancel in this process or another
/// may have come first, and it must not be undone — and only those stored sent. Those whose hosts are all busy go back
/// to the queue, keeping their places, and are told where they stand; those only another process's hosts serve go back
/// too, and that process's dispatcher is woken for them.
/// </summary>
public sealed class DispatchBatch(
    IRelayRequestRepository requests,
    ModelHosts hosts,
    DispatchPlanner planner,
    RequestSender sender,
    QueuePositions positions,
    UnplacedRequests unplaced,
    QueueWakes wakes)
{
    /// <returns>
    /// How many went back to the queue (hosts busy, or only another instance's serve them); null (nothing done) when no
    /// live host accepts requests.
    /// </returns>
    public async Task<int?> DispatchAsync(IReadOnlyList<ClaimedRequest> claimed, QueueWakes.Turn turn,
        CancellationToken cancellationToken)
    {
        // Placing holds the hosts' counts until the batch is stored, so dispatches running side by side never give a
        // host more than its slots.
        await using var placement = await hosts.PlaceAsync(requests, cancellationToken);
        if (placement.Hosts.Count == 0)
        {
            return null;
        }

        var plan = await planner.PlanAsync(claimed, placement, cancellationToken);
        if (plan.Waiting.Count == 0)
        {
            wakes.NoneLeftWaiting(turn);
        }

        if (plan.Waiting.Count + plan.LeftToOthers.Count > 0)
        {
            // This one reads the hosts afresh at its next look when it left some to another instance's hosts (one may
            // have come online there since they were kept).
            if (plan.LeftToOthers.Count > 0)
            {
                hosts.ReadAgain();
            }

            await requests.ReleaseClaimsAsync(
                plan.Waiting.Select(w => w.Request.Id).Concat(plan.LeftToOthers.Select(r => r.Id)).ToList(), cancellationToken);
            if (plan.Waiting.Count > 0)
            {
                wakes.LeftWaitingForASlot(turn);
            }

            if (plan.LeftToOthers.Count > 0)
            {
                // The other instances' dispatchers were woken when the question was queued, and may have looked while
                // this one held it: woken again, now that it is claimable, rather than at their next poll.
                wakes.WakeOthers();
            }
        }

        // Stored before sent, so the worker's ack always finds the request dispatched. One statement: it needs no
        // transaction of its own to be stored as a whole.
        var stored = await requests.TryUpdateManyAsync(plan.ToStore, RelayRequestStatus.Pending, cancellationToken);
        await placement.DisposeAsync();

        await sender.SendStoredAsync(plan.Outgoing, stored, cancellationToken);

        if (plan.Waiting.Count > 0)
        {
            await positions.TellAsync(plan.Waiting, placement, cancellationToken);
        }

        foreach (var (id, model, needs) in plan.Unserved)
        {
            await unplaced.UnservedAsync(id, model, needs, placement.Models, cancellationToken);
        }

        return plan.Waiting.Count + plan.LeftToOthers.Count;
    }
}
