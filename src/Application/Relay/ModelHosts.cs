using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay;

/// <summary>
/// The model hosts a dispatcher may send to, read once per batch: the live hosts that accept work (draining ones get
/// none) and what each has in flight. The hosts list is kept for <see cref="Reuse"/> — it is a round trip to the shared
/// presence store (two in Redis), and presence is as stale as a heartbeat anyway — but never an empty one: a host that
/// comes online is used by the very next batch. The counts in flight are read fresh, from the database, whenever a
/// host has a slot limit or there is a choice to make.
/// </summary>
/// <remarks>
/// A dispatcher whose transport reaches only some hosts (<see cref="IRelayReach"/>: the in-process relay reaches the
/// worker beside it, not other API instances' workers in the shared presence store) places requests on those alone.
/// </remarks>
public sealed class ModelHosts(IWorkerPresence presence, IClock clock, IRelayReach? reach = null)
{
    private readonly SemaphoreSlim _placing = new(1, 1);
    private readonly DateTimeOffset _since = clock.UtcNow;

    public static readonly TimeSpan Reuse = TimeSpan.FromSeconds(1);

    private Kept _accepting = new([], long.MinValue);

    private const int MaxUsersRemembered = 10_000;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Domain.Common.UserId, long> _lastServed = new();
    private long _served;
    private volatile bool _queueWaiting;

    /// <summary>
    /// The claimed requests in the order to serve them: each user's oldest first (turns), and within a turn the user
    /// served longest ago (or never) first — round robin over users, so one user's many messages delay another's by
    /// at most one slot turn, however much older they are.
    /// </summary>
    public List<ClaimedRequest> InTurns(IReadOnlyList<ClaimedRequest> claimed)
    {
        var turns = new Dictionary<Domain.Common.UserId, int>();
        return claimed
            .OrderBy(c => c.Request.CreatedAt)
            .Select(c => (Claimed: c, Turn: turns[c.Request.UserId] = turns.GetValueOrDefault(c.Request.UserId) + 1))
            .OrderBy(c => c.Turn)
            .ThenBy(c => _lastServed.GetValueOrDefault(c.Claimed.Request.UserId))
            .Select(c => c.Claimed)
            .ToList();
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, double> _answerSeconds = new();

    /// <summary>
    /// How long answers take on <paramref name="host"/>, from dispatch to the stored answer: the measure waiting times
    /// are estimated from (recent answers weigh most: each new one a fifth).
    /// </summary>
    public void RecordAnswerTime(Guid host, TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            return;
        }

        _answerSeconds.AddOrUpdate(host, duration.TotalSeconds, (_, before) => (0.8 * before) + (0.2 * duration.TotalSeconds));
    }

    /// <summary>
    /// About how long the request at <paramref name="position"/> (1 = next) in the queue of <paramref name="model"/>
    /// waits before a host starts it: the hosts serving the model finish, together, one answer every so often (each its
    /// slots per answer time); the request starts once <paramref name="position"/> answers have finished. Null when no
    /// host serving the model has answered yet (nothing to estimate from).
    /// </summary>
    public TimeSpan? EstimateWait(IEnumerable<WorkerHealth> servers, int position)
    {
        var perSecond = 0.0;
        foreach (var host in servers)
        {
            if (_answerSeconds.TryGetValue(host.WorkerId, out var seconds))
            {
                perSecond += (host.Slots ?? 1) / seconds;
            }
        }

        return perSecond > 0 ? TimeSpan.FromSeconds(position / perSecond) : null;
    }

    /// <summary>Notes that a request of <paramref name="user"/> was sent to a host, for <see cref="InTurns"/>.</summary>
    public void Served(Domain.Common.UserId user)
    {
        if (_lastServed.Count >= MaxUsersRemembered)
        {
            // The users served longest ago are forgotten: they count as never served, which is where they stood anyway.
            foreach (var (id, _) in _lastServed.OrderBy(p => p.Value).Take(MaxUsersRemembered / 2).ToList())
            {
                _lastServed.TryRemove(id, out _);
            }
        }

        _lastServed[user] = Interlocked.Increment(ref _served);
    }

    /// <summary>
    /// Whether the last dispatch left requests waiting for a free slot: a request that ends on a host then wakes the
    /// dispatcher (<see cref="IRelayQueueSignal"/>) rather than leave the slot idle until its next poll.
    /// </summary>
    public bool QueueWaiting
    {
        get => _queueWaiting;
        set => _queueWaiting = value;
    }

    /// <summary>
    /// Whether a host that takes work was known less than <paramref name="window"/> ago: one missing now may only be
    /// late (its heartbeat slowed on the way, or this process slow to record it), so the queue waits for it instead of
    /// telling users no host is online.
    /// </summary>
    public bool KnewAHostWithin(TimeSpan window) => clock.UtcNow.UtcTicks - Volatile.Read(ref _lastKnownTicks) < window.Ticks;

    /// <summary>Notes that requests wait for a host to be heard from: the next heartbeat of one that takes work wakes the
    /// dispatcher.</summary>
    public void AwaitHosts() => _awaitingHosts = true;

    private long _lastKnownTicks;
    private volatile bool _awaitingHosts;

    private void Known() => Volatile.Write(ref _lastKnownTicks, clock.UtcNow.UtcTicks);

    /// <summary>
    /// Whether this process has been up long enough to have heard every live host's heartbeat
    /// (<paramref name="workerTimeout"/>): before that, a host missing from the presence store may just not have been
    /// heard yet, so it must not count as gone.
    /// </summary>
    public bool HeardFromAllHosts(TimeSpan workerTimeout) => clock.UtcNow - _since >= workerTimeout;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, (Guid Boot, DateTimeOffset Since)> _boots = new();

    /// <summary>
    /// Notes the run (<paramref name="bootId"/>) a host's heartbeat comes from; when it is a new run of a host heard
    /// before, requests sent to it before <see cref="RestartedAt"/> were lost with the run that had them.
    /// </summary>
    public void NoteBoot(Guid workerId, Guid? bootId)
    {
        if (bootId is not { } boot)
        {
            return;
        }

        var now = clock.UtcNow;
        _boots.AddOrUpdate(workerId, (boot, DateTimeOffset.MinValue),
            (_, before) => before.Boot == boot ? before : (boot, now));
    }

    /// <summary>When this process saw <paramref name="workerId"/> come back as a new run; null when it has not.</summary>
    public DateTimeOffset? RestartedAt(Guid workerId) =>
        _boots.TryGetValue(workerId, out var seen) && seen.Since > DateTimeOffset.MinValue ? seen.Since : null;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, (bool Took, DateTimeOffset SeenAt, Guid? Boot)> _tookWork = new();

    /// <summary>
    /// Notes what a host's heartbeat says; true when the host takes work now and did not at its last heartbeat heard
    /// here — it came online (or back, as a new run or after it was gone longer than <paramref name="workerTimeout"/>),
    /// its engine is back from a restart, it stopped draining — or was paused after giving a request back: requests
    /// waiting in the queue may go to it now, so the dispatcher should look at once rather than at its next poll.
    /// </summary>
    public bool NoteHeartbeat(WorkerHealth health, Guid? bootId, TimeSpan workerTimeout)
    {
        ArgumentNullException.ThrowIfNull(health);
        var takesWork = health.TakesWork;
        var before = _tookWork.TryGetValue(health.WorkerId, out var last) && last.Took && last.Boot == bootId
                     && health.SeenAt - last.SeenAt <= workerTimeout;
        _tookWork[health.WorkerId] = (takesWork, health.SeenAt, bootId);
        if (takesWork)
        {
            Known();
        }
        else
        {
            // It said it takes no more work (stopping, draining): not late, so nothing waits for it.
            Volatile.Write(ref _lastKnownTicks, 0);
        }

        if (!takesWork || (before && !_gaveUp.ContainsKey(health.WorkerId) && !_awaitingHosts))
        {
            return false;
        }

        _awaitingHosts = false;

        // The hosts kept for reuse may hold its health from before: read again.
        Volatile.Write(ref _accepting, new Kept([], long.MinValue));
        return true;
    }

    /// <summary>Whether some live host accepts requests.</summary>
    public async ValueTask<bool> AnyAcceptsAsync(CancellationToken cancellationToken) =>
        (await AcceptingAsync(cancellationToken)).Count > 0;

    /// <summary>
    /// The hosts that accept requests now, with what each has in flight. When there are counts to keep (a host with a
    /// slot limit, or a choice between hosts), the placement holds them for this process until it is disposed — after
    /// the batch's dispatch is stored — so dispatches side by side never count the same free slot twice.
    /// </summary>
    public async ValueTask<Placement> PlaceAsync(IRelayRequestRepository requests, CancellationToken cancellationToken)
    {
        var hosts = await AcceptingAsync(cancellationToken);
        if (hosts.Count <= 1 && hosts.All(h => h.Slots is null) && _gaveUp.IsEmpty)
        {
            return new Placement(hosts, [], null, GaveUpSince);
        }

        await _placing.WaitAsync(cancellationToken);
        try
        {
            return new Placement(hosts, await requests.CountInFlightByHostAsync(cancellationToken), _placing, GaveUpSince);
        }
        catch
        {
            _placing.Release();
            throw;
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, DateTimeOffset> _gaveUp = new();

    /// <summary>
    /// Notes that <paramref name="host"/> gave a request back (it is stopping, went quiet or restarted): it is sent
    /// nothing more until a heartbeat received after this says it accepts again — the last one may still say it does.
    /// It still counts as online meanwhile, so requests for its model wait for it (or another host) in the queue.
    /// </summary>
    public void GaveUp(Guid host)
    {
        _gaveUp[host] = clock.UtcNow;
        Volatile.Write(ref _accepting, new Kept([], long.MinValue));
    }

    /// <summary>
    /// Whether a live host other than <paramref name="failedHost"/> accepts requests and serves <paramref name="model"/>
    /// (null: any host, with its own default model): one that can take a request the failed host did not answer.
    /// </summary>
    public async ValueTask<bool> AnotherServesAsync(Guid failedHost, string? model, CancellationToken cancellationToken) =>
        (await AcceptingAsync(cancellationToken)).Any(h => h.WorkerId != failedHost && h.Serves(model));

    /// <summary>
    /// Whether this process can tell if <paramref name="host"/> is alive: with an in-process relay it knows only the
    /// hosts it reaches, and others' requests are another dispatcher's to judge.
    /// </summary>
    public bool Judges(Guid host) => reach is null || reach.Reaches(host);

    private async ValueTask<IReadOnlyList<WorkerHealth>> AcceptingAsync(CancellationToken cancellationToken)
    {
        var now = clock.UtcNow.UtcTicks;
        var kept = Volatile.Read(ref _accepting);
        if (now < kept.Until)
        {
            return kept.Hosts;
        }

        var hosts = (await presence.ListAliveAsync(cancellationToken))
            .Where(w => w.Accepts && Judges(w.WorkerId)).ToList();
        if (hosts.Count > 0)
        {
            Known();
        }

        Volatile.Write(ref _accepting, new Kept(hosts, hosts.Count > 0 ? now + Reuse.Ticks : long.MinValue));
        return hosts;
    }

    private bool GaveUpSince(WorkerHealth host)
    {
        if (!_gaveUp.TryGetValue(host.WorkerId, out var at))
        {
            return false;
        }

        if (host.SeenAt > at)
        {
            _gaveUp.TryRemove(KeyValuePair.Create(host.WorkerId, at));
            return false;
        }

        return true;
    }

    private sealed record Kept(IReadOnlyList<WorkerHealth> Hosts, long Until);

    /// <summary>
    /// One batch's choices: each request goes to a host that serves its model and has a free slot, the least loaded
    /// (fewest in flight for its slots) among several. A host that does not say how many slots it has takes any number.
    /// </summary>
    public sealed class Placement(IReadOnlyList<WorkerHealth> hosts, IReadOnlyList<InFlightCount> inFlight,
        SemaphoreSlim? held, Func<WorkerHealth, bool> paused) : IAsyncDisposable
    {
        private SemaphoreSlim? _held = held;

        /// <summary>Lets the next dispatch count; once, however often it is called.</summary>
        public ValueTask DisposeAsync()
        {
            Interlocked.Exchange(ref _held, null)?.Release();
            return ValueTask.CompletedTask;
        }

        private readonly Dictionary<Guid, int> _inFlight = hosts.ToDictionary(h => h.WorkerId,
            h => inFlight.Where(c => c.WorkerId == h.WorkerId).Sum(c => c.Requests));

        /// <summary>In flight per host and model (the host's default by its name), for hosts with slots per model.</summary>
        private readonly Dictionary<(Guid Host, string Model), int> _modelInFlight = ModelCounts(hosts, inFlight);

        private static Dictionary<(Guid, string), int> ModelCounts(IReadOnlyList<WorkerHealth> hosts, IReadOnlyList<InFlightCount> inFlight)
        {
            var counts = new Dictionary<(Guid, string), int>();
            foreach (var host in hosts.Where(h => h.ModelDetails is not null))
            {
                foreach (var count in inFlight.Where(c => c.WorkerId == host.WorkerId))
                {
                    if (host.ModelFor(count.RoutedModel) is { } model)
                    {
                        counts[(host.WorkerId, model)] = counts.GetValueOrDefault((host.WorkerId, model)) + count.Requests;
                    }
                }
            }

            return counts;
        }

        public IReadOnlyList<WorkerHealth> Hosts => hosts;

        /// <summary>Free slots over all hosts; <see cref="int.MaxValue"/> when a host has no limit.</summary>
        public int FreeSlots
        {
            get
            {
                long free = 0;
                foreach (var host in hosts.Where(h => h.TakesWork))
                {
                    if (host.Slots is not { } slots)
                    {
                        return int.MaxValue;
                    }

                    free += Math.Max(0, slots - _inFlight[host.WorkerId]);
                }

                return (int)Math.Min(free, int.MaxValue);
            }
        }

        /// <summary>
        /// The model a request is routed by: null (any host, with its own default model) when it names none, or names the
        /// configured default (<paramref name="defaultModel"/>) and no host lists a model of that name.
        /// </summary>
        public string? RouteBy(string? model, string defaultModel) =>
            model is null || (model == defaultModel && !hosts.Any(h => h.Models?.Contains(model, StringComparer.Ordinal) == true))
                ? null
                : model;

        /// <summary>Whether some accepting host serves <paramref name="model"/> (busy or not).</summary>
        public bool AnyServes(string? model) => hosts.Any(h => h.Serves(model));

        /// <summary>The models the accepting hosts serve, by name.</summary>
        public IReadOnlyList<string> Models =>
            hosts.SelectMany(h => h.Models ?? []).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

        /// <summary>The host for a request of <paramref name="model"/>, counted as one more in flight; null when all are full.</summary>
        public WorkerHealth? Take(string? model)
        {
            WorkerHealth? best = null;
            var bestLoad = double.MaxValue;
            foreach (var host in hosts)
            {
                if (!host.Serves(model) || !host.TakesWork || paused(host))
                {
                    continue;
                }

                var running = _inFlight[host.WorkerId];
                if (host.Slots is { } slots && running >= slots)
                {
                    continue;
                }

                // A model run apart (its own llama-server) takes no more than its own slots, whatever the others have free.
                if (host.SlotsFor(model) is { } modelSlots
                    && _modelInFlight.GetValueOrDefault((host.WorkerId, host.ModelFor(model)!)) >= modelSlots)
                {
                    continue;
                }

                var load = host.Slots is { } s ? (double)running / s : running;
                if (load < bestLoad)
                {
                    (best, bestLoad) = (host, load);
                }
            }

            if (best is not null)
            {
                _inFlight[best.WorkerId]++;
                if (best.ModelFor(model) is { } name)
                {
                    _modelInFlight[(best.WorkerId, name)] = _modelInFlight.GetValueOrDefault((best.WorkerId, name)) + 1;
                }
            }

            return best;
        }
    }
}
