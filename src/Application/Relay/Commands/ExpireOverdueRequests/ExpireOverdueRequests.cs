using System.Diagnostics.CodeAnalysis;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Relay;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay.Hosts;
using MeatLizard.Application.Relay.Dispatch;

namespace MeatLizard.Application.Relay.Commands;

/// <summary>
/// Requests whose model host went quiet (no heartbeat for <c>Relay:WorkerTimeout</c>) or did not acknowledge them in time
/// go to another host (<see cref="HostFailures"/>: while attempts are left, or while another live host serves the model);
/// requests a host did not finish in time, and those no other host can take, are answered by the fallback. Time counts
/// only while the relay can reach its hosts (<see cref="RelayTransportHealth"/>): while Discord is out, nothing is
/// judged quiet or late for it, and a deadline passed during an outage moves on by the outage. It says when to look
/// again (<see cref="ExpiryPass.LookAgainAt"/>), so a deadline is kept when it comes, not at the next slow poll.
/// </summary>
public sealed record ExpireOverdueRequests : IRequest<ExpiryPass>;

/// <param name="Expired">How many requests went to another host or to the fallback.</param>
/// <param name="LookAgainAt">
/// The earliest moment something waiting on time is due if nothing else changes: a request still waiting on its host
/// late, or a claim a dispatcher holds run out (one that died holding it leaves its requests to the others then; one
/// known to be dead left them at once, in this pass), or another run's claim looked at again, should it die. Null
/// when nothing waits on a time.
/// </param>
public sealed record ExpiryPass(int Expired, DateTimeOffset? LookAgainAt);

public sealed class ExpireOverdueRequestsHandler(
    IRelayRequestRepository requests,
    RelayOutcomes outcomes,
    RelayRequestGate gate,
    QuietHosts quiet,
    HostFailures failures,
    RelayWay way,
    DispatchClaims claims) : IRequestHandler<ExpireOverdueRequests, ExpiryPass>
{
    public async Task<ExpiryPass> Handle(ExpireOverdueRequests request, CancellationToken cancellationToken)
    {
        var expired = 0;
        var lookAgainAt = await claims.FreeDeadAndNextExpiryAsync(cancellationToken);
        var inFlight = await requests.ListInFlightAsync(cancellationToken);
        var alive = await quiet.AliveAsync(inFlight, cancellationToken);
        bool? confirmed = null;

        // A request not late (yet, or any more: ended meanwhile) is left alone, noted for when it will be.
        bool NotLate([NotNullWhen(false)] RelayRequest? inFlightRequest)
        {
            if (inFlightRequest is not null && way.IsOverdue(inFlightRequest))
            {
                return false;
            }

            lookAgainAt = Earliest(lookAgainAt, inFlightRequest is null ? null : way.OverdueAt(inFlightRequest));
            return true;
        }

        foreach (var candidate in inFlight)
        {
            if (candidate.WorkerId is { } host && quiet.Judges(host)
                && ((alive is not null && !alive.Contains(host)) || quiet.LostInARestart(candidate, host))
                && await failures.GoesElsewhereAsync(candidate, anyHost: true, cancellationToken))
            {
                expired += await RequeueAsync(candidate, alive, cancellationToken);
                continue;
            }

            if (NotLate(candidate))
            {
                continue;
            }

            // Late for want of an answer: asked once whether the way works before anything is given up, since an
            // outage nothing has tried yet would otherwise count against the host (asking notes it, and the request
            // is then judged again by the host's clock).
            confirmed ??= await way.IsReachableAsync(cancellationToken);
            if (NotLate(candidate))
            {
                continue;
            }

            using (await gate.EnterAsync(candidate.Id.Value, cancellationToken))
            {
                var relayRequest = await requests.GetAsync(candidate.Id, cancellationToken);
                if (NotLate(relayRequest))
                {
                    continue;
                }

                var reason = relayRequest.AckedAt is null ? RelayTimeoutReason.NoAck : RelayTimeoutReason.NoCompletion;
                if (reason == RelayTimeoutReason.NoAck && relayRequest.WorkerId is { } silent && quiet.Judges(silent)
                    && (way.HidHostsSince(relayRequest.DispatchedAt ?? relayRequest.CreatedAt)
                        || await quiet.HeardSinceAsync(silent, relayRequest.DispatchedAt, cancellationToken)) is var heard
                    && await failures.GoesElsewhereAsync(relayRequest, anyHost: heard, cancellationToken,
                        hostRestarted: heard && quiet.RestartedSince(silent, relayRequest.DispatchedAt)))
                {
                    // Never taken up by its host: sent again — to another host of its model if there is one, else (while
                    // attempts are left) to the same one if it is still heard from: its envelope may never have gone
                    // out (a dispatcher killed between storing and sending it) or been lost on the way. A host silent
                    // since is gone: the notice says so at once — unless its silence says nothing, the way having been
                    // out since the dispatch and only just back (a server bot killed between storing and sending, and
                    // restarted: its host's next heartbeat cannot have reached it yet). Should the first host take it
                    // up late, the attempt its envelopes carry is an old one: ignored.
                    expired += await outcomes.RequeueAsync(relayRequest, relayRequest.Status, "its host did not acknowledge it",
                        cancellationToken) ? 1 : 0;
                    continue;
                }

                await outcomes.FallBackAsync(relayRequest, reason, cancellationToken);
                expired++;
            }
        }

        return new ExpiryPass(expired, lookAgainAt);
    }

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) => a is null || b < a ? b : a;

    private async Task<int> RequeueAsync(RelayRequest candidate, HashSet<Guid>? alive, CancellationToken cancellationToken)
    {
        using (await gate.EnterAsync(candidate.Id.Value, cancellationToken))
        {
            var relayRequest = await requests.GetAsync(candidate.Id, cancellationToken);
            if (relayRequest is not { IsInFlight: true, WorkerId: { } host }
                || (alive?.Contains(host) != false && !quiet.LostInARestart(relayRequest, host)))
            {
                return 0;
            }

            return await outcomes.RequeueAsync(relayRequest, relayRequest.Status, "its host went quiet", cancellationToken) ? 1 : 0;
        }
    }
}
