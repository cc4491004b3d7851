using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// Wakes the dispatcher of this process when any process queues a request: the insert trigger of
/// <c>relay_requests</c> sends a NOTIFY on <see cref="Channel"/> at commit, and this class LISTENs on one connection of
/// its own, started by the first <see cref="WaitAsync"/> (so only processes that dispatch hold one). The connection is
/// reopened with backoff when it drops (e.g. the server restarts); after every (re)connect the dispatcher is woken once,
/// because notifications sent while nobody listened are gone. The dispatcher's slow poll remains the safety net.
/// </summary>
internal sealed partial class PostgresRelayQueueSignal(NpgsqlDataSource dataSource, ILogger<PostgresRelayQueueSignal> logger)
    : IRelayQueueSignal, IAsyncDisposable
{
    public const string Channel = "meatlizard_relay_queue";

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    // How long the listener waits for a notification before it checks that its connection is still alive.
    private static readonly TimeSpan LivenessInterval = TimeSpan.FromSeconds(30);

    private readonly InProcessRelayQueueSignal _wake = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstListen = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _listener;
    private int _started;
    private int _disposed;

    /// <summary>Completes once LISTEN has been issued the first time (for tests and start-up checks).</summary>
    public Task Listening => _firstListen.Task;

    /// <summary>A request queued by this process: wake at once, without waiting for the round trip of the NOTIFY.</summary>
    public void NotifyPending() => _wake.NotifyPending();

    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        EnsureListening();
        return _wake.WaitAsync(timeout, cancellationToken);
    }

    public void EnsureListening()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _listener = Task.Run(() => ListenAsync(_stop.Token));
        }
    }

    /// <summary>Safe to call twice (the container disposes it under both of its registrations).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        if (_listener is not null)
        {
            await _listener.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _stop.Dispose();
        _wake.Dispose();
    }

    private async Task ListenAsync(CancellationToken stop)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stop);
                connection.Notification += (_, _) => _wake.NotifyPending();
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop);
                }

                LogListening(Channel);
                _firstListen.TrySetResult();
                _wake.NotifyPending();
                backoff = TimeSpan.FromMilliseconds(100);
                while (true)
                {
                    if (!await connection.WaitAsync(LivenessInterval, stop))
                    {
                        await using var ping = new NpgsqlCommand("SELECT 1", connection);
                        await ping.ExecuteScalarAsync(stop);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
            {
                LogListenFailed(backoff.TotalMilliseconds, ex);
                await Task.Delay(backoff, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening for queued relay requests on {Channel}")]
    private partial void LogListening(string channel);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Lost the PostgreSQL connection that listens for queued requests; reconnecting in {DelayMs} ms (the slow poll covers the gap)")]
    private partial void LogListenFailed(double delayMs, Exception exception);
}
