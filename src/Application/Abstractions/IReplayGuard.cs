namespace MeatLizard.Application.Abstractions;

/// <summary>Remembers what was seen for a while, so a replayed envelope is refused.</summary>
public interface IReplayGuard
{
    /// <summary>True the first time a key is seen within <paramref name="ttl"/>, false after.</summary>
    ValueTask<bool> TryRegisterAsync(string key, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>
    /// Registers <paramref name="key"/> as <see cref="TryRegisterAsync"/> does, and says who saw it first: this
    /// process (now, or before: a replay) or another relay process sharing the memory (a server bot beside this one took
    /// the envelope first, or this bot's run before a restart). A guard that is this process's alone never says the
    /// latter.
    /// </summary>
    async ValueTask<ReplaySighting> SightAsync(string key, TimeSpan ttl, CancellationToken cancellationToken) =>
        await TryRegisterAsync(key, ttl, cancellationToken) ? ReplaySighting.First : ReplaySighting.SeenHere;

    /// <summary>True when the key was registered and has not expired; registers nothing.</summary>
    ValueTask<bool> WasSeenAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Who registered <paramref name="key"/>, registering nothing: <see cref="ReplaySighting.First"/> when nobody has
    /// (or it expired), else this process or another sharing the memory, as <see cref="SightAsync"/> says.
    /// </summary>
    async ValueTask<ReplaySighting> SeenByAsync(string key, CancellationToken cancellationToken) =>
        await WasSeenAsync(key, cancellationToken) ? ReplaySighting.SeenHere : ReplaySighting.First;
}

/// <summary>Who saw a key first (<see cref="IReplayGuard.SightAsync"/>).</summary>
public enum ReplaySighting
{
    /// <summary>Nobody before: this process takes it.</summary>
    First,

    /// <summary>This process, before: a replay.</summary>
    SeenHere,

    /// <summary>Another process sharing the memory took it first: it is that one's to handle.</summary>
    SeenElsewhere,
}
