using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>
/// The dispatcher's wake-ups for requests that wait in the queue although a host serves them — for a free slot, for a
/// host that takes work again, for the way to the hosts — and whether any wait for a slot. A dispatch holds what it
/// claimed until it gives back what it could not place; news that came meanwhile (a slot come free, a host that takes
/// work now, the way back) woke a dispatcher that found those requests claimed and went back to sleep, so the dispatch
/// that gives them back wakes it again (<see cref="GaveBack"/>). Before, the queue then stood still until the
/// dispatcher's slow poll (Relay:PollInterval, 20 s in the fault suite's cluster) once nothing more ended on a host.
/// </summary>
public sealed class QueueWakes(IRelayQueueSignal signal)
{
    private readonly Lock _gate = new();

    /// <summary>Orders the claims and the give-backs of requests left waiting for a slot (<see cref="Turn"/>).</summary>
    private long _turns;

    /// <summary>The turn of the last give-back of requests left waiting for a slot; 0 when none wait.</summary>
    private long _waitingSince;

    /// <summary>How much news was heard: a dispatch compares it before its claim and after its give-back.</summary>
    private long _news;

    /// <summary>
    /// Whether requests were left waiting for a free slot: a request that ends on a host then wakes the dispatcher
    /// rather than leave the slot idle until its next poll.
    /// </summary>
    public bool SlotsAwaited => Volatile.Read(ref _waitingSince) != 0;

    /// <summary>Where a dispatch stands, taken just before its claim.</summary>
    public readonly record struct Turn(long Claimed, long NewsHeard);

    /// <summary>Taken just before a claim: what the claim cannot have seen happened after it.</summary>
    public Turn BeforeClaim() => new(Interlocked.Increment(ref _turns), Interlocked.Read(ref _news));

    /// <summary>
    /// News that may let waiting requests go now — a host takes work it could not take before, the way to the hosts
    /// is back: the dispatcher looks at once.
    /// </summary>
    public void News()
    {
        Interlocked.Increment(ref _news);
        signal.NotifyPending();
    }

    /// <summary>
    /// A request ended on its host, freeing a slot: the dispatcher looks at once when requests wait for one. Counted as
    /// news even when none are known to wait: a dispatch about to give some back learns of it.
    /// </summary>
    public void SlotFreed()
    {
        Interlocked.Increment(ref _news);
        if (SlotsAwaited)
        {
            signal.NotifyPending();
        }
    }

    /// <summary>
    /// A dispatch of <paramref name="turn"/> gave back claimed requests left waiting for a free slot: they wait for one
    /// from now on, and any news since its claim wakes the dispatcher again (<see cref="GaveBack"/>).
    /// </summary>
    public void LeftWaitingForASlot(Turn turn)
    {
        lock (_gate)
        {
            _waitingSince = Interlocked.Increment(ref _turns);
        }

        GaveBack(turn);
    }

    /// <summary>
    /// A dispatch of <paramref name="turn"/> gave claimed requests back to the queue: any news since its claim wakes the
    /// dispatcher again, now that they are claimable.
    /// </summary>
    public void GaveBack(Turn turn)
    {
        if (Interlocked.Read(ref _news) != turn.NewsHeard)
        {
            signal.NotifyPending();
        }
    }

    /// <summary>
    /// A dispatch of <paramref name="turn"/> left no request waiting for a slot. Those another dispatch gave back after
    /// this one's claim were not in it, so they still wait; those given back before it were, and were placed.
    /// </summary>
    public void NoneLeftWaiting(Turn turn)
    {
        lock (_gate)
        {
            if (_waitingSince < turn.Claimed)
            {
                _waitingSince = 0;
            }
        }
    }

    /// <summary>A dispatch claimed a full batch and may have left more behind: a sibling dispatch looks meanwhile.</summary>
    public void More() => signal.NotifyPending();

    /// <summary>Returns when woken or after <paramref name="timeout"/>, whichever comes first.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => signal.WaitAsync(timeout, cancellationToken);

    /// <summary>Wakes the other processes' dispatchers (<see cref="IRelayQueueSignal.NotifyOthers"/>).</summary>
    public void WakeOthers() => signal.NotifyOthers();
}
