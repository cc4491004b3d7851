using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Common;

/// <summary>
/// One W3C trace per message: the send (under the HTTP request's <c>traceparent</c>, or a new trace) stores its
/// <c>traceparent</c> with the outbox row, and each later step — the dispatch, the model host's job, the stored answer —
/// starts its activity under the one it was handed, so every span and log line of the message shares one trace id,
/// on every host.
/// </summary>
public static class MessageTracing
{
    /// <summary>The prefix of every activity source (and meter) of ours: a listener or exporter takes them by it.</summary>
    public const string SourcePrefix = "MeatLizard.";

    /// <summary>The Application layer's activities: send, dispatch, the model host's job, the answer.</summary>
    public static readonly ActivitySource Source = new(SourcePrefix + "Application");

    /// <summary>
    /// The <c>traceparent</c> to store with a new request: the current activity's (the HTTP request's, which ASP.NET
    /// Core starts under the caller's <c>traceparent</c>) or, with none, a new trace's.
    /// </summary>
    public static string CurrentOrNew()
    {
        if (Activity.Current is { IdFormat: ActivityIdFormat.W3C } current)
        {
            return current.Id!;
        }

        return Format(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
    }

    /// <summary>
    /// Starts <paramref name="name"/> as a child of <paramref name="traceParent"/> (ignored when null or malformed:
    /// then under the current activity). Null when nobody listens to <see cref="Source"/>.
    /// </summary>
    public static Activity? StartUnder(string name, ActivityKind kind, string? traceParent, Guid requestId)
    {
        var activity = ActivityContext.TryParse(traceParent, null, out var parent)
            ? Source.StartActivity(name, kind, parent)
            : Source.StartActivity(name, kind);
        activity?.SetTag("meatlizard.request_id", requestId.ToString());
        return activity;
    }

    /// <summary>
    /// The <c>traceparent</c> to hand to the next step: <paramref name="activity"/>'s when it runs (so the next span is
    /// its child), otherwise the one received, unchanged.
    /// </summary>
    public static string? Next(Activity? activity, string? received) =>
        activity is { IdFormat: ActivityIdFormat.W3C } ? activity.Id : received;

    /// <summary>The trace id inside a <c>traceparent</c>, or null when it is not one.</summary>
    public static string? TraceIdOf(string? traceParent) =>
        ActivityContext.TryParse(traceParent, null, out var context) ? context.TraceId.ToHexString() : null;

    /// <summary>
    /// A logging scope naming the request and its trace, so every line logged about the message carries both even where
    /// no activity runs (nobody listens, or a step before the activity starts).
    /// </summary>
    public static IDisposable? BeginRequestScope(this ILogger logger, Guid requestId, string? traceParent) =>
        logger.BeginScope(new Dictionary<string, object?>
        {
            ["RequestId"] = requestId,
            ["MessageTraceId"] = TraceIdOf(traceParent),
        });

    private static string Format(ActivityTraceId traceId, ActivitySpanId spanId, ActivityTraceFlags flags) =>
        $"00-{traceId.ToHexString()}-{spanId.ToHexString()}-{(flags.HasFlag(ActivityTraceFlags.Recorded) ? "01" : "00")}";
}
