using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay.Commands;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay;

/// <summary>
/// Wakes on new work (or the slow poll) and sends the dispatch and timeout commands. A few dispatches run at once,
/// each claiming its own batch (claims never overlap, in this process or across processes): a batch takes four round
/// trips to the database (claim, sessions, histories, store), so one dispatch at a time would hold the queue back
/// under load. A dispatch that claimed a full batch wakes a sibling, so they all work while there is a backlog and
/// all sleep when there is none.
/// </summary>
public sealed partial class RelayDispatchLoop(
    IServiceScopeFactory scopes, Dispatch.QueueWakes wakes, RelayTransportHealth way, Hosts.HostRuns runs, IClock clock,
    IOptions<RelayOptions> options, ILogger<RelayDispatchLoop> logger)
    : BackgroundService
{
    /// <summary>
    /// The shortest wait before looking again for what is due: a deadline that falls due as it is looked at is not
    /// looked for in a spin.
    /// </summary>
    private static readonly TimeSpan ShortestWait = TimeSpan.FromMilliseconds(50);

    /// <summary>When the first dispatch looks for overdue requests next (UTC ticks; 0: at once).</summary>
    private long _expiryDue;

    /// <summary>When a dispatch that claimed nothing may look next (UTC ticks; <see cref="TakeEmptyClaimLook"/>).</summary>
    private long _emptyClaimLookDue;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Questions held while the way to the hosts was out go as soon as it is back.
        way.Recovered += wakes.News;
        // The first dispatch looks at the start; a dispatch that claims nothing looks a moment after.
        LookedJustNow();
        return base.StartAsync(cancellationToken);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        way.Recovered -= wakes.News;
        return base.StopAsync(cancellationToken);
    }

    private const int Dispatches = 4;
    private const int BatchSize = 16;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Dispatches).Select(i => Task.Run(() => DispatchAsync(i == 0, stoppingToken), stoppingToken)));

    /// <summary>
    /// The first pause after a dispatch failed (the database away, say), doubled at each failure in a row up to
    /// <see cref="LongestPauseAfterFailure"/>, and never longer than the poll: short, because nothing wakes a dispatch
    /// that pauses — the questions queued once the cause is gone would wait for its end.
    /// </summary>
    internal static readonly TimeSpan FirstPauseAfterFailure = TimeSpan.FromMilliseconds(250);

    internal static readonly TimeSpan LongestPauseAfterFailure = TimeSpan.FromSeconds(4);

    private async Task DispatchAsync(bool expires, CancellationToken stoppingToken)
    {
        var pause = FirstPauseAfterFailure;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var mediator = scope.ServiceProvider.GetRequiredService<IMediator>();
                // A full batch may have left more behind: a sibling takes the next one meanwhile. A short one drained
                // what was claimable when it was claimed, and whatever is queued after it wakes the loop again, so
                // no claim is spent finding the queue empty.
                int handled;
                while ((handled = await mediator.Send(new DispatchPendingRequests(BatchSize), stoppingToken)) == BatchSize)
                {
                    wakes.More();
                }

                // Overdue requests are looked for in one of the dispatches, however often new work wakes the loop: when
                // the last look said something falls due (a deadline, or a claim a dead dispatcher held running out —
                // nothing else wakes the loop for those), else once per poll interval. But a host back as a new run has
                // lost what its last run had taken, and that goes out again now, in whichever dispatch the news woke
                // (a wake-up wakes one of them: left to the first, it waited for that one's poll, up to
                // Relay:PollInterval — 20 s of a standing queue after a client bot's restart in the fault suite).
                // And a dispatch that found nothing to claim looks (at most once a second among them): the work may
                // be under the claim of a server bot killed since the last look, which nothing else announces.
                var restartNews = runs.TakeRestartNews();
                if (restartNews || expires && clock.UtcNow.UtcTicks >= Volatile.Read(ref _expiryDue)
                    || handled == 0 && TakeEmptyClaimLook())
                {
                    var pass = await mediator.Send(new ExpireOverdueRequests(), stoppingToken);
                    LookedJustNow();
                    var poll = clock.UtcNow + options.Value.PollInterval;
                    Volatile.Write(ref _expiryDue, (pass.LookAgainAt < poll ? pass.LookAgainAt.Value : poll).UtcTicks);
                }

                pause = FirstPauseAfterFailure;
                await wakes.WaitAsync(expires ? UntilExpiryDue() : options.Value.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Not the poll interval (20 s in the fault suite, whose PostgreSQL restart row showed the queue standing
                // still 13.4 s after the database was back): a pause of a fraction of a second, growing while it fails.
                LogLoopFailed(logger, ex);
                await Task.Delay(pause < options.Value.PollInterval ? pause : options.Value.PollInterval, stoppingToken)
                    .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                pause = pause * 2 < LongestPauseAfterFailure ? pause * 2 : LongestPauseAfterFailure;
            }
        }
    }

    /// <summary>
    /// Whether a dispatch that claimed nothing may look now (dead dispatchers' claims, <see cref="Dispatch.DispatchClaims"/>):
    /// once a second among them, however often answers and heartbeats wake an idle queue.
    /// </summary>
    private bool TakeEmptyClaimLook()
    {
        var due = Volatile.Read(ref _emptyClaimLookDue);
        var now = clock.UtcNow.UtcTicks;
        return now >= due && Interlocked.CompareExchange(ref _emptyClaimLookDue,
            now + Dispatch.DispatchClaims.OthersClaimsLookedAtAgain.Ticks, due) == due;
    }

    /// <summary>A look was just taken, whichever dispatch took it: one that claims nothing need not look again at once.</summary>
    private void LookedJustNow() => Volatile.Write(ref _emptyClaimLookDue,
        (clock.UtcNow + Dispatch.DispatchClaims.OthersClaimsLookedAtAgain).UtcTicks);

    /// <summary>How long the first dispatch may sleep before overdue requests are due to be looked for.</summary>
    private TimeSpan UntilExpiryDue()
    {
        var left = new DateTimeOffset(Volatile.Read(ref _expiryDue), TimeSpan.Zero) - clock.UtcNow;
        return left < ShortestWait ? ShortestWait : left > options.Value.PollInterval ? options.Value.PollInterval : left;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The relay dispatcher failed; retrying")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}

/// <summary>
/// Reads what workers send and applies it, over <see cref="ChatLanes"/>: a lane's waiting packets go in one command,
/// so the envelopes of a quick answer that arrive together are stored together. Packets whose handling failed (the
/// database away longer than an answer's store waits) are tried again with growing pauses, off the lane.
/// </summary>
public sealed partial class RelayInboundLoop(
    IServiceScopeFactory scopes, IServerRelayTransport transport, ILogger<RelayInboundLoop> logger) : BackgroundService
{
    // A lane's command waits for its answers to be stored (a commit) and their replay checks, and every session hashed
    // to the lane waits behind it: with 8 lanes, at 1,000 answers/s, an answer waited 3–11 ms at the median (p99 up to
    // 60 ms) before it was even opened; with 64, 2–3 ms (p99 ~18 ms), and, with the worker's lanes raised alike, the
    // closed loop's throughput rose by 26–72 % (distributed benchmark, docs/distributed.md). Lanes cost a channel and an idle task each; the answers' group commit still gathers
    // what the lanes store at the same time into one statement.
    private const int Lanes = 64;
    private const int MaxBatch = 64;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        ChatLanes.RunAsync(transport.ReceiveAllAsync(stoppingToken), Lanes, MaxBatch, HandleAsync, stoppingToken);

    /// <summary>
    /// Tries of packets whose handling failed, after pauses of 1, 2, 4, 8, 16 s and then 30 s: about four minutes in
    /// all, longer than an answer is waited for (Relay:CompletionTimeout, 3 minutes by default).
    /// </summary>
    internal const int RetryAttempts = 11;

    internal static readonly TimeSpan FirstRetryPause = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan MaxRetryPause = TimeSpan.FromSeconds(30);

    private async Task HandleAsync(IReadOnlyList<RelayPacket> packets, CancellationToken stoppingToken)
    {
        if (await TryHandleAsync(packets, stoppingToken) is { Count: > 0 } failed)
        {
            // Off the lane, so the session's other envelopes (and the sessions hashed to the lane) are not held up.
            _ = Task.Run(() => RetryAsync(failed, stoppingToken), CancellationToken.None);
        }
    }

    /// <summary>The packets whose handling failed: all of them when the command itself failed.</summary>
    private async Task<IReadOnlyList<RelayPacket>> TryHandleAsync(IReadOnlyList<RelayPacket> packets, CancellationToken stoppingToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new HandleHostPacket(packets), stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            LogPacketFailed(logger, ex);
            return packets;
        }
    }

    private async Task RetryAsync(IReadOnlyList<RelayPacket> packets, CancellationToken stoppingToken)
    {
        var pause = FirstRetryPause;
        try
        {
            for (var attempt = 1; attempt <= RetryAttempts && packets.Count > 0; attempt++)
            {
                await Task.Delay(pause, stoppingToken);
                LogRetrying(logger, packets.Count, attempt);
                packets = await TryHandleAsync(packets, stoppingToken);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxRetryPause.Ticks));
            }

            if (packets.Count > 0)
            {
                // Still not marked handled: a transport that keeps its place (Discord) reads them again after a restart.
                LogRetriesGivenUp(logger, packets.Count, RetryAttempts);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Trying {Count} worker packets again (try {Attempt})")]
    private static partial void LogRetrying(ILogger logger, int count, int attempt);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Gave up {Count} worker packets after {Attempts} more tries; a restart reads them again from Discord")]
    private static partial void LogRetriesGivenUp(ILogger logger, int count, int attempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a worker packet failed")]
    private static partial void LogPacketFailed(ILogger logger, Exception exception);
}
