using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Metrics;

/// <summary>
/// Serves <c>GET /metrics</c> on 127.0.0.1:<see cref="MetricsOptions.Port"/> (nothing else, no token: only this
/// machine can connect). A port that cannot be opened stops the host with one line naming the setting.
/// </summary>
/// <remarks>
/// A small Kestrel of its own rather than <see cref="HttpListener"/>: the managed listener, stopped while a scraper
/// held a connection, threw out of the host's stop (a clean-clone CI run) and answered a scrape it had read but not
/// yet handed over with an empty <c>200</c>, which a scraper takes as every series gone. Kestrel stops gracefully:
/// it accepts nothing more, lets a scrape under way finish, then closes the idle connections.
/// </remarks>
public sealed partial class LoopbackMetricsServer(
    MetricsOptions options, MetricsExposition exposition, ILogger<LoopbackMetricsServer> logger) : IHostedService, IAsyncDisposable
{
    private WebApplication? _server;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Port is not { } port)
        {
            return;
        }

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, port);
        });
        var server = builder.Build();
        server.Run(AnswerAsync);
        try
        {
            await server.StartAsync(cancellationToken);
        }
        catch (IOException ex)
        {
            await server.DisposeAsync();
            throw new ConfigurationException($"Metrics:Port {port} cannot be opened on 127.0.0.1 ({ex.Message}); choose a free port.");
        }

        _server = server;
        LogServing(logger, port);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { } server)
        {
            await server.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is { } server)
        {
            await server.DisposeAsync();
        }
    }

    private async Task AnswerAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        if (request.Path != "/metrics")
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            return;
        }

        var body = Encoding.UTF8.GetBytes(exposition.Collect());
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = MetricsExposition.ContentType;
        response.ContentLength = body.Length;
        if (HttpMethods.IsGet(request.Method))
        {
            await response.Body.WriteAsync(body, context.RequestAborted);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Metrics served on http://127.0.0.1:{Port}/metrics")]
    private static partial void LogServing(ILogger logger, int port);
}
