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
    /// <summary>The name this run's claims carry.</summary>
    public string Name { get; } = DutyHolders.ThisRun();

    /// <summary>
    /// Whether <paramref name="claimer"/> is another run known to be dead: a process of this machine that no longer runs,
    /// or a run of this process that ended (<see cref="DutyHolders.DiedOnThisMachine"/>). Another machine's run is not
    /// known to be either: its claims are waited out.
    /// </summary>
    public bool IsKnownDead(string claimer) => claimer != Name && DutyHolders.DiedOnThisMachine(claimer);

    /// <summary>
    /// The run ends with its host (the container disposes this): a claim it still holds — a dispatch cancelled by the
    /// stop — is given back at once by a later run in this process (tests start hosts again in one process).
    /// </summary>
    public void Dispose() => DutyHolders.Ended(Name);
}
