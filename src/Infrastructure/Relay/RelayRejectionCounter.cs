using System.Diagnostics.Metrics;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Relay;

/// <summary>
/// Counts refused envelopes per reason: readable here (status pages, tests) and published as the
/// <c>meatlizard.relay.envelopes.rejected</c> counter (tag <c>reason</c>) on the <c>MeatLizard.Relay</c> meter.
/// </summary>
public sealed class RelayRejectionCounter
{
    public const string MeterName = "MeatLizard.Relay";

    private static readonly EnvelopeRejection[] s_reasons = Enum.GetValues<EnvelopeRejection>();

    private readonly long[] _counts = new long[s_reasons.Length];
    private readonly Counter<long> _counter;

    public RelayRejectionCounter(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _counter = meterFactory.Create(MeterName).CreateCounter<long>(
            "meatlizard.relay.envelopes.rejected", unit: "{envelope}", description: "Relay envelopes refused, by reason");
    }

    public void Increment(EnvelopeRejection reason)
    {
        Interlocked.Increment(ref _counts[(int)reason]);
        _counter.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));
    }

    public long Count(EnvelopeRejection reason) => Interlocked.Read(ref _counts[(int)reason]);

    public long Total => s_reasons.Sum(Count);

    /// <summary>Every reason with at least one rejection.</summary>
    public IReadOnlyDictionary<EnvelopeRejection, long> Snapshot() =>
        s_reasons.Select(r => (Reason: r, Count: Count(r))).Where(x => x.Count > 0).ToDictionary(x => x.Reason, x => x.Count);
}
