using System.Diagnostics;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Telemetry;

/// <summary>
/// What every host does for correlation: each log line carries the current trace and span ids (a message's trace, on
/// the API, the server bot and the client bot alike), our activities run whether or not anything exports them,
/// <c>Telemetry:OtlpEndpoint</c> exports traces and metrics when set, and <c>Logging:Format</c> chooses the console's
/// format.
/// </summary>
public static class TelemetryRegistration
{
    public const string LogFormatKey = "Logging:Format";

    /// <summary>Call first in a host's composition: the listener then starts before the loops that make activities.</summary>
    public static IHostApplicationBuilder AddTelemetry(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var json = ReadLogFormat(builder.Configuration) == "json";
        builder.Logging.Configure(o => o.ActivityTrackingOptions =
            ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId | ActivityTrackingOptions.ParentId);
        if (json)
        {
            // One JSON object per line, scopes (request id, trace ids) as fields, for log shippers to index.
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
            });
        }

        builder.Services.AddHostedService<MessageTraceListener>();
        if (OtlpExport.ReadEndpoint(builder.Configuration) is { } endpoint)
        {
            var serviceName = builder.Environment.ApplicationName;
            builder.Services.AddHostedService(_ => new OtlpExport(endpoint, serviceName));
        }

        return builder;
    }

    /// <summary><c>simple</c> (the default: the console's usual text) or <c>json</c>; anything else stops the host.</summary>
    public static string ReadLogFormat(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var value = configuration[LogFormatKey];
        if (string.IsNullOrWhiteSpace(value) || value.Trim().Equals("Simple", StringComparison.OrdinalIgnoreCase))
        {
            return "simple";
        }

        if (value.Trim().Equals("Json", StringComparison.OrdinalIgnoreCase))
        {
            return "json";
        }

        throw new ConfigurationException($"{LogFormatKey} must be Simple or Json; '{value}' is neither.");
    }
}

/// <summary>
/// Listens to our activity sources for the host's lifetime, so a message's activities exist (and its trace id reaches
/// log lines, the envelope and llama-server) even with no exporter configured. A parent that was not sampled stays
/// unsampled: only its ids propagate.
/// </summary>
internal sealed class MessageTraceListener : IHostedService, IDisposable
{
    private ActivityListener? _listener;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name.StartsWith(MessageTracing.SourcePrefix, StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> options) =>
                options.Parent == default || options.Parent.TraceFlags.HasFlag(ActivityTraceFlags.Recorded)
                    ? ActivitySamplingResult.AllDataAndRecorded
                    : ActivitySamplingResult.PropagationData,
        };
        ActivitySource.AddActivityListener(_listener);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _listener?.Dispose();
        _listener = null;
    }
}
