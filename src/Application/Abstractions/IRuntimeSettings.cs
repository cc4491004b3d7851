
namespace MeatLizard.Application.Abstractions;

/// <summary>
/// The admin settings as the running process sees them: read often (every rate-limit check, every fallback), so kept
/// in a short cache that a write in this process clears at once (<see cref="Invalidate"/>); other processes see a
/// change when their cache expires.
/// </summary>
public interface IRuntimeSettings
{
    /// <summary>The stored value of <paramref name="key"/>, or null when the admins have not set it.</summary>
    ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken);

    void Invalidate();
}
