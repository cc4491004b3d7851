namespace MeatLizard.Bench;

/// <summary>
/// The one percentile every benchmark reports: nearest rank (0.5 the median, 0.99 the 99th), NaN for no samples.
/// Linked into each benchmark, and into Web.Tests' WebBudgetBench, as bench/Shared's other files are.
/// </summary>
internal static class Percentiles
{
    /// <summary>The nearest-rank percentile <paramref name="p"/> of <paramref name="sorted"/>, sorted ascending.</summary>
    public static double OfSorted(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    /// <summary>The nearest-rank percentile <paramref name="p"/> of <paramref name="samples"/>, in any order.</summary>
    public static double Of(IEnumerable<double> samples, double p) => OfSorted(samples.Order().ToArray(), p);
}
