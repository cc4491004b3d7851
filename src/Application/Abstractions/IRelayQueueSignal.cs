namespace MeatLizard.Application.Abstractions;

/// <summary>Wakes the dispatcher when a request is queued, so it need not wait for its next poll.</summary>
public interface IRelayQueueSignal
{
    void NotifyPending();

    /// <summary>Returns when notified or after <paramref name="timeout"/>, whichever comes first.</summary>
    Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken);
}
