using System.Globalization;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Transcripts;

/// <summary>
/// Deletes stored transcripts older than <see cref="TranscriptOptions.Retention"/>. Their age is read from their key
/// (<see cref="TranscriptArchive.StampFormat"/>), so it works the same on every object store through
/// <see cref="IObjectStore"/>'s list and delete. Keys that do not look like a stored transcript are left alone.
/// </summary>
public sealed class TranscriptRetention(IObjectStore store, IClock clock, IOptions<TranscriptOptions> options)
{
    /// <summary>How many objects were deleted.</summary>
    public async Task<int> DeleteExpiredAsync(CancellationToken cancellationToken)
    {
        var retention = options.Value.Retention;
        if (retention <= TimeSpan.Zero)
        {
            return 0;
        }

        var cutoff = clock.UtcNow - retention;
        var expired = new List<string>();
        await foreach (var key in store.ListAsync(TranscriptArchive.Prefix, cancellationToken))
        {
            if (WrittenAt(key) is { } at && at < cutoff)
            {
                expired.Add(key);
            }
        }

        // Listed first, deleted after: some stores do not promise a listing that stays right while it changes.
        var deleted = 0;
        foreach (var key in expired)
        {
            if (await store.DeleteAsync(key, cancellationToken))
            {
                deleted++;
            }
        }

        return deleted;
    }

    private static DateTimeOffset? WrittenAt(string key)
    {
        var name = key[(key.LastIndexOf('/') + 1)..];
        var dot = name.LastIndexOf('.');
        return dot > 0 && DateTimeOffset.TryParseExact(name[..dot], TranscriptArchive.StampFormat, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
            ? at
            : null;
    }
}

/// <summary>
/// Runs <see cref="TranscriptRetention"/> every <see cref="TranscriptOptions.RetentionSweepInterval"/>. Every API
/// instance may run it: deleting an object twice is harmless.
/// </summary>
public sealed partial class TranscriptRetentionSweeper(
    IServiceScopeFactory scopes, IOptions<TranscriptOptions> options, ILogger<TranscriptRetentionSweeper> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.Retention <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Value.RetentionSweepInterval);
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var deleted = await scope.ServiceProvider.GetRequiredService<TranscriptRetention>().DeleteExpiredAsync(stoppingToken);
                if (deleted > 0)
                {
                    LogDeleted(deleted);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The object store may be away for a while; the next sweep tries again.
                LogSweepFailed(ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} stored transcript object(s) past their retention.")]
    private partial void LogDeleted(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The transcript retention sweep failed; it runs again later.")]
    private partial void LogSweepFailed(Exception exception);
}
