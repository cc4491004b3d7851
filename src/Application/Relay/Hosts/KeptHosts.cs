using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay.Hosts;

/// <summary>
/// The hosts list a dispatcher keeps between reads of the shared presence store — a round trip (two in Redis), and
/// presence is as stale as a heartbeat anyway — and, alone, when it is too stale to place by. Each way a kept list went
/// wrong is one rule here:
/// <list type="bullet">
/// <item>it is kept for <see cref="Reuse"/>, and never an empty one: a host that comes online is used at once;</item>
/// <item>a heartbeat heard here that says a kept host can do something else (its models, their template, images or
/// embeddings, tools, its slots) sets it aside (<see cref="Heard"/>) — kept as it was, a host that had just begun to
/// take images was refused them while the API already took the question, and a host whose first heartbeat said nothing
/// of its slots was sent every request of that second;</item>
/// <item>so does a heartbeat that is news to the dispatcher (a host that takes work now and did not), and a host that
/// gave a request back (<see cref="SetAside"/>);</item>
/// <item>a list kept while other processes reach hosts this one never hears from (the direct relay's other API
/// instances) may miss one that came online there (<see cref="HostsList.MayMissHostsElsewhere"/>): what it says no host
/// serves is looked at again, with the list read afresh (<see cref="SetAside"/>), before it is told so.</item>
/// </list>
/// </summary>
public sealed class KeptHosts(IHostPresence presence, IClock clock, IRelayReach? reach)
{
    /// <summary>How long a hosts list read from the presence store is placed by, unless set aside sooner.</summary>
    public static readonly TimeSpan Reuse = TimeSpan.FromSeconds(1);

    private Kept _kept = new([], [], long.MinValue, 0);

    /// <summary>Counts the times the kept list was set aside; a list read before the last of them is not kept.</summary>
    private long _setAside;

    /// <summary>The live hosts that accept requests, here and elsewhere: as kept, or read from the presence store.</summary>
    public async ValueTask<(HostsList Hosts, bool Fresh)> ReadAsync(CancellationToken cancellationToken)
    {
        var now = clock.UtcNow.UtcTicks;
        var kept = Volatile.Read(ref _kept);
        var setAside = Interlocked.Read(ref _setAside);
        if (now < kept.Until && kept.SetAside == setAside)
        {
            return (new HostsList(kept.Here, kept.Elsewhere, MayMissHostsElsewhere: reach is not null), false);
        }

        var listed = await presence.ListAliveAsync(cancellationToken);
        var accepting = listed.Where(w => w.Accepts).ToList();
        var here = accepting.Where(w => reach is null || reach.Reaches(w.WorkerId)).ToList();
        var elsewhere = accepting.Where(w => reach is not null && !reach.Reaches(w.WorkerId)).ToList();

        // Kept only as of the count read before the store was: a heartbeat that set the kept list aside meanwhile (a
        // host that takes work now) is not covered by a list read before it (CI: a host that had begun to take work was
        // refused its model for up to Reuse, 'not served by any model host online now', while the API listed it).
        Volatile.Write(ref _kept, new Kept(here, elsewhere, here.Count > 0 ? now + Reuse.Ticks : long.MinValue, setAside));
        return (new HostsList(here, elsewhere, MayMissHostsElsewhere: false), true);
    }

    /// <summary>Notes a heartbeat heard here: the kept list is set aside when it is news, or says the host can do
    /// something else than the kept one does — its engine no longer ready included: kept, the host was given questions
    /// for up to <see cref="Reuse"/> after it said it took none (answered by the model in a test whose engine then
    /// still answered; in earnest, sent to a host that cannot answer them).</summary>
    public void Heard(HostHealth health, bool news)
    {
        if (news || (Volatile.Read(ref _kept).Here.FirstOrDefault(h => h.WorkerId == health.WorkerId) is { } kept
                     && !SameAbilities(kept, health)))
        {
            SetAside();
        }
    }

    /// <summary>Sets the kept list aside: the next look reads the presence store again.</summary>
    public void SetAside() => Interlocked.Increment(ref _setAside);

    private sealed record Kept(IReadOnlyList<HostHealth> Here, IReadOnlyList<HostHealth> Elsewhere, long Until, long SetAside);

    /// <summary>Whether two healths of a host say it can do the same: take work, tools, the same models, images and embeddings alike.</summary>
    private static bool SameAbilities(HostHealth a, HostHealth b) =>
        a.Accepts == b.Accepts && a.TakesWork == b.TakesWork
        && a.TakesTools == b.TakesTools && a.Slots == b.Slots
        && (a.Models ?? []).SequenceEqual(b.Models ?? [], StringComparer.Ordinal)
        && (a.ModelDetails ?? []).Select(m => (m.Name, m.Vision, m.Embeddings, m.Slots))
            .SequenceEqual((b.ModelDetails ?? []).Select(m => (m.Name, m.Vision, m.Embeddings, m.Slots)));
}

/// <summary>
/// The live hosts that accept requests: those this process's transport reaches (<see cref="Here"/>: all of them
/// without an <see cref="IRelayReach"/>) and those only another process's reaches (<see cref="Elsewhere"/>).
/// </summary>
/// <param name="MayMissHostsElsewhere">Kept from a moment ago while other processes reach hosts this one never hears
/// from: one may have come online there since.</param>
public sealed record HostsList(IReadOnlyList<HostHealth> Here, IReadOnlyList<HostHealth> Elsewhere, bool MayMissHostsElsewhere);
