using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay;

/// <summary>
/// The way to the model hosts as the relay's settings judge it: out now, out or only just back (so the hosts' silence
/// says nothing about them), reachable when asked, and whether a request is late by the hosts' clock, which stops while the way is out.
/// </summary>
public sealed class RelayWay(
    RelayTransportHealth health, IRelayReachability reachability, IClock clock, IOptions<RelayOptions> options)
{
    /// <summary>Nothing can reach a host now (for no longer than <c>Relay:MaxOutageHold</c>).</summary>
    public bool IsOut => health.IsOut(options.Value.MaxOutageHold);

    /// <summary>
    /// The way is out, or back for less than two worker timeouts (and the hosts' own catch-up): no heartbeat could have
    /// come meanwhile.
    /// </summary>
    public bool HidesHosts =>
        health.HidesHosts(options.Value.WorkerTimeout * 2, options.Value.MaxOutageHold);

    /// <summary>
    /// Whether a host's silence since <paramref name="since"/> says nothing of it: the way was out at some time since
    /// then (this process's own absence counts), and is not yet back for a heartbeat window (<see cref="HidesHosts"/>).
    /// A silence while the way was there all along is the host's own.
    /// </summary>
    public bool HidHostsSince(DateTimeOffset since) =>
        HidesHosts && health.HeldSince(since, clock.UtcNow, options.Value.MaxOutageHold) > TimeSpan.Zero;

    /// <summary>Asks the transport whether the way works now; asking notes an outage nothing had tried yet.</summary>
    public Task<bool> IsReachableAsync(CancellationToken cancellationToken) =>
        reachability.IsReachableAsync(cancellationToken);

    /// <summary>
    /// Whether <paramref name="request"/> is late by its host's clock: the time since its dispatch less the time the way
    /// to the host was out.
    /// </summary>
    public bool IsOverdue(Domain.Relay.RelayRequest request) => request.IsOverdue(HostClock(request, clock.UtcNow));

    /// <summary>
    /// When <paramref name="request"/> will be late if the way stays as it is now (null: it waits on no host): its next
    /// deadline moved on by the time the way was out since its dispatch. An outage that starts after this only makes it
    /// later, so looking then finds it not yet late and asks again.
    /// </summary>
    public DateTimeOffset? OverdueAt(Domain.Relay.RelayRequest request)
    {
        var now = clock.UtcNow;
        return request.NextDeadline is { } deadline ? deadline + (now - HostClock(request, now)) : null;
    }

    private DateTimeOffset HostClock(Domain.Relay.RelayRequest request, DateTimeOffset now) =>
        health.HostClock(request.DispatchedAt ?? request.CreatedAt, now, options.Value.MaxOutageHold);
}
