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
/// A process that gives back requests only another's hosts serve wakes the others on the same channel
/// (<see cref="NotifyOthersAsync"/>), naming itself so that it does not wake itself.
/// </summary>
internal sealed partial class PostgresRelayQueueSignal(NpgsqlDataSource dataSource, ILogger<PostgresRelayQueueSignal> logger)
    : IRelayQueueSignal, IAsyncDisposable
{
    public const string Channel = "meatlizard_relay_queue";

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    // How long the listener waits for a notification before it checks that its connection is still alive.
    private static readonly TimeSpan LivenessInterval = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often this process wakes the others at most. Two processes that each believe the other's hosts serve a request
    /// (one's presence not yet expired) give it back and forth: bounded so, they do it a few times a second, not in a storm.
    /// </summary>
    internal static readonly TimeSpan OthersWokenAtMostEvery = TimeSpan.FromMilliseconds(250);

    private readonly InProcessRelayQueueSignal _wake = new();

    /// <summary>This process, named in the notifications it sends to wake the others (the insert trigger names none).</summary>
    private readonly string _self = Guid.NewGuid().ToString("N");

    /// <summary>Wake-ups of the others asked and not yet sent: however many, one is sent (<see cref="WakeOthersLoopAsync"/>).</summary>
    private readonly InProcessRelayQueueSignal _othersOwed = new();

    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstListen = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _listener;
    private Task? _othersWaker;
    private int _started;
    private int _wakingOthers;
    private int _disposed;

    /// <summary>Completes once LISTEN has been issued the first time (for tests and start-up checks).</summary>
    public Task Listening => _firstListen.Task;

    /// <summary>A request queued by this process: wake at once, without waiting for the round trip of the NOTIFY.</summary>
    public void NotifyPending() => _wake.NotifyPending();

    /// <summary>
    /// Wakes the other processes' dispatchers: at once, unless this process woke them less than
    /// <see cref="OthersWokenAtMostEvery"/> ago; then once at the end of that interval for all asked meanwhile (a request
    /// given back after they were woken is not left to their poll). One loop sends them, so the interval counts from when
    /// the others were woken (the NOTIFY's commit, which its answer follows), and a wake-up that waited for a connection
    /// is not followed at once by the next.
    /// </summary>
    public void NotifyOthers()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        if (Interlocked.Exchange(ref _wakingOthers, 1) == 0)
        {
            _othersWaker = Task.Run(() => WakeOthersLoopAsync(_stop.Token));
        }

        _othersOwed.NotifyPending();
    }

    private async Task WakeOthersLoopAsync(CancellationToken stop)
    {
        try
        {
            while (true)
            {
                // Cleared as it returns: what is given back from now on asks for another, and what was given back
                // before is claimable when this one arrives.
                await _othersOwed.WaitAsync(Timeout.InfiniteTimeSpan, stop);
                await WakeOthersAsync(stop);
                await Task.Delay(OthersWokenAtMostEvery, stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>A NOTIFY on the channel every dispatching process listens on, naming this one (which ignores it).</summary>
    private async Task WakeOthersAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var notify = dataSource.CreateCommand("SELECT pg_notify(@channel, @sender)");
            notify.Parameters.AddWithValue("channel", Channel);
            notify.Parameters.AddWithValue("sender", _self);
            await notify.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The others' slow poll finds the requests all the same, and the loop sends the next wake-up asked.
            LogWakeOthersFailed(ex);
        }
    }

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
        foreach (var running in new[] { _listener, _othersWaker })
        {
            if (running is not null)
            {
                await running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        _stop.Dispose();
        _wake.Dispose();
        _othersOwed.Dispose();
    }

    private async Task ListenAsync(CancellationToken stop)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stop);
                // Not woken by its own wake-up of the others: it gave those requests back because its hosts do not serve them.
                connection.Notification += (_, e) =>
                {
                    if (e.Payload != _self)
                    {
                        _wake.NotifyPending();
                    }
                };
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
        Message = "Could not wake the other processes' dispatchers for requests their hosts serve (their poll finds them)")]
    private partial void LogWakeOthersFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Lost the PostgreSQL connection that listens for queued requests; reconnecting in {DelayMs} ms (the slow poll covers the gap)")]
    private partial void LogListenFailed(double delayMs, Exception exception);
}
