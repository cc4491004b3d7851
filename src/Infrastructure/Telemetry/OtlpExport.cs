using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace MeatLizard.Infrastructure.Telemetry;

/// <summary>
/// Sends our traces and metrics to an OpenTelemetry collector (OTLP over HTTP with protobuf) when
/// <c>Telemetry:OtlpEndpoint</c> names one, for the host's lifetime: the providers are built when the host starts and
/// disposed (which flushes what is still batched) when it stops. The hosting package that would do this is not served
/// here, so the SDK's builders are used directly.
/// </summary>
internal sealed class OtlpExport(Uri endpoint, string serviceName) : IHostedService, IDisposable
{
    public const string EndpointKey = "Telemetry:OtlpEndpoint";

    private TracerProvider? _traces;
    private MeterProvider? _metrics;

    /// <summary>The collector's base address (e.g. <c>http://collector:4318</c>), or null when export is off.</summary>
    public static Uri? ReadEndpoint(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var value = configuration[EndpointKey];
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        if (!Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
            || !string.IsNullOrEmpty(uri.Query))
        {
            throw new ConfigurationException(
                $"{EndpointKey} must be an http(s) address of an OTLP collector, such as http://127.0.0.1:4318 (got '{value}').");
        }

        // The signal paths are added to it: keep its own path as a directory.
        return uri.AbsolutePath.EndsWith('/') ? uri : new Uri(uri + "/");
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _traces = Sdk.CreateTracerProviderBuilder()
            .ConfigureResource(r => r.AddService(serviceName))
            .AddSource(MessageTracing.SourcePrefix + "*", "Microsoft.AspNetCore")
            .AddOtlpExporter(o => Target(o, "v1/traces"))
            .Build();
        _metrics = Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(r => r.AddService(serviceName))
            .AddMeter(MetricsExposition.MeterName, MetricsExposition.MeterName + ".*")
            .AddOtlpExporter(o => Target(o, "v1/metrics"))
            .Build();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _traces?.Dispose();
        _traces = null;
        _metrics?.Dispose();
        _metrics = null;
    }

    private void Target(OtlpExporterOptions options, string path)
    {
        options.Protocol = OtlpExportProtocol.HttpProtobuf;
        options.Endpoint = new Uri(endpoint, path);
    }
}
