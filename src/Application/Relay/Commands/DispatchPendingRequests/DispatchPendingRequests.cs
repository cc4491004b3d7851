using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay.Dispatch;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Commands;

/// <summary>
/// Sends pending requests to the model hosts, each to one host that serves its chat's model and has a free slot (the
/// least loaded among several); the rest stay queued here, where order and fairness are decided — the claim takes them
/// in turns over users. A host still loading its model gets requests too: they wait there and are answered once the
/// model is ready, or the fallback answers when the relay's timeouts run out. With no live host that accepts requests
/// the fallback answers at once; a model that no live host serves is answered at once with a notice naming the models
/// that are. A process whose transport reaches none of the live hosts that take work — they dialled another API instance
/// — leaves the queue to the processes that do. Returns how many requests it handled.
/// </summary>
public sealed record DispatchPendingRequests(int Max = 64) : IRequest<int>;

public sealed class DispatchPendingRequestsHandler(
    DispatchClaims claims,
    DispatchBatch batch,
    UnplacedRequests unplaced,
    ModelHosts hosts,
    RelayWay way,
    QueueWakes wakes,
    IOptions<RelayOptions> options) : IRequestHandler<DispatchPendingRequests, int>
{
    public async Task<int> Handle(DispatchPendingRequests request, CancellationToken cancellationToken)
    {
        if (await hosts.OnlyElsewhereAsync(cancellationToken))
        {
            // The hosts that take work are reached through another process (another API instance they dialled): its
            // dispatcher takes the queue.
            return 0;
        }

        var turn = wakes.BeforeClaim();
        var pending = await claims.ClaimAsync(request.Max, cancellationToken);
        if (pending.Count == 0)
        {
            // Nothing claimable: what was left waiting for a slot before this claim is no longer in the queue.
            wakes.NoneLeftWaiting(turn);
            return 0;
        }

        if (way.IsOut)
        {
            // Nothing can reach a host now: the questions wait in their places until the way is back.
            await claims.HoldAsync(pending, turn, cancellationToken);
            return 0;
        }

        if (await batch.DispatchAsync(pending, turn, cancellationToken) is { } backInQueue)
        {
            // Those that went back to the queue do not count: a batch of only those must not look like a full one.
            return pending.Count - backInQueue;
        }

        if (way.HidesHosts || !await way.IsReachableAsync(cancellationToken)
            || hosts.KnewAHostWithin(options.Value.LateHostGrace))
        {
            // No host heard from because the way to them is out or only just back, or the one known a moment ago is late
            // with its heartbeat: the questions wait for the hosts' next heartbeats, which wake the dispatcher. The way
            // is asked first, even while a late host is waited for: its silence may be an outage, and one noted now
            // holds the questions through the hosts' catch-up after it too (and is told to a second server bot).
            hosts.AwaitHosts();
            await claims.HoldAsync(pending, turn, cancellationToken);
            return 0;
        }

        foreach (var candidate in pending)
        {
            await unplaced.NoHostAsync(candidate.Request.Id, cancellationToken);
        }

        return pending.Count;
    }
}
