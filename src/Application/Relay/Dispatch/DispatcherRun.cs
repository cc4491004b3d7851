using MeatLizard.Application.Common;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>
/// This process's dispatcher as the claimer of pending requests, named per run like the duties' holders ("machine:process
/// id:run", <see cref="DutyHolders"/>), so a claim says whose it is: a server bot killed holding claims, and started again
/// or not, leaves them to a live dispatcher as soon as that run is known to be dead, not when their leases run out
/// (<c>Relay:DispatchLease</c>, 30 s by default), which kept the queue standing still that long.
/// </summary>
public sealed class DispatcherRun : IDisposable
{
    /// <summary>The duties each run's liveness lease is named by: this, then the run's name (<see cref="LivenessDuty"/>).</summary>
    public const string LivenessPrefix = "dispatcher:";

    /// <summary>
    /// How long a run's liveness lease lasts without being renewed (<see cref="DispatcherLiveness"/> renews it every
    /// third of it): a run killed on another machine is known to be dead this long after its last renewal at most,
    /// instead of its claims' lease. Short beside that lease (30 s by default), and three missed renewals long, so a run
    /// only slow for a moment keeps its claims.
    /// </summary>
    public static readonly TimeSpan Liveness = TimeSpan.FromSeconds(6);

    /// <summary>The name this run's claims carry.</summary>
    public string Name { get; } = DutyHolders.ThisRun();

    /// <summary>The duty whose lease says this run lives, held by <see cref="Name"/>.</summary>
    public string LivenessDuty => LivenessPrefix + Name;

    /// <summary>
    /// Whether <paramref name="claimer"/> is another run known to be dead: a process of this machine that no longer runs,
    /// or a run of this process that ended (<see cref="DutyHolders.DiedOnThisMachine"/>), or a run whose liveness lease
    /// lapsed (<paramref name="lapsed"/>, <see cref="Liveness"/>). Another machine's run with no such lease on record (one
    /// of a version before it, or one whose lapsed lease was purged) is not known to be either: its claims are waited out.
    /// This run is never dead to itself, however late its own renewal.
    /// </summary>
    public bool IsKnownDead(string claimer, IReadOnlyCollection<string> lapsed) =>
        claimer != Name && (DutyHolders.DiedOnThisMachine(claimer) || lapsed.Contains(claimer));

    /// <summary>
    /// The run ends with its host (the container disposes this): a claim it still holds — a dispatch cancelled by the
    /// stop — is given back at once by a later run in this process (tests start hosts again in one process).
    /// </summary>
    public void Dispose() => DutyHolders.Ended(Name);
}
