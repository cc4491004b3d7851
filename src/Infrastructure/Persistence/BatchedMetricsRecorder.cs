using System.Threading.Channels;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// Takes request figures off the answer's path: they are queued in memory and written in one transaction per batch
/// (at most every <see cref="FlushInterval"/>), instead of one write per answer. Figures still queued when the process
/// dies are lost — they are statistics, never chat data. The queue is bounded; when full the oldest figure is dropped.
/// </summary>
internal sealed partial class BatchedMetricsRecorder(IServiceScopeFactory scopes, ILogger<BatchedMetricsRecorder> logger)
    : BackgroundService, IMetricsRecorder
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(250);
    private const int MaxBatch = 500;

    private readonly Channel<RequestMetric> _queue = Channel.CreateBounded<RequestMetric>(
        new BoundedChannelOptions(50_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    public Task RecordAsync(RequestMetric metric, CancellationToken cancellationToken)
    {
        _queue.Writer.TryWrite(metric);
        return Task.CompletedTask;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);

        // A host stopped at once may never have run the loop: write what is left here.
        var rest = new List<RequestMetric>();
        while (_queue.Reader.TryRead(out var metric))
        {
            rest.Add(metric);
        }

        if (rest.Count > 0)
        {
            await WriteAsync(rest);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<RequestMetric>(MaxBatch);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
            {
                await Task.Delay(FlushInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var metric))
                {
                    batch.Add(metric);
                }

                await WriteAsync(batch);
                batch.Clear();
            }
        }
        catch (ChannelClosedException)
        {
        }
    }

    private async Task WriteAsync(List<RequestMetric> batch)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IMetricsBatchWriter>().WriteAsync(batch, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogWriteFailed(logger, batch.Count, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write {Count} request figures; they are dropped")]
    private static partial void LogWriteFailed(ILogger logger, int count, Exception exception);
}
