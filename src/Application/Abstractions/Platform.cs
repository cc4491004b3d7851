namespace MeatLizard.Application.Abstractions;

/// <summary>Which adapters this process runs with, for /api/v1/status and the start-up log.</summary>
public sealed record PlatformDescription(
    string Storage, string Cache, string ObjectStore, string Transport, string Engine, bool LocalWorker);

/// <summary>Wakes the dispatcher when a request is queued, so it need not wait for its next poll.</summary>
public interface IRelayQueueSignal
{
    void NotifyPending();

    /// <summary>Returns when notified or after <paramref name="timeout"/>, whichever comes first.</summary>
    Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken);
}
