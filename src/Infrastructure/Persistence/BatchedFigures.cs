using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// Takes figures off the path that made them: they are queued in memory and written in one transaction per batch (at
/// most every <see cref="FlushInterval"/>), instead of one write each. Figures still queued when the process dies are
/// lost — they are statistics, never chat data. The queue is bounded; when full the oldest figure is dropped.
/// </summary>
internal abstract partial class BatchedFigures<T>(IServiceScopeFactory scopes, ILogger logger, int maxBatch) : BackgroundService
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(250);

    private readonly Channel<T> _queue = Channel.CreateBounded<T>(
        new BoundedChannelOptions(50_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    /// <summary>What the figures are, for the log line of a batch that could not be written ("request figures").</summary>
    protected abstract string What { get; }

    /// <summary>Writes <paramref name="batch"/> with the storage's batch writer, resolved in <paramref name="scope"/>.</summary>
    protected abstract Task WriteAsync(IServiceProvider scope, List<T> batch);

    protected Task EnqueueAsync(T figure)
    {
        _queue.Writer.TryWrite(figure);
        return Task.CompletedTask;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);

        // A host stopped at once may never have run the loop: write what is left here.
        var rest = new List<T>();
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
        var batch = new List<T>(maxBatch);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
            {
                await Task.Delay(FlushInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                while (batch.Count < maxBatch && _queue.Reader.TryRead(out var figure))
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

    private async Task WriteAsync(List<T> batch)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await WriteAsync(scope.ServiceProvider, batch);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogWriteFailed(logger, batch.Count, What, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write {Count} {What}; they are dropped")]
    private static partial void LogWriteFailed(ILogger logger, int count, string what, Exception exception);
}
