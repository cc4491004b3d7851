using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>The dashboard's series made from stored requests: each request counted in the bucket it ended in.</summary>
public static class MetricsBuckets
{
    /// <summary>At most this many points per series: a phone's width shows them all.</summary>
    private const int MaxBuckets = 180;

    private static readonly TimeSpan[] s_sizes =
    [
        TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15), TimeSpan.FromHours(1),
        TimeSpan.FromHours(6), TimeSpan.FromDays(1),
    ];

    /// <summary>The smallest bucket that keeps <paramref name="period"/> to <see cref="MaxBuckets"/> points: an hour by the minute, a day by the quarter hour, a week by the hour.</summary>
    public static TimeSpan SizeFor(TimeSpan period) =>
        s_sizes.FirstOrDefault(size => period / size <= MaxBuckets, s_sizes[^1]);

    public static DateTimeOffset Floor(DateTimeOffset at, TimeSpan bucket) =>
        new(at.UtcTicks - at.UtcTicks % bucket.Ticks, TimeSpan.Zero);

    public static MetricsSeriesDto Build(
        DateTimeOffset from, DateTimeOffset until, TimeSpan bucket, IReadOnlyList<MetricSample> samples, bool truncated)
    {
        var count = (int)Math.Ceiling((until - from) / bucket);
        var minutes = bucket.TotalMinutes;
        var byBucket = new List<MetricSample>[count];
        for (var i = 0; i < count; i++)
        {
            byBucket[i] = [];
        }

        var queued = new double[count];
        foreach (var sample in samples)
        {
            var index = (int)((sample.RecordedAt - from) / bucket);
            if (index >= 0 && index < count)
            {
                byBucket[index].Add(sample);
            }

            AddQueueTime(queued, from, bucket, sample);
        }

        var hosts = samples.Where(s => s is { Source: "model", WorkerId: not null }).Select(s => s.WorkerId!.Value)
            .Distinct().Order()
            .Select(host => new HostSeriesDto(host, [.. byBucket.Select(b => TokensPerSecond(b.Where(s => s.WorkerId == host)))]))
            .ToArray();
        return new MetricsSeriesDto(from, until, (int)bucket.TotalSeconds, samples.Count, truncated,
            [.. Enumerable.Range(0, count).Select(i => (from + bucket * i).ToUnixTimeSeconds())],
            [.. byBucket.Select(b => b.Count(s => s.Source == "model") / minutes)],
            [.. byBucket.Select(b => b.Count(s => s.Source == "fallback") / minutes)],
            [.. byBucket.Select(b => b.Count(s => s.Source == "notice") / minutes)],
            [.. byBucket.Select(b => Percentile(b.Select(s => s.LatencyMs), 0.50))],
            [.. byBucket.Select(b => Percentile(b.Select(s => s.LatencyMs), 0.99))],
            [.. byBucket.Select(b => Percentile(FirstTokenTimes(b), 0.50))],
            [.. byBucket.Select(b => Percentile(FirstTokenTimes(b), 0.99))],
            [.. queued.Select(ms => Math.Round(ms / bucket.TotalMilliseconds, 3))],
            hosts);
    }

    /// <summary>The model's answers' times to first token (a fallback's or a notice's would say nothing of the model).</summary>
    private static IEnumerable<int> FirstTokenTimes(IEnumerable<MetricSample> samples) =>
        samples.Where(s => s.Source == "model").Select(s => s.TimeToFirstTokenMs);

    /// <summary>The nearest-rank percentile, as the metrics summary computes it; null for an empty bucket.</summary>
    public static int? Percentile(IEnumerable<int> values, double percentile)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? null : sorted[Math.Max(0, (int)Math.Ceiling(percentile * sorted.Length) - 1)];
    }

    /// <summary>Generation speed where the engine reported its timings, else over the worker's time, as the summary's.</summary>
    private static double? TokensPerSecond(IEnumerable<MetricSample> samples)
    {
        double tokens = 0, ms = 0;
        foreach (var sample in samples)
        {
            if ((sample.GenerationMs ?? sample.InferenceMs) is { } time && time > 0)
            {
                tokens += sample.CompletionTokens;
                ms += time;
            }
        }

        return ms > 0 ? Math.Round(tokens * 1000 / ms, 1) : null;
    }

    /// <summary>
    /// Spreads the request's wait in the queue over the buckets it overlaps: each bucket's sum over its length is the
    /// mean number of requests waiting then (of those that have ended; one still waiting is not counted yet).
    /// </summary>
    private static void AddQueueTime(double[] queued, DateTimeOffset from, TimeSpan bucket, MetricSample sample)
    {
        var start = sample.QueuedAt;
        var end = start + TimeSpan.FromMilliseconds(sample.QueueMs);
        for (var index = Math.Max(0, (int)Math.Floor((start - from) / bucket)); index < queued.Length; index++)
        {
            var bucketStart = from + bucket * index;
            if (bucketStart >= end)
            {
                break;
            }

            var overlap = (Min(end, bucketStart + bucket) - Max(start, bucketStart)).TotalMilliseconds;
            queued[index] += Math.Max(0, overlap);
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
