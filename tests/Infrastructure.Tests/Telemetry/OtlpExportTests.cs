using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Relay;
using MeatLizard.Infrastructure.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Telemetry;

/// <summary>
/// Telemetry:OtlpEndpoint against a loopback OTLP/HTTP receiver. The receiver decodes the protobuf bodies by hand
/// rather than searching their bytes: <c>POST /v1/traces</c> (ExportTraceServiceRequest → ResourceSpans → ScopeSpans →
/// Span: trace_id 1, span_id 2, parent_span_id 4, name 5; scope name 1) and <c>POST /v1/metrics</c>
/// (ExportMetricsServiceRequest → ResourceMetrics → ScopeMetrics → Metric: name 1, sum 7 → NumberDataPoint 1:
/// attributes 7 (KeyValue: key 1, value 2 → AnyValue string 1), as_int 6; sum's is_monotonic 3).
/// </summary>
[NonParallelizable]
public sealed class OtlpExportTests
{
    private const string TraceId = "5b8efff798038103d269b633813fc60c";
    private const string ParentSpanId = "eee19b7ec3c1b174";

    [Test]
    public async Task AMessagesSpan_ArrivesAtTheCollector_InItsTrace_UnderItsParent()
    {
        using var receiver = new OtlpReceiver();
        var export = new OtlpExport(
            OtlpExport.ReadEndpoint(Configuration(receiver.BaseAddress.ToString().TrimEnd('/')))!, "meatlizard-test");
        await export.StartAsync(CancellationToken.None);
        var requestId = Guid.NewGuid();
        using (var job = MessageTracing.StartUnder("inference job", ActivityKind.Consumer,
                   $"00-{TraceId}-{ParentSpanId}-01", requestId))
        {
            Assert.That(job, Is.Not.Null, "the exporter listens to our sources");
        }

        await export.StopAsync(CancellationToken.None); // flushes the batch

        Assert.That(receiver.Violations, Is.Empty);
        var span = receiver.Spans.SingleOrDefault(s => s.Name == "inference job");
        Assert.That(span, Is.Not.Null, $"spans received: {string.Join(", ", receiver.Spans.Select(s => s.Name))}");
        Assert.Multiple(() =>
        {
            Assert.That(span!.TraceId, Is.EqualTo(TraceId));
            Assert.That(span.ParentSpanId, Is.EqualTo(ParentSpanId));
            Assert.That(span.SpanId, Has.Length.EqualTo(16).And.Not.EqualTo(ParentSpanId));
            Assert.That(span.Scope, Is.EqualTo("MeatLizard.Application"));
        });
    }

    [Test]
    public async Task OurCounters_ArriveAtTheCollector_AsMonotonicSums_WithTheirTagsAndValues()
    {
        using var receiver = new OtlpReceiver();
        var export = new OtlpExport(
            OtlpExport.ReadEndpoint(Configuration(receiver.BaseAddress.ToString()))!, "meatlizard-test");
        await export.StartAsync(CancellationToken.None);
        await using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var rejections = new RelayRejectionCounter(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        rejections.Increment(EnvelopeRejection.Replayed);
        rejections.Increment(EnvelopeRejection.Replayed);
        rejections.Increment(EnvelopeRejection.TagMismatch);

        await export.StopAsync(CancellationToken.None); // collects and flushes

        Assert.That(receiver.Violations, Is.Empty);
        var points = receiver.Points.Where(p => p.Metric == "meatlizard.relay.envelopes.rejected").ToList();
        Assert.That(points, Is.Not.Empty, $"metrics received: {string.Join(", ", receiver.Points.Select(p => p.Metric).Distinct())}");
        Assert.That(points.All(p => p.Monotonic), Is.True, "a counter is a monotonic sum");
        Assert.That(points.ToDictionary(p => p.Attributes["reason"], p => p.Value), Is.EquivalentTo(new Dictionary<string, long>
        {
            [nameof(EnvelopeRejection.Replayed)] = 2, [nameof(EnvelopeRejection.TagMismatch)] = 1,
        }));
    }

    [Test]
    public void Endpoint_Unset_TurnsExportOff() =>
        Assert.That(OtlpExport.ReadEndpoint(Configuration(null)), Is.Null);

    [TestCase("collector:4318")]
    [TestCase("ftp://collector:4318")]
    [TestCase("not a url")]
    public void Endpoint_NotAnHttpAddress_StopsTheHostWithOneLineNamingTheSetting(string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => OtlpExport.ReadEndpoint(Configuration(value)));

        Assert.That(error!.Message, Does.StartWith("Telemetry:OtlpEndpoint ").And.Not.Contain("\n"));
    }

    [Test]
    public void Endpoint_WithAPath_KeepsIt_ForTheSignalPaths() =>
        Assert.That(new Uri(OtlpExport.ReadEndpoint(Configuration("http://127.0.0.1:4318/otel"))!, "v1/traces").AbsolutePath,
            Is.EqualTo("/otel/v1/traces"));

    private static IConfiguration Configuration(string? endpoint) => new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?> { ["Telemetry:OtlpEndpoint"] = endpoint })
        .Build();

    internal sealed record ReceivedSpan(string TraceId, string SpanId, string ParentSpanId, string Name, string Scope);

    /// <summary>One data point of a sum: its metric, whether the sum is monotonic, its string attributes and integer value.</summary>
    internal sealed record ReceivedPoint(string Metric, bool Monotonic, IReadOnlyDictionary<string, string> Attributes, long Value);

    /// <summary>
    /// Takes what an OTLP/HTTP collector takes: <c>POST /v1/traces</c> and <c>/v1/metrics</c> with
    /// <c>application/x-protobuf</c>, answered 200 with an empty response message; anything else is a violation.
    /// </summary>
    private sealed class OtlpReceiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
        private readonly ConcurrentQueue<ReceivedPoint> _points = new();
        private readonly ConcurrentQueue<string> _violations = new();
        private readonly Task _serving;

        public OtlpReceiver()
        {
            BaseAddress = new Uri($"http://127.0.0.1:{FreePort()}/");
            _listener.Prefixes.Add(BaseAddress.ToString());
            _listener.Start();
            _serving = ServeAsync();
        }

        public Uri BaseAddress { get; }

        public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

        public IReadOnlyList<ReceivedPoint> Points => [.. _points];

        public IReadOnlyList<string> Violations => [.. _violations];

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            _serving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing).GetAwaiter().GetResult();
        }

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                var request = context.Request;
                using var body = new MemoryStream();
                await request.InputStream.CopyToAsync(body);
                var path = request.Url!.AbsolutePath;
                if (request.HttpMethod != "POST" || path is not ("/v1/traces" or "/v1/metrics")
                    || request.ContentType != "application/x-protobuf")
                {
                    _violations.Enqueue($"{request.HttpMethod} {path} ({request.ContentType})");
                    context.Response.StatusCode = 400;
                }
                else
                {
                    try
                    {
                        if (path == "/v1/traces")
                        {
                            ReadTraces(body.ToArray());
                        }
                        else
                        {
                            ReadMetrics(body.ToArray());
                        }
                    }
                    catch (FormatException ex)
                    {
                        _violations.Enqueue($"unreadable export request to {path}: {ex.Message}");
                        context.Response.StatusCode = 400;
                    }
                }

                context.Response.ContentType = "application/x-protobuf";
                context.Response.Close();
            }
        }

        private void ReadTraces(byte[] message)
        {
            foreach (var resourceSpans in Fields(message, 1))
            {
                foreach (var scopeSpans in Fields(resourceSpans, 2))
                {
                    var scope = Fields(scopeSpans, 1).Select(s => Text(Fields(s, 1).FirstOrDefault())).FirstOrDefault() ?? "";
                    foreach (var span in Fields(scopeSpans, 2))
                    {
                        _spans.Enqueue(new ReceivedSpan(Hex(Fields(span, 1).FirstOrDefault()), Hex(Fields(span, 2).FirstOrDefault()),
                            Hex(Fields(span, 4).FirstOrDefault()), Text(Fields(span, 5).FirstOrDefault()), scope));
                    }
                }
            }
        }

        private void ReadMetrics(byte[] message)
        {
            foreach (var resourceMetrics in Fields(message, 1))
            {
                foreach (var scopeMetrics in Fields(resourceMetrics, 2))
                {
                    foreach (var metric in Fields(scopeMetrics, 2))
                    {
                        var name = Text(Fields(metric, 1).FirstOrDefault());
                        foreach (var sum in Fields(metric, 7))
                        {
                            var monotonic = Varints(sum, 3).FirstOrDefault() == 1;
                            foreach (var point in Fields(sum, 1))
                            {
                                var attributes = Fields(point, 7).ToDictionary(
                                    kv => Text(Fields(kv, 1).FirstOrDefault()),
                                    kv => Text(Fields(kv, 2).Select(v => Fields(v, 1).FirstOrDefault()).FirstOrDefault()));
                                var value = Fixed64s(point, 6).Select(v => (long)v).FirstOrDefault();
                                _points.Enqueue(new ReceivedPoint(name, monotonic, attributes, value));
                            }
                        }
                    }
                }
            }
        }

        private static string Hex(byte[]? bytes) => bytes is null ? "" : Convert.ToHexStringLower(bytes);

        private static string Text(byte[]? bytes) => bytes is null ? "" : System.Text.Encoding.UTF8.GetString(bytes);

        /// <summary>The length-delimited values of field <paramref name="number"/> in a protobuf message; other fields skipped by wire type.</summary>
        private static List<byte[]> Fields(byte[] message, int number) =>
            [.. Walk(message).Where(f => f.Number == number && f.WireType == 2).Select(f => f.Bytes!)];

        /// <summary>The varint values of field <paramref name="number"/>.</summary>
        private static List<ulong> Varints(byte[] message, int number) =>
            [.. Walk(message).Where(f => f.Number == number && f.WireType == 0).Select(f => f.Value)];

        /// <summary>The 64-bit fixed values (fixed64, sfixed64, double) of field <paramref name="number"/>.</summary>
        private static List<ulong> Fixed64s(byte[] message, int number) =>
            [.. Walk(message).Where(f => f.Number == number && f.WireType == 1).Select(f => f.Value)];

        /// <summary>Every field of a protobuf message in order, by the wire format's rules; a malformed one throws.</summary>
        private static List<(int Number, int WireType, ulong Value, byte[]? Bytes)> Walk(byte[] message)
        {
            var fields = new List<(int, int, ulong, byte[]?)>();
            var at = 0;
            while (at < message.Length)
            {
                var key = Varint(message, ref at);
                var number = (int)(key >> 3);
                var wireType = (int)(key & 7);
                switch (wireType)
                {
                    case 0:
                        fields.Add((number, 0, Varint(message, ref at), null));
                        break;
                    case 1:
                        Need(message, at, 8);
                        fields.Add((number, 1, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(message.AsSpan(at, 8)), null));
                        at += 8;
                        break;
                    case 2:
                        var length = checked((int)Varint(message, ref at));
                        Need(message, at, length);
                        fields.Add((number, 2, 0, message[at..(at + length)]));
                        at += length;
                        break;
                    case 5:
                        Need(message, at, 4);
                        fields.Add((number, 5, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(at, 4)), null));
                        at += 4;
                        break;
                    default:
                        throw new FormatException($"wire type {wireType}");
                }
            }

            return fields;
        }

        private static void Need(byte[] message, int at, int length)
        {
            if (length < 0 || at + length > message.Length)
            {
                throw new FormatException("a field runs past the end of the message");
            }
        }

        private static ulong Varint(byte[] message, ref int at)
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (at >= message.Length)
                {
                    throw new FormatException("a varint runs past the end of the message");
                }

                var b = message[at++];
                value |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0)
                {
                    return value;
                }
            }

            throw new FormatException("a varint longer than 10 bytes");
        }

        private static int FreePort()
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            return ((IPEndPoint)probe.LocalEndpoint).Port;
        }
    }
}
