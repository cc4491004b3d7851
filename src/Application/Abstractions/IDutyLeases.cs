namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Duties one process at a time does, however many processes run (two server bots: polling Telegram, posting the
/// metrics, answering a slash command): a process does a duty while it holds the duty's lease, renews it while it
/// works, and another takes the duty over once the lease has lapsed — its holder died, or let it go.
/// </summary>
public interface IDutyLeases
{
    /// <summary>
    /// Takes <paramref name="duty"/> for <paramref name="holder"/> until <paramref name="until"/> when nobody holds it or
    /// its lease lapsed by <paramref name="now"/>, or renews it when <paramref name="holder"/> holds it already. False
    /// when another holder's lease still runs.
    /// </summary>
    Task<bool> TryHoldAsync(string duty, string holder, DateTimeOffset now, DateTimeOffset until,
        CancellationToken cancellationToken);

    /// <summary>Who holds <paramref name="duty"/>'s lease, lapsed or not; null when nobody does.</summary>
    Task<string?> HolderOfAsync(string duty, CancellationToken cancellationToken);

    /// <summary>
    /// Gives <paramref name="duty"/> to <paramref name="holder"/> until <paramref name="until"/> if <paramref name="from"/>
    /// still holds it (it is known to be dead); false when another took it meanwhile.
    /// </summary>
    Task<bool> TakeOverAsync(string duty, string from, string holder, DateTimeOffset until,
        CancellationToken cancellationToken);

    /// <summary>Lets <paramref name="duty"/> go, when <paramref name="holder"/> holds it: another may take it at once.</summary>
    Task ReleaseAsync(string duty, string holder, CancellationToken cancellationToken);

    /// <summary>The holders of the duties named <paramref name="prefix"/>… whose leases still run at <paramref name="now"/>.</summary>
    Task<IReadOnlyList<string>> ListHoldersAsync(string prefix, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// The holders of the duties named <paramref name="prefix"/>… whose leases lapsed by <paramref name="now"/> and are
    /// still on record: a holder that renews its lease while it lives and has not is dead, or too stalled to act.
    /// </summary>
    Task<IReadOnlyList<string>> ListLapsedHoldersAsync(string prefix, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Forgets the leases that lapsed before <paramref name="before"/> (one-off duties leave one each).</summary>
    Task<int> PurgeLapsedAsync(DateTimeOffset before, CancellationToken cancellationToken);
}
