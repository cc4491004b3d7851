using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>
/// Claims pending requests for one dispatch, with a lease and this run's name (<see cref="DispatcherRun"/>), so
/// dispatchers in other processes skip them; if this one dies before dispatching them, they become claimable again when
/// the lease runs out — or as soon as a live dispatcher knows this run to be dead: a process of its machine that is gone,
/// or a run whose liveness lease lapsed (<see cref="DispatcherLiveness"/>). Freeing a run's claims wrongly (one only
/// stalled past its liveness lease) can never send a request twice: a batch is stored only where its requests are still
/// pending, one conditional update, and only what was stored is sent (<see cref="DispatchBatch"/>).
/// </summary>
public sealed partial class DispatchClaims(
    IRelayRequestRepository requests,
    IDutyLeases leases,
    IClock clock,
    IOptions<RelayOptions> options,
    DispatcherRun run,
    QueueWakes wakes,
    ILogger<DispatchClaims> logger)
{
    /// <summary>
    /// How soon a claim another run holds is looked at again: a live dispatcher holds one only while it stores its batch
    /// (milliseconds), so one still held a moment later may be a dead run's, given back once that is known.
    /// </summary>
    internal static readonly TimeSpan OthersClaimsLookedAtAgain = TimeSpan.FromSeconds(1);

    /// <summary>Up to <paramref name="max"/> pending requests, each with its chat and the history its prompt needs.</summary>
    public Task<IReadOnlyList<ClaimedRequest>> ClaimAsync(int max, CancellationToken cancellationToken)
    {
        var now = clock.UtcNow;
        var relay = options.Value;
        return requests.ClaimPendingAsync(max, relay.MaxHistoryMessages, now, now + relay.DispatchLease, run.Name,
            cancellationToken);
    }

    /// <summary>
    /// Gives the claims of runs known to be dead back to the queue (and wakes the dispatchers for them), and says when to
    /// look again at the claims still held (null: none is): when a lease runs out, one a dispatcher died holding is
    /// claimable by the others, and no new question or answer need come to wake them for it; another run's claim is
    /// looked at again sooner, should that run die meanwhile.
    /// </summary>
    public async Task<DateTimeOffset?> FreeDeadAndNextExpiryAsync(CancellationToken cancellationToken)
    {
        var now = clock.UtcNow;
        DateTimeOffset? next = null;
        var claims = await requests.ListClaimsHeldAsync(now, cancellationToken);
        // Whose liveness lease lapsed is asked only when another run holds claims: most looks find none.
        IReadOnlyCollection<string> lapsed = claims.Any(c => c.Claimer is { } other && other != run.Name)
            ? (await leases.ListLapsedHoldersAsync(DispatcherRun.LivenessPrefix, now, cancellationToken))
                .ToHashSet(StringComparer.Ordinal)
            : [];
        foreach (var held in claims)
        {
            if (held.Claimer is { } claimer && run.IsKnownDead(claimer, lapsed))
            {
                if (await requests.ReleaseClaimsOfAsync(claimer, cancellationToken) is var freed and > 0)
                {
                    LogFreedFromDeadRun(logger, freed, claimer);
                    wakes.News();
                }

                continue;
            }

            var due = held.Claimer is null || held.Claimer == run.Name
                ? held.RunsOutAt
                : Earliest(held.RunsOutAt, now + OthersClaimsLookedAtAgain);
            next = Earliest(next, due);
        }

        return next;
    }

    /// <summary>
    /// Gives the claims of <paramref name="turn"/>'s dispatch back: the requests wait in their places (the way to the
    /// hosts is out, or only just back, or a host is late) — and go at once if the news that they wait for came while
    /// they were claimed (<see cref="QueueWakes.GaveBack"/>).
    /// </summary>
    public async Task HoldAsync(IReadOnlyList<ClaimedRequest> pending, QueueWakes.Turn turn, CancellationToken cancellationToken)
    {
        await requests.ReleaseClaimsAsync(pending.Select(c => c.Request.Id).ToList(), cancellationToken);
        wakes.GaveBack(turn);
        LogHeldForOutage(logger, pending.Count);
    }

    private static DateTimeOffset Earliest(DateTimeOffset? a, DateTimeOffset b) => a is { } first && first < b ? first : b;

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "{Count} request(s) wait: the way to the model hosts is out, or only just back")]
    private static partial void LogHeldForOutage(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "{Count} request(s) claimed by the dispatcher run {Claimer}, which is dead, went back to the queue at once")]
    private static partial void LogFreedFromDeadRun(ILogger logger, int count, string claimer);
}
