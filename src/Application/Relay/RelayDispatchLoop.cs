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
/// Wakes on new work (or, in its first dispatch, the slow poll) and sends the dispatch and timeout commands. A few
/// dispatches run at once, each claiming its own batch (claims never overlap, in this process or across processes): a
/// batch takes four round trips to the database (claim, sessions, histories, store), so one dispatch at a time would
/// hold the queue back under load. A dispatch that claimed a full batch wakes a sibling, so they all work while there
/// is a backlog and all sleep when there is none.
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
        // The first dispatch looks at the start; a dispatch that claims nothing looks a moment after. That look covers
        // the hosts heard before it: another dispatch taking that news looked as well, at once (two passes over the
        // same rows; an Application test counting the start's passes saw two when a sibling ran first).
        LookedJustNow();
        runs.TakeRestartNews();
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
                // Only the first dispatch polls, the safety net for a wake-up lost (another process's, on a connection
                // that dropped): it looks at the queue as the others would. All four polling woke an idle process to
                // read the queue eight times a second (Relay:PollInterval 500 ms): with the pause watcher's ticks, a
                // third of its CPU while idle.
                await wakes.WaitAsync(expires ? UntilExpiryDue() : Timeout.InfiniteTimeSpan, stoppingToken);
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
