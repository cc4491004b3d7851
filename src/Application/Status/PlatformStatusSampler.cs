using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Application.Status.Queries;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Status;

/// <summary>
/// Reads the platform's status every <see cref="Interval"/> for the sampled gauges (queue depth, workers online), so a
/// scrape reads a number instead of querying the database and the worker presence itself.
/// </summary>
public sealed partial class PlatformStatusSampler(
    IServiceScopeFactory scopes, PlatformMetrics metrics, ILogger<PlatformStatusSampler> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var status = await scope.ServiceProvider.GetRequiredService<IMediator>()
                    .Send(new GetPlatformStatus(), stoppingToken);
                metrics.Sampled(status.QueueDepth, status.WorkersOnline, status.Models?
                    .Select(m => new PlatformMetrics.ModelSample(m.Name, m.Waiting, m.Hosts, m.FreeSlots)).ToList());
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The database may be away for a moment (counted where it failed); the gauges keep the last sample.
                LogSampleFailed(logger, ex.GetType().Name);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "The platform status could not be sampled for the metrics ({ErrorType})")]
    private static partial void LogSampleFailed(ILogger logger, string errorType);
}
