using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Telemetry;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Telemetry;

/// <summary>
/// Telemetry:OtlpEndpoint against a loopback OTLP/HTTP receiver. The receiver decodes the protobuf body of
/// <c>POST /v1/traces</c> by hand (ExportTraceServiceRequest → ResourceSpans → ScopeSpans → Span: trace_id 1,
/// span_id 2, parent_span_id 4, name 5; scope name 1) rather than searching its bytes.
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

    /// <summary>
    /// Takes what an OTLP/HTTP collector takes: <c>POST /v1/traces</c> and <c>/v1/metrics</c> with
    /// <c>application/x-protobuf</c>, answered 200 with an empty response message; anything else is a violation.
    /// </summary>
    private sealed class OtlpReceiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
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
                else if (path == "/v1/traces")
                {
                    try
                    {
                        ReadTraces(body.ToArray());
                    }
                    catch (FormatException ex)
                    {
                        _violations.Enqueue($"unreadable ExportTraceServiceRequest: {ex.Message}");
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

        private static string Hex(byte[]? bytes) => bytes is null ? "" : Convert.ToHexStringLower(bytes);

        private static string Text(byte[]? bytes) => bytes is null ? "" : System.Text.Encoding.UTF8.GetString(bytes);

        /// <summary>The length-delimited values of field <paramref name="number"/> in a protobuf message; other fields skipped by wire type.</summary>
        private static List<byte[]> Fields(byte[] message, int number)
        {
            var found = new List<byte[]>();
            var at = 0;
            while (at < message.Length)
            {
                var key = Varint(message, ref at);
                var wireType = (int)(key & 7);
                switch (wireType)
                {
                    case 0:
                        Varint(message, ref at);
                        break;
                    case 1:
                        at += 8;
                        break;
                    case 2:
                        var length = checked((int)Varint(message, ref at));
                        if (length < 0 || at + length > message.Length)
                        {
                            throw new FormatException("a length runs past the end of the message");
                        }

                        if ((int)(key >> 3) == number)
                        {
                            found.Add(message[at..(at + length)]);
                        }

                        at += length;
                        break;
                    case 5:
                        at += 4;
                        break;
                    default:
                        throw new FormatException($"wire type {wireType}");
                }
            }

            if (at != message.Length)
            {
                throw new FormatException("a fixed-size field runs past the end of the message");
            }

            return found;
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
