using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Relay;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Commands;

/// <summary>
/// Requests whose model host went quiet (no heartbeat for <c>Relay:WorkerTimeout</c>) or did not acknowledge them in time
/// go to another host (<see cref="HostFailures"/>: while attempts are left, or while another live host serves the model);
/// requests a host did not finish in time, and those no other host can take, are answered by the fallback. Time counts
/// only while the relay can reach its hosts (<see cref="RelayTransportHealth"/>): while Discord is out, nothing is
/// judged quiet or late for it, and a deadline passed during an outage moves on by the outage.
/// </summary>
public sealed record ExpireOverdueRequests : IRequest<int>;

public sealed partial class ExpireOverdueRequestsHandler(
    IRelayRequestRepository requests,
    RelayOutcomes outcomes,
    RelayRequestGate gate,
    IWorkerPresence presence,
    ModelHosts hosts,
    HostFailures failures,
    RelayTransportHealth transport,
    IRelayReachability reachability,
    IClock clock,
    IOptions<RelayOptions> options,
    ILogger<ExpireOverdueRequestsHandler> logger) : IRequestHandler<ExpireOverdueRequests, int>
{
    public async Task<int> Handle(ExpireOverdueRequests request, CancellationToken cancellationToken)
    {
        var expired = 0;
        var inFlight = await requests.ListInFlightAsync(cancellationToken);
        HashSet<Guid>? alive = null;
        // While the way is out (or only just back) no heartbeat can have come: silence then says nothing about the
        // hosts. Nor when the way turns out to be out now, asked before any host is taken for gone.
        var reachable = !transport.HidesHosts(options.Value.WorkerTimeout * 2, options.Value.MaxOutageHold,
            reachability.HostsCatchUp);
        if (reachable && inFlight.Any(r => r.WorkerId is not null) && hosts.HeardFromAllHosts(options.Value.WorkerTimeout))
        {
            alive = (await presence.ListAliveAsync(cancellationToken)).Select(w => w.WorkerId).ToHashSet();
            if (inFlight.Any(r => r.WorkerId is { } host && !alive.Contains(host))
                && !await reachability.IsReachableAsync(cancellationToken))
            {
                alive = null;
            }
        }

        bool? confirmed = null;
        foreach (var candidate in inFlight)
        {
            if (candidate.WorkerId is { } host && hosts.Judges(host)
                && ((alive is not null && !alive.Contains(host)) || LostInARestart(candidate, host))
                && await failures.GoesElsewhereAsync(candidate, anyHost: true, cancellationToken))
            {
                expired += await RequeueAsync(candidate, alive, cancellationToken);
                continue;
            }

            if (!IsOverdue(candidate, clock.UtcNow))
            {
                continue;
            }

            // Late for want of an answer: asked once whether the way works before anything is given up, since an
            // outage nothing has tried yet would otherwise count against the host (asking notes it, and the request
            // is then judged again by the host's clock).
            confirmed ??= await reachability.IsReachableAsync(cancellationToken);
            if (!IsOverdue(candidate, clock.UtcNow))
            {
                continue;
            }

            using (await gate.EnterAsync(candidate.Id.Value, cancellationToken))
            {
                var relayRequest = await requests.GetAsync(candidate.Id, cancellationToken);
                var now = clock.UtcNow;
                if (relayRequest is null || !IsOverdue(relayRequest, now))
                {
                    continue;
                }

                var reason = relayRequest.AckedAt is null ? RelayTimeoutReason.NoAck : RelayTimeoutReason.NoCompletion;
                if (reason == RelayTimeoutReason.NoAck && relayRequest.WorkerId is { } silent && hosts.Judges(silent)
                    && await HeardSinceAsync(silent, relayRequest.DispatchedAt, cancellationToken) is var heard
                    && await failures.GoesElsewhereAsync(relayRequest, anyHost: heard, cancellationToken,
                        hostRestarted: heard && hosts.RestartedAt(silent) > relayRequest.DispatchedAt))
                {
                    // Never taken up by its host: sent again — to another host of its model if there is one, else (while
                    // attempts are left) to the same one if it is still heard from: its envelope may never have gone
                    // out (a dispatcher killed between storing and sending it) or been lost on the way. A host silent
                    // since is gone: the notice says so at once. Should the first host take it up late, the attempt its
                    // envelopes carry is an old one: ignored.
                    expired += await outcomes.RequeueAsync(relayRequest, relayRequest.Status, "its host did not acknowledge it",
                        cancellationToken) ? 1 : 0;
                    continue;
                }

                LogOverdue(logger, relayRequest.Id.Value, reason);
                await outcomes.FallBackAsync(relayRequest, reason, cancellationToken);
                expired++;
            }
        }

        return expired;
    }

    /// <summary>
    /// Whether <paramref name="host"/>'s latest heartbeat came after <paramref name="since"/>, and did not say it is
    /// stopping: a host that drains takes nothing new, so what it did not acknowledge is not sent to it again (its
    /// goodbye may well be read after the dispatch it never saw).
    /// </summary>
    private async Task<bool> HeardSinceAsync(Guid host, DateTimeOffset? since, CancellationToken cancellationToken) =>
        (await presence.ListAliveAsync(cancellationToken)).Any(w => w.WorkerId == host && w.SeenAt > since && !w.Draining);

    /// <summary>Late by the host's clock: the time since its dispatch less the time the way to the host was out.</summary>
    private bool IsOverdue(RelayRequest request, DateTimeOffset now) =>
        request.IsOverdue(transport.HostClock(request.DispatchedAt ?? request.CreatedAt, now, options.Value.MaxOutageHold));

    /// <summary>
    /// Taken up by the host's run before it came back as a new one: the run that had it is gone. (One it had not
    /// acknowledged yet the new run reads when it catches up with its channels, and answers, within the ack timeout.)
    /// </summary>
    private bool LostInARestart(RelayRequest request, Guid host) =>
        hosts.RestartedAt(host) is { } restarted && request.AckedAt is { } acked && acked < restarted;

    private async Task<int> RequeueAsync(RelayRequest candidate, HashSet<Guid>? alive, CancellationToken cancellationToken)
    {
        using (await gate.EnterAsync(candidate.Id.Value, cancellationToken))
        {
            var relayRequest = await requests.GetAsync(candidate.Id, cancellationToken);
            if (relayRequest is not { IsInFlight: true, WorkerId: { } host }
                || (alive?.Contains(host) != false && !LostInARestart(relayRequest, host)))
            {
                return 0;
            }

            return await outcomes.RequeueAsync(relayRequest, relayRequest.Status, "its host went quiet", cancellationToken) ? 1 : 0;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId} timed out ({Reason}); the fallback answers")]
    private static partial void LogOverdue(ILogger logger, Guid requestId, RelayTimeoutReason reason);
}
