using NUnit.Framework;
using System.Diagnostics.Metrics;
using MeatLizard.Infrastructure.Metrics;
using MeatLizard.Tests.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Tests.Metrics;

public sealed class MetricsExpositionTests
{
    private ServiceProvider _services = null!;
    private IMeterFactory _factory = null!;
    private MetricsExposition _exposition = null!;
    private Meter _meter = null!;

    [SetUp]
    public void SetUp()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _factory = _services.GetRequiredService<IMeterFactory>();
        _exposition = new MetricsExposition(_factory);
        _meter = _factory.Create(MetricsExposition.MeterName);
    }

    [TearDown]
    public void TearDown()
    {
        _exposition.Dispose();
        _services.Dispose();
    }

    [Test]
    public void Exposition_OfEveryKindOfInstrument_ParsesUnderTheFormatsRules()
    {
        var requests = _meter.CreateCounter<long>("meatlizard.test.requests", description: "Requests");
        var open = _meter.CreateUpDownCounter<int>("meatlizard.test.open");
        var duration = _meter.CreateHistogram<double>("meatlizard.test.duration", unit: "s", description: "How long\nit took");
        _meter.CreateObservableGauge("meatlizard.test.workers", () => new Measurement<int>(3, new KeyValuePair<string, object?>("model", "a")));
        _meter.CreateObservableCounter("meatlizard.test.collections", () => 7L);

        requests.Add(2, new("route", "/api/v1/sessions/{id}"), new("status", 200));
        requests.Add(1, new("route", "/api/v1/sessions/{id}"), new("status", 404));
        open.Add(2);
        open.Add(-1);
        duration.Record(0.02, new KeyValuePair<string, object?>("route", "a\"b\\c\nd"));

        var text = _exposition.Collect();
        var parsed = PrometheusText.Parse(text);

        Assert.Multiple(() =>
        {
            Assert.That(parsed.Families["meatlizard_test_requests_total"].Type, Is.EqualTo("counter"));
            Assert.That(parsed.Value("meatlizard_test_requests_total", ("route", "/api/v1/sessions/{id}"), ("status", "200")), Is.EqualTo(2));
            Assert.That(parsed.Value("meatlizard_test_requests_total", ("route", "/api/v1/sessions/{id}"), ("status", "404")), Is.EqualTo(1));
            Assert.That(parsed.Families["meatlizard_test_open"].Type, Is.EqualTo("gauge"));
            Assert.That(parsed.Value("meatlizard_test_open"), Is.EqualTo(1));
            Assert.That(parsed.Families["meatlizard_test_duration_seconds"].Type, Is.EqualTo("histogram"));
            Assert.That(parsed.Families["meatlizard_test_duration_seconds"].Help, Is.EqualTo("How long\nit took"));
            Assert.That(parsed.Value("meatlizard_test_duration_seconds_count", ("route", "a\"b\\c\nd")), Is.EqualTo(1));
            Assert.That(parsed.Value("meatlizard_test_workers", ("model", "a")), Is.EqualTo(3));
            Assert.That(parsed.Families["meatlizard_test_collections_total"].Type, Is.EqualTo("counter"));
            Assert.That(parsed.Value("meatlizard_test_collections_total"), Is.EqualTo(7));
        });
        Assert.That(text, Does.Contain("route=\"a\\\"b\\\\c\\nd\""), "label values escape backslash, quote and line feed");
    }

    [Test]
    public void Histogram_BucketsAreCumulativeAndInclusive_WithInfEqualToCount()
    {
        var latency = _meter.CreateHistogram<double>("meatlizard.test.latency", unit: "s",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1, 10] });
        foreach (var value in new[] { 0.05, 0.1, 0.5, 1, 20, 30 })
        {
            latency.Record(value);
        }

        var parsed = PrometheusText.Parse(_exposition.Collect());

        Assert.Multiple(() =>
        {
            Assert.That(parsed.Value("meatlizard_test_latency_seconds_bucket", ("le", "0.1")), Is.EqualTo(2), "le is inclusive");
            Assert.That(parsed.Value("meatlizard_test_latency_seconds_bucket", ("le", "1")), Is.EqualTo(4));
            Assert.That(parsed.Value("meatlizard_test_latency_seconds_bucket", ("le", "10")), Is.EqualTo(4));
            Assert.That(parsed.Value("meatlizard_test_latency_seconds_bucket", ("le", "+Inf")), Is.EqualTo(6));
            Assert.That(parsed.Value("meatlizard_test_latency_seconds_count"), Is.EqualTo(6));
            Assert.That(parsed.Value("meatlizard_test_latency_seconds_sum"), Is.EqualTo(51.65).Within(1e-9));
        });
    }

    [Test]
    public void TagsInAnotherOrder_AreTheSameSeries()
    {
        var sends = _meter.CreateCounter<long>("meatlizard.test.sends");
        sends.Add(1, new("a", "x"), new("b", "y"));
        sends.Add(1, new("b", "y"), new("a", "x"));

        var parsed = PrometheusText.Parse(_exposition.Collect());

        Assert.That(parsed.Value("meatlizard_test_sends_total", ("a", "x"), ("b", "y")), Is.EqualTo(2));
    }

    [Test]
    public void OnlyThisHostsMeatLizardMeters_AreExposed()
    {
        using var otherServices = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var otherHost = otherServices.GetRequiredService<IMeterFactory>().Create(MetricsExposition.MeterName);
        otherHost.CreateCounter<long>("meatlizard.test.other_host").Add(1);
        _factory.Create("Someone.Else").CreateCounter<long>("meatlizard.test.someone_else").Add(1);
        _factory.Create("MeatLizard.Relay").CreateCounter<long>("meatlizard.test.relay").Add(1);

        var parsed = PrometheusText.Parse(_exposition.Collect());

        Assert.Multiple(() =>
        {
            Assert.That(parsed.Families, Does.ContainKey("meatlizard_test_relay_total"));
            Assert.That(parsed.Families, Does.Not.ContainKey("meatlizard_test_other_host_total"));
            Assert.That(parsed.Families, Does.Not.ContainKey("meatlizard_test_someone_else_total"));
        });
    }

    [Test]
    public void AnUnboundedLabel_StopsGrowingAtTheSeriesCap()
    {
        var counter = _meter.CreateCounter<long>("meatlizard.test.unbounded");
        for (var i = 0; i < MetricsExposition.MaxSeriesPerInstrument + 50; i++)
        {
            counter.Add(1, new KeyValuePair<string, object?>("id", i));
        }

        var parsed = PrometheusText.Parse(_exposition.Collect());

        Assert.That(parsed.Families["meatlizard_test_unbounded_total"].Samples, Has.Count.EqualTo(MetricsExposition.MaxSeriesPerInstrument));
    }

    [TestCase("meatlizard.http.request.duration", "s", false, "meatlizard_http_request_duration_seconds")]
    [TestCase("meatlizard.process.memory", "By", false, "meatlizard_process_memory_bytes")]
    [TestCase("meatlizard.messages.sent", "{message}", true, "meatlizard_messages_sent_total")]
    [TestCase("9-lives/x", null, false, "_9_lives_x")]
    public void MetricNames_FollowTheFormat(string instrument, string? unit, bool counter, string expected) =>
        Assert.That(MetricsExposition.MetricName(instrument, unit,
            counter ? MetricsExposition.MetricKind.Counter : MetricsExposition.MetricKind.Gauge), Is.EqualTo(expected));

    [Test]
    public void ProcessGauges_AreExposed()
    {
        using var process = new ProcessMetrics(_factory);

        var parsed = PrometheusText.Parse(_exposition.Collect());

        Assert.Multiple(() =>
        {
            Assert.That(parsed.Value("meatlizard_process_memory_working_set_bytes"), Is.GreaterThan(0));
            Assert.That(parsed.Value("meatlizard_process_gc_heap_bytes"), Is.GreaterThan(0));
            Assert.That(parsed.Value("meatlizard_process_gc_committed_bytes"), Is.GreaterThan(0));
            Assert.That(parsed.Families["meatlizard_process_gc_collections_total"].Samples.Select(s => s.Labels["generation"]),
                Is.EquivalentTo(new[] { "0", "1", "2" }));
        });
    }

    // The parser is what the exposition is judged by: each of these breaks one rule and must be refused.
    [TestCase("# HELP a_total x\n# TYPE a_total counter\na_total 1", TestName = "NoFinalLineFeed")]
    [TestCase("a_total 1\n", TestName = "SampleWithoutHelpAndType")]
    [TestCase("# HELP a x\n# TYPE a counter\na 1\n", TestName = "CounterWithoutTotal")]
    [TestCase("# HELP 1a x\n# TYPE 1a gauge\n1a 1\n", TestName = "BadMetricName")]
    [TestCase("# HELP a x\n# TYPE a gauge\na{1b=\"x\"} 1\n", TestName = "BadLabelName")]
    [TestCase("# HELP a x\n# TYPE a gauge\na{b=\"x\\t\"} 1\n", TestName = "BadEscape")]
    [TestCase("# HELP a x\n# TYPE a gauge\na{b=\"x\"\"} 1\n", TestName = "UnescapedQuote")]
    [TestCase("# HELP a x\n# HELP a y\n# TYPE a gauge\na 1\n", TestName = "TwoHelps")]
    [TestCase("# HELP a x\n# TYPE a gauge\na 1\na 2\n", TestName = "DuplicateSeries")]
    [TestCase("# HELP a x\n# TYPE a gauge\na one\n", TestName = "BadValue")]
    [TestCase("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", TestName = "BucketsNotCumulative")]
    [TestCase("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", TestName = "BucketsNotAscending")]
    [TestCase("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", TestName = "NoInfBucket")]
    [TestCase("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n", TestName = "InfDiffersFromCount")]
    [TestCase("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", TestName = "NoSum")]
    [TestCase("# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na{c=\"d\"} 1\n", TestName = "FamilySplit")]
    public void Parser_RefusesWhatTheFormatForbids(string text) =>
        Assert.Throws<FormatException>(() => PrometheusText.Parse(text));
}
