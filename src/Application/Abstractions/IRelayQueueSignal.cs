namespace MeatLizard.Application.Abstractions;

/// <summary>Wakes the dispatcher when a request is queued, so it need not wait for its next poll.</summary>
public interface IRelayQueueSignal
{
    void NotifyPending();

    /// <summary>
    /// Wakes the dispatchers of the other processes that share the queue, not this one's: this one claimed requests only
    /// hosts reached through them serve and gave them back, after those had looked and found them claimed. Bounded by
    /// the signal (a few wake-ups a second at most), so two processes that each believe the other serves a request do
    /// not wake each other in a storm; nothing where one process holds the queue. Returns at once: the wake-up is sent
    /// in the background.
    /// </summary>
    void NotifyOthers();

    /// <summary>Returns when notified or after <paramref name="timeout"/>, whichever comes first.</summary>
    Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken);
}
