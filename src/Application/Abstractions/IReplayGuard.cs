
namespace MeatLizard.Application.Abstractions;

/// <summary>Remembers what was seen for a while, so a replayed envelope is refused.</summary>
public interface IReplayGuard
{
    /// <summary>True the first time a key is seen within <paramref name="ttl"/>, false after.</summary>
    ValueTask<bool> TryRegisterAsync(string key, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>True when the key was registered and has not expired; registers nothing.</summary>
    ValueTask<bool> WasSeenAsync(string key, CancellationToken cancellationToken);
}
