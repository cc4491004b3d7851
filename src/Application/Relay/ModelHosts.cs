using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay.Hosts;

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
/// worker beside it, the direct relay the hosts connected to this API instance, not those other instances' reach in the
/// shared presence store) places requests on those alone, and leaves the queue to the others while they alone reach
/// the hosts that take work (<see cref="OnlyElsewhereAsync"/>).
/// </remarks>
public sealed class ModelHosts(IHostPresence presence, IClock clock, IRelayReach? reach = null, HostsHeard? heard = null)
{
    private readonly HostsHeard _heard = heard ?? new HostsHeard(clock);

    private readonly SemaphoreSlim _placing = new(1, 1);
    private readonly DateTimeOffset _since = clock.UtcNow;

    public static readonly TimeSpan Reuse = TimeSpan.FromSeconds(1);

    private Kept _accepting = new([], long.MinValue, 0);

    /// <summary>Counts the times the kept hosts were set aside; a list read before the last of them is not kept.</summary>
    private long _forgotten;

    private volatile bool _queueWaiting;

    /// <summary>
    /// Whether the last dispatch left requests waiting for a free slot: a request that ends on a host then wakes the
    /// dispatcher (<see cref="IRelayQueueSignal"/>) rather than leave the slot idle until its next poll.
    /// </summary>
    public bool QueueWaiting
    {
        get => _queueWaiting;
        set => _queueWaiting = value;
    }

    /// <inheritdoc cref="HostsHeard.KnewAHostWithin"/>
    public bool KnewAHostWithin(TimeSpan window) => _heard.KnewAHostWithin(window);

    /// <inheritdoc cref="HostsHeard.AHostIsLate"/>
    public bool AHostIsLate(TimeSpan heartbeatInterval, TimeSpan workerTimeout) =>
        _heard.AHostIsLate(heartbeatInterval, workerTimeout);

    /// <summary>Notes that requests wait for a host to be heard from: the next heartbeat of one that takes work wakes the
    /// dispatcher.</summary>
    public void AwaitHosts() => _awaitingHosts = true;

    private volatile bool _awaitingHosts;

    /// <summary>
    /// Whether this process has been up long enough to have heard every live host's heartbeat
    /// (<paramref name="workerTimeout"/>): before that, a host missing from the presence store may just not have been
    /// heard yet, so it must not count as gone.
    /// </summary>
    public bool HeardFromAllHosts(TimeSpan workerTimeout) => clock.UtcNow - _since >= workerTimeout;

    /// <summary>
    /// Notes what a host's heartbeat says; true when the host takes work now and did not at its last heartbeat heard
    /// here — it came online (or back, as a new run or after it was gone longer than <paramref name="workerTimeout"/>),
    /// its engine is back from a restart, it stopped draining — or was paused after giving a request back: requests
    /// waiting in the queue may go to it now, so the dispatcher should look at once rather than at its next poll.
    /// </summary>
    public bool NoteHeartbeat(HostHealth health, Guid? bootId, TimeSpan workerTimeout)
    {
        ArgumentNullException.ThrowIfNull(health);
        if (Volatile.Read(ref _accepting).Hosts.FirstOrDefault(h => h.WorkerId == health.WorkerId) is { } kept
            && !SameAbilities(kept, health))
        {
            // What it can do changed (its model's template, its models, images or embeddings, its slots): requests are
            // placed by what it says now. (Kept as it was, a host that had just begun to take images was refused them for
            // up to Reuse while the API, reading the presence store, had already taken the question; and a host whose
            // first heartbeat said nothing of its slots was sent every request of that second, one slot or not.)
            ForgetKept();
        }

        var takesWork = health.TakesWork;
        var before = _heard.Note(health, bootId, workerTimeout);
        if (!takesWork || (before && !_gaveUp.ContainsKey(health.WorkerId) && !_awaitingHosts))
        {
            return false;
        }

        _awaitingHosts = false;

        // The hosts kept for reuse may hold its health from before: read again.
        ForgetKept();
        return true;
    }

    /// <summary>
    /// The hosts that accept requests now, with what each has in flight. When there are counts to keep (a host with a
    /// slot limit, or a choice between hosts), the placement holds them for this process until it is disposed — after
    /// the batch's dispatch is stored — so dispatches side by side never count the same free slot twice.
    /// </summary>
    public async ValueTask<HostPlacement> PlaceAsync(IRelayRequestRepository requests, CancellationToken cancellationToken)
    {
        var (hosts, fresh) = await ListAcceptingAsync(cancellationToken);
        // Kept hosts may miss one that came online where this process hears nothing of it (another API instance's).
        var mayMiss = !fresh && reach is not null;
        if (hosts.Count <= 1 && hosts.All(h => h.Slots is null) && _gaveUp.IsEmpty)
        {
            return new HostPlacement(hosts, [], null, GaveUpSince) { Elsewhere = _elsewhere, MayMissHostsElsewhere = mayMiss };
        }

        await _placing.WaitAsync(cancellationToken);
        try
        {
            return new HostPlacement(hosts, await requests.CountInFlightByHostAsync(cancellationToken), _placing, GaveUpSince)
            {
                Elsewhere = _elsewhere,
                MayMissHostsElsewhere = mayMiss,
            };
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
        ForgetKept();
    }

    /// <summary>
    /// Whether a live host other than <paramref name="failedHost"/> accepts requests and serves <paramref name="model"/>
    /// (null: any host, with its own default model): one that can take a request the failed host did not answer.
    /// </summary>
    public async ValueTask<bool> AnotherServesAsync(Guid failedHost, string? model, CancellationToken cancellationToken) =>
        (await AcceptingAsync(cancellationToken)).Any(h => h.WorkerId != failedHost && h.Serves(model));

    /// <summary>
    /// Whether this process can tell if <paramref name="host"/> is alive (<see cref="IRelayReach.Judges"/>): with an
    /// in-process relay it knows only the hosts it reaches, and others' requests are another dispatcher's to judge.
    /// </summary>
    public bool Judges(Guid host) => reach is null || reach.Judges(host);

    /// <summary>
    /// Whether every live host that takes work is reached through another process's transport, none through this one's:
    /// that process's dispatcher sends them their requests, and this one claims none — it could only tell them that no
    /// host is online (and a claim given back wakes no other dispatcher). The hosts count as known meanwhile: one that
    /// drops out of the list may be dialling this process now (its own having died), so questions wait for it a moment.
    /// </summary>
    public async ValueTask<bool> OnlyElsewhereAsync(CancellationToken cancellationToken) =>
        reach is not null && (await AcceptingAsync(cancellationToken)).Count == 0 && _elsewhere.Count > 0;

    /// <summary>The live hosts that accept requests through another process's transport, as last read.</summary>
    private volatile IReadOnlyList<HostHealth> _elsewhere = [];

    private async ValueTask<IReadOnlyList<HostHealth>> AcceptingAsync(CancellationToken cancellationToken) =>
        (await ListAcceptingAsync(cancellationToken)).Hosts;

    /// <summary>The hosts that accept requests through this process, and whether they were read now (false: as kept).</summary>
    private async ValueTask<(IReadOnlyList<HostHealth> Hosts, bool Fresh)> ListAcceptingAsync(CancellationToken cancellationToken)
    {
        var now = clock.UtcNow.UtcTicks;
        var kept = Volatile.Read(ref _accepting);
        var forgotten = Interlocked.Read(ref _forgotten);
        if (now < kept.Until && kept.Forgotten == forgotten)
        {
            return (kept.Hosts, false);
        }

        var listed = await presence.ListAliveAsync(cancellationToken);
        var hosts = listed.Where(w => w.Accepts && (reach is null || reach.Reaches(w.WorkerId))).ToList();
        _elsewhere = listed.Where(w => w.Accepts && reach is not null && !reach.Reaches(w.WorkerId)).ToList();
        if (hosts.Count > 0 || _elsewhere.Count > 0)
        {
            _heard.Known();
        }

        // Kept only as of the count read before the store was: a heartbeat that set the kept hosts aside meanwhile (a
        // host that takes work now) is not covered by a list read before it (CI: a host that had begun to take work was
        // refused its model for up to Reuse, 'not served by any model host online now', while the API listed it).
        Volatile.Write(ref _accepting, new Kept(hosts, hosts.Count > 0 ? now + Reuse.Ticks : long.MinValue, forgotten));
        return (hosts, true);
    }

    /// <summary>
    /// Sets the kept hosts aside: the next placement reads the presence store again (a question was left to the hosts
    /// of another process, perhaps only for want of a fresh look: <see cref="HostPlacement.MayMissHostsElsewhere"/>).
    /// </summary>
    public void ReadAgain() => ForgetKept();

    private void ForgetKept() => Interlocked.Increment(ref _forgotten);

    private bool GaveUpSince(HostHealth host)
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

    private sealed record Kept(IReadOnlyList<HostHealth> Hosts, long Until, long Forgotten);

    /// <summary>Whether two healths of a host say it can do the same: tools, the same models, images and embeddings alike.</summary>
    private static bool SameAbilities(HostHealth a, HostHealth b) =>
        a.TakesTools == b.TakesTools && a.Slots == b.Slots
        && (a.Models ?? []).SequenceEqual(b.Models ?? [], StringComparer.Ordinal)
        && (a.ModelDetails ?? []).Select(m => (m.Name, m.Vision, m.Embeddings, m.Slots))
            .SequenceEqual((b.ModelDetails ?? []).Select(m => (m.Name, m.Vision, m.Embeddings, m.Slots)));
}
