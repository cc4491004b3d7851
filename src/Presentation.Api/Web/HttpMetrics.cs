using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// Every HTTP request's duration on the <c>meatlizard.http.server.request.duration</c> histogram (its <c>_count</c>
/// is the request count), by method, route template (<c>/api/v1/sessions/{id}</c>, never the path: a path holds ids)
/// and status. A request no endpoint matched (static files, unknown paths) has route <c>unmatched</c>.
/// </summary>
public sealed class HttpMetrics
{
    public const string Unmatched = "unmatched";

    private static readonly string[] s_statuses = [.. Enumerable.Range(0, 600).Select(s => s.ToString(CultureInfo.InvariantCulture))];

    private static readonly double[] s_buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly Histogram<double> _duration;

    public HttpMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _duration = meterFactory.Create("MeatLizard").CreateHistogram("meatlizard.http.server.request.duration", "s",
            "HTTP requests by method, route template and status, and how long they took",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_buckets });
    }

    /// <summary>
    /// Runs the rest of the pipeline and records it. The route is read before it runs (WebApplication routes first)
    /// because the exception handler clears the endpoint before it answers; after, when routing came later.
    /// </summary>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var started = Stopwatch.GetTimestamp();
        var route = Route(context);
        try
        {
            await next(context);
        }
        finally
        {
            var status = context.Response.StatusCode;
            _duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new TagList
            {
                { "method", Method(context.Request.Method) },
                { "route", route ?? Route(context) ?? Unmatched },
                { "status", status is >= 0 and < 600 ? s_statuses[status] : "other" },
            });
        }
    }

    private static string? Route(HttpContext context) => (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;

    private static string Method(string method) => method switch
    {
        "GET" or "POST" or "PUT" or "PATCH" or "DELETE" or "HEAD" or "OPTIONS" => method,
        _ => "OTHER",
    };
}

public static class HttpMetricsMiddleware
{
    /// <summary>First in the pipeline, so the time and the status are what the client got.</summary>
    public static WebApplication UseHttpMetrics(this WebApplication app)
    {
        var metrics = app.Services.GetRequiredService<HttpMetrics>();
        app.Use(metrics.InvokeAsync);
        return app;
    }
}
