using System.Diagnostics.Metrics;

namespace MeatLizard.Infrastructure.Relay.Direct;

/// <summary>Why the direct relay dropped something it was sent, or refused a host.</summary>
public enum DirectRelayDrop
{
    /// <summary>A host presented no token, or one unknown or revoked, at the handshake.</summary>
    RefusedToken,

    /// <summary>A frame larger than Relay:MaxFrameBytes.</summary>
    Oversized,

    /// <summary>A frame that is not a direct relay frame (not JSON, a binary frame, no number…).</summary>
    NotAFrame,

    /// <summary>An envelope frame whose wire text is not a sealed envelope.</summary>
    NotAnEnvelope,

    /// <summary>A host's envelope for a chat the server never sent it anything for.</summary>
    UnknownRequest,

    /// <summary>An envelope received before (sent again after a reconnect): taken once, the repeat dropped.</summary>
    Repeated,

    /// <summary>An envelope never sent: too many waited for the other side's ack.</summary>
    Overflowed,
}

/// <summary>
/// What the direct relay dropped, per reason: readable here (tests, status) and published as the
/// <c>meatlizard.relay.direct.dropped</c> counter (tag <c>reason</c>) on the <c>MeatLizard.Relay</c> meter.
/// </summary>
public sealed class DirectRelayCounters
{
    private static readonly DirectRelayDrop[] s_reasons = Enum.GetValues<DirectRelayDrop>();

    private readonly long[] _counts = new long[s_reasons.Length];
    private readonly Counter<long> _counter;

    public DirectRelayCounters(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _counter = meterFactory.Create(RelayRejectionCounter.MeterName).CreateCounter<long>(
            "meatlizard.relay.direct.dropped", unit: "{frame}", description: "Direct relay frames dropped or hosts refused, by reason");
    }

    public void Increment(DirectRelayDrop reason)
    {
        Interlocked.Increment(ref _counts[(int)reason]);
        _counter.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));
    }

    public long Count(DirectRelayDrop reason) => Interlocked.Read(ref _counts[(int)reason]);
}
