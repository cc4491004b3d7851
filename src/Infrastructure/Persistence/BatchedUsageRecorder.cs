using System.Threading.Channels;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// Takes per-user usage off the call's path, as <see cref="BatchedMetricsRecorder"/> takes request figures: queued in
/// memory and written in one transaction per batch (at most every <see cref="FlushInterval"/>), summed per user, day
/// and kind. Figures still queued when the process dies are lost (statistics, never chat data); when the bounded queue
/// is full the oldest is dropped.
/// </summary>
internal sealed partial class BatchedUsageRecorder(IServiceScopeFactory scopes, ILogger<BatchedUsageRecorder> logger)
    : BackgroundService, IUsageRecorder
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(250);
    private const int MaxBatch = 2_000;

    private readonly Channel<UsageFigure> _queue = Channel.CreateBounded<UsageFigure>(
        new BoundedChannelOptions(50_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    public Task RecordAsync(UsageFigure figure, CancellationToken cancellationToken)
    {
        _queue.Writer.TryWrite(figure);
        return Task.CompletedTask;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);

        // A host stopped at once may never have run the loop: write what is left here.
        var rest = new List<UsageFigure>();
        while (_queue.Reader.TryRead(out var figure))
        {
            rest.Add(figure);
        }

        if (rest.Count > 0)
        {
            await WriteAsync(rest);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<UsageFigure>(MaxBatch);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
            {
                await Task.Delay(FlushInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var figure))
                {
                    batch.Add(figure);
                }

                await WriteAsync(batch);
                batch.Clear();
            }
        }
        catch (ChannelClosedException)
        {
        }
    }

    private async Task WriteAsync(List<UsageFigure> batch)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IUsageBatchWriter>().WriteAsync(batch, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogWriteFailed(logger, batch.Count, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write {Count} usage figures; they are dropped")]
    private static partial void LogWriteFailed(ILogger logger, int count, Exception exception);
}
