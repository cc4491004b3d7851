using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin.Queries;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Admin;

/// <summary>The dashboard's series made from stored requests: buckets, sources, percentiles, queue length, host speed.</summary>
public sealed class MetricsBucketsTests
{
    private static readonly DateTimeOffset From = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    private static MetricSample Answer(double minute, int queueMs = 0, int latencyRest = 1_000, string source = "model",
        Guid? host = null, int tokens = 100, double? generationMs = 2_000) =>
        new(From.AddMinutes(minute), queueMs, RelayMs: 100, InferenceMs: latencyRest - 100, PromptMs: 50,
            GenerationMs: generationMs, CompletionTokens: tokens, source, host);

    [TestCase("1h", 60)]
    [TestCase("1d", 900)]
    [TestCase("7d", 3600)]
    public void SizeFor_AnHourByTheMinute_ADayByTheQuarterHour_AWeekByTheHour(string period, int seconds)
    {
        MetricsPeriod.TryParse(period, out var span);
        Assert.That(MetricsBuckets.SizeFor(span), Is.EqualTo(TimeSpan.FromSeconds(seconds)));
    }

    [Test]
    public void Build_CountsEachSourcePerMinute_InTheBucketItEnded()
    {
        var series = MetricsBuckets.Build(From, From.AddMinutes(10), TimeSpan.FromMinutes(5), [
            Answer(1), Answer(2), Answer(3, source: "fallback"), Answer(6, source: "notice"), Answer(7, source: "cancelled"),
        ], truncated: false);

        Assert.That(series.Times, Is.EqualTo(new[] { From.ToUnixTimeSeconds(), From.AddMinutes(5).ToUnixTimeSeconds() }));
        Assert.That(series.ModelPerMinute, Is.EqualTo(new[] { 2 / 5.0, 0 }));
        Assert.That(series.FallbackPerMinute, Is.EqualTo(new[] { 1 / 5.0, 0 }));
        Assert.That(series.NoticePerMinute, Is.EqualTo(new[] { 0, 1 / 5.0 }));
        Assert.That(series.Requests, Is.EqualTo(5));
    }

    [Test]
    public void Build_LatencyPercentiles_AreNearestRank_AndAnEmptyBucketHasNone()
    {
        var samples = Enumerable.Range(1, 100).Select(i => Answer(1, latencyRest: i * 10)).ToArray();

        var series = MetricsBuckets.Build(From, From.AddMinutes(2), TimeSpan.FromMinutes(1), samples, truncated: false);

        Assert.That(series.LatencyP50Ms, Is.EqualTo(new int?[] { null, 500 }));
        Assert.That(series.LatencyP99Ms, Is.EqualTo(new int?[] { null, 990 }));
        Assert.That(series.FirstTokenP50Ms, Is.EqualTo(new int?[] { null, 150 }), "queue 0 + relay 100 + prompt 50");
    }

    [Test]
    public void Build_FirstTokenPercentiles_AreTheMeasuredTimes_OfTheModelsAnswersOnly()
    {
        // Measured 10, 20, … 1000 ms; the estimate (queue 0 + relay 100 + prompt 50) would say 150 for every one.
        var samples = Enumerable.Range(1, 100).Select(i => Answer(1) with { FirstTokenMs = i * 10 })
            .Append(Answer(1, source: "fallback") with { FirstTokenMs = 60_000 })
            .ToArray();

        var series = MetricsBuckets.Build(From, From.AddMinutes(2), TimeSpan.FromMinutes(1), samples, truncated: false);

        Assert.That(series.FirstTokenP50Ms, Is.EqualTo(new int?[] { null, 500 }));
        Assert.That(series.FirstTokenP99Ms, Is.EqualTo(new int?[] { null, 990 }));
    }

    [Test]
    public void Build_QueueLength_IsEachWaitSpreadOverTheBucketsItOverlaps()
    {
        // Queued at 0:30 for 60 s (half in each of the first two minutes), answered 1 s later.
        var waited = new MetricSample(From.AddSeconds(91), QueueMs: 60_000, RelayMs: 1_000, InferenceMs: 0, null, null, 0,
            "model", null);

        var series = MetricsBuckets.Build(From, From.AddMinutes(3), TimeSpan.FromMinutes(1), [waited], truncated: false);

        Assert.That(series.QueueLength, Is.EqualTo(new[] { 0.5, 0.5, 0 }));
    }

    [Test]
    public void Build_TokensPerSecond_PerHost_FromTheEnginesTimings_ElseTheWorkersTime()
    {
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        var series = MetricsBuckets.Build(From, From.AddMinutes(2), TimeSpan.FromMinutes(1), [
            Answer(0.5, host: a, tokens: 100, generationMs: 2_000), Answer(0.6, host: a, tokens: 300, generationMs: 2_000),
            Answer(1.5, host: b, tokens: 90, generationMs: null, latencyRest: 1_000),
        ], truncated: false);

        var byHost = series.Hosts.ToDictionary(h => h.WorkerId, h => h.TokensPerSecond);
        Assert.That(byHost[a], Is.EqualTo(new double?[] { 100, null }));
        Assert.That(byHost[b], Is.EqualTo(new double?[] { null, 100 }), "90 tokens over the worker's 900 ms");
    }
}
