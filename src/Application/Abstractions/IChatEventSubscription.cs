
namespace MeatLizard.Application.Abstractions;

public interface IChatEventSubscription : IAsyncDisposable
{
    IAsyncEnumerable<ChatEvent> ReadAllAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Cancelled when events of this subscription may have been lost on the way (a bus that was away: what was published
    /// meanwhile never comes), though later ones still do: a follower that shows the chat should read what is stored.
    /// Never, for a bus that loses nothing.
    /// </summary>
    CancellationToken EventsMissed => CancellationToken.None;
}
