using System.Net;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Metrics;

/// <summary>
/// Serves <c>GET /metrics</c> on 127.0.0.1:<see cref="MetricsOptions.Port"/> (nothing else, no token: only this
/// machine can connect). A port that cannot be opened stops the host with one line naming the setting.
/// </summary>
public sealed partial class LoopbackMetricsServer(
    MetricsOptions options, MetricsExposition exposition, ILogger<LoopbackMetricsServer> logger) : BackgroundService
{
    private HttpListener? _listener;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Port is not { } port)
        {
            return Task.CompletedTask;
        }

        _listener = new HttpListener();
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        try
        {
            _listener.Start();
        }
        catch (HttpListenerException ex)
        {
            throw new ConfigurationException($"Metrics:Port {port} cannot be opened on 127.0.0.1 ({ex.Message}); choose a free port.");
        }

        LogServing(logger, port);
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _listener?.Stop();
        await base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _listener?.Close();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var listener = _listener!;
        while (!stoppingToken.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync().WaitAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or HttpListenerException or ObjectDisposedException)
            {
                return; // stopping
            }

            try
            {
                await AnswerAsync(context);
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException)
            {
                LogAnswerFailed(logger, ex.GetType().Name); // the scraper left
            }
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var response = context.Response;
        if (context.Request.Url?.AbsolutePath != "/metrics")
        {
            response.StatusCode = (int)HttpStatusCode.NotFound;
            return;
        }

        if (context.Request.HttpMethod is not ("GET" or "HEAD"))
        {
            response.StatusCode = (int)HttpStatusCode.MethodNotAllowed;
            response.Headers["Allow"] = "GET, HEAD";
            return;
        }

        var body = Encoding.UTF8.GetBytes(exposition.Collect());
        response.StatusCode = (int)HttpStatusCode.OK;
        response.ContentType = MetricsExposition.ContentType;
        response.ContentLength64 = body.Length;
        if (context.Request.HttpMethod == "GET")
        {
            await response.OutputStream.WriteAsync(body);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Metrics served on http://127.0.0.1:{Port}/metrics")]
    private static partial void LogServing(ILogger logger, int port);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A metrics scrape ended early ({ErrorType})")]
    private static partial void LogAnswerFailed(ILogger logger, string errorType);
}
