using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay.Hosts;

namespace MeatLizard.Application.Relay;

/// <summary>
/// The model hosts a dispatcher may send to, read once per batch: the live hosts that accept work (draining ones get
/// none) and what each has in flight. The hosts list is kept a moment (<see cref="KeptHosts"/>, which alone decides
/// when it is too stale to place by); the counts in flight are read fresh, from the database, whenever a host has a
/// slot limit or there is a choice to make.
/// </summary>
/// <remarks>
/// A dispatcher whose transport reaches only some hosts (<see cref="IRelayReach"/>: the in-process relay reaches the
/// worker beside it, the direct relay the hosts connected to this API instance, not those other instances' reach in the
/// shared presence store) places requests on those alone, and leaves the queue to the others while they alone reach
/// the hosts that take work (<see cref="OnlyElsewhereAsync"/>).
/// </remarks>
public sealed class ModelHosts(IHostPresence presence, IClock clock, IRelayReach? reach = null, HostsHeard? heard = null,
    HostRuns? runs = null)
{
    private readonly HostsHeard _heard = heard ?? new HostsHeard(clock);

    private readonly KeptHosts _kept = new(presence, clock, reach);

    private readonly SemaphoreSlim _placing = new(1, 1);
    private readonly DateTimeOffset _since = clock.UtcNow;

    /// <inheritdoc cref="KeptHosts.Reuse"/>
    public static readonly TimeSpan Reuse = KeptHosts.Reuse;

    /// <inheritdoc cref="HostsHeard.KnewAHostWithin"/>
    public bool KnewAHostWithin(TimeSpan window) => _heard.KnewAHostWithin(window);

    /// <inheritdoc cref="HostsHeard.SinceAHostWasKnown"/>
    public TimeSpan? SinceAHostWasKnown => _heard.SinceAHostWasKnown;

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
        var before = _heard.Note(health, bootId, workerTimeout);
        var news = health.TakesWork && (!before || _gaveUp.ContainsKey(health.WorkerId) || _awaitingHosts);
        // The kept hosts may hold its health from before, or what it could do then: requests are placed by what it says now.
        _kept.Heard(health, news);
        if (!news)
        {
            return false;
        }

        _awaitingHosts = false;
        return true;
    }

    /// <summary>
    /// The hosts that accept requests now, with what each has in flight. When there are counts to keep (a host with a
    /// slot limit, or a choice between hosts), the placement holds them for this process until it is disposed — after
    /// the batch's dispatch is stored — so dispatches side by side never count the same free slot twice.
    /// </summary>
    public async ValueTask<HostPlacement> PlaceAsync(IRelayRequestRepository requests, CancellationToken cancellationToken)
    {
        var list = await ListAcceptingAsync(cancellationToken);
        if (NoCountsToKeep(list.Here))
        {
            return Placement(list, [], null);
        }

        await _placing.WaitAsync(cancellationToken);
        try
        {
            return Placement(list, await requests.CountInFlightByHostAsync(cancellationToken), _placing);
        }
        catch
        {
            _placing.Release();
            throw;
        }
    }

    /// <summary>
    /// A placement on the one host that takes work when this process reaches it itself (<see cref="IRelayReach"/>: the
    /// in-process or direct relay, whose send is a write to its connection) and it takes any number of requests, so
    /// placing keeps no counts and decides nothing the queue would; null otherwise.
    /// </summary>
    public async ValueTask<HostPlacement?> TheOneHostTakingAnyNumberAsync(CancellationToken cancellationToken) =>
        reach is not null && await ListAcceptingAsync(cancellationToken) is { Here.Count: 1 } list && NoCountsToKeep(list.Here)
            ? Placement(list, [], null)
            : null;

    private bool NoCountsToKeep(IReadOnlyList<HostHealth> hosts) =>
        hosts.Count <= 1 && hosts.All(h => h.Slots is null) && _gaveUp.IsEmpty;

    private HostPlacement Placement(HostsList list, IReadOnlyList<InFlightCount> inFlight, SemaphoreSlim? held) =>
        new(list.Here, inFlight, held, GaveUpSince)
        {
            Elsewhere = list.Elsewhere,
            MayMissHostsElsewhere = list.MayMissHostsElsewhere,
            RunOf = RunOf,
        };

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, DateTimeOffset> _gaveUp = new();

    /// <summary>
    /// Notes that <paramref name="host"/> gave a request back (it is stopping, went quiet or restarted): it is sent
    /// nothing more until a heartbeat received after this says it accepts again — the last one may still say it does.
    /// It still counts as online meanwhile, so requests for its model wait for it (or another host) in the queue.
    /// </summary>
    public void GaveUp(Guid host)
    {
        _gaveUp[host] = clock.UtcNow;
        _kept.SetAside();
    }

    /// <summary>
    /// Whether a live host other than <paramref name="failedHost"/> accepts requests and serves <paramref name="model"/>
    /// (null: any host, with its own default model): one that can take a request the failed host did not answer.
    /// </summary>
    public async ValueTask<bool> AnotherServesAsync(Guid failedHost, string? model, CancellationToken cancellationToken) =>
        (await AcceptingAsync(cancellationToken)).Any(h => h.WorkerId != failedHost && h.Serves(model));

    /// <summary>The run of <paramref name="host"/> this process heard last (<see cref="HostRuns.Current"/>); null when none was.</summary>
    private Guid? RunOf(Guid host) => runs?.Current(host);

    /// <summary>
    /// Whether what is sent to a host reaches only the run of it that was there: the direct and in-process relays send
    /// over the host's connection, and a later run never reads what went to an earlier one (but for the direct link
    /// sending again, on the host's next connection to the same instance, what the earlier run had not received: the
    /// later attempt then supersedes it at the host). Over Discord (no <see cref="IRelayReach"/>), a new run reads its
    /// channels' history, and takes up what its last run had not.
    /// </summary>
    public bool SendsToOneRunOnly => reach is not null;

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
        reach is not null && await ListAcceptingAsync(cancellationToken) is { Here.Count: 0, Elsewhere.Count: > 0 };

    private async ValueTask<IReadOnlyList<HostHealth>> AcceptingAsync(CancellationToken cancellationToken) =>
        (await ListAcceptingAsync(cancellationToken)).Here;

    /// <summary>The hosts that accept requests, as kept or read now; one read now says whether any is known.</summary>
    private async ValueTask<HostsList> ListAcceptingAsync(CancellationToken cancellationToken)
    {
        var (hosts, fresh) = await _kept.ReadAsync(cancellationToken);
        if (fresh && (hosts.Here.Count > 0 || hosts.Elsewhere.Count > 0))
        {
            _heard.Known();
        }

        return hosts;
    }

    /// <summary>
    /// Sets the kept hosts aside: the next placement reads the presence store again (a question was left to the hosts
    /// of another process, perhaps only for want of a fresh look: <see cref="HostPlacement.MayMissHostsElsewhere"/>).
    /// </summary>
    public void ReadAgain() => _kept.SetAside();

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
}
