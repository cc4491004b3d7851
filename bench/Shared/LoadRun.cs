using System.Globalization;

namespace MeatLizard.Bench;

/// <summary>
/// One measured run: the answered messages' latencies (sorted), the answers per second, the requests that failed and,
/// for the open loop, the messages a session behind its schedule never sent. Finished counts what ended from the
/// window's start to the run's end, answered or not: the denominator for CPU per message.
/// </summary>
internal sealed record LoadRun(double[] Latencies, double PerSecond, int Failures, int NotSent, int Finished)
{
    public double P50 => Percentiles.OfSorted(Latencies, 0.50);

    public double P99 => Percentiles.OfSorted(Latencies, 0.99);

    /// <summary>What the run did not answer, for every row of the output.</summary>
    public string Unanswered => string.Create(CultureInfo.InvariantCulture, $"failed {Failures}, not sent {NotSent}");
}
