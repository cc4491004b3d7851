using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Relay;

/// <summary>
/// Wakes the dispatcher when a request is queued. Notifies coalesce: however many arrive before the waiter wakes,
/// it wakes once (and then finds all the work), and one waiter wakes per wake-up.
/// </summary>
public sealed class InProcessRelayQueueSignal : IRelayQueueSignal, IDisposable
{
    private readonly SemaphoreSlim _wake = new(0, 1);
    private int _pending;

    public void NotifyPending()
    {
        // Only the 0 → 1 transition releases, so the semaphore never exceeds its maximum of 1.
        if (Interlocked.Exchange(ref _pending, 1) == 0)
        {
            _wake.Release();
        }
    }

    /// <summary>Nothing: the queue is this process's alone (one process on its embedded database).</summary>
    public void NotifyOthers()
    {
    }

    /// <summary>Returns when notified or after <paramref name="timeout"/>; throws <see cref="OperationCanceledException"/> on cancel.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (await _wake.WaitAsync(timeout, cancellationToken))
        {
            // A notify between the wake and this line is covered: the waiter looks for work after it returns.
            Volatile.Write(ref _pending, 0);
        }
    }

    public void Dispose() => _wake.Dispose();
}
