using System.Collections.Concurrent;
using System.Diagnostics;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Bench.Hosts;

/// <summary>
/// What the users were told against what happened: for each request, the first estimate of its wait (the "queued"
/// status with <c>estimatedWaitSeconds</c>) and the time from that event until its "dispatched" status.
/// </summary>
internal sealed class WaitEstimates : IAsyncDisposable
{
    private readonly ConcurrentDictionary<Guid, Told> _told = new();
    private readonly List<(IChatEventSubscription Subscription, Task Reading)> _subscriptions = [];
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Follows a chat's events from now on.</summary>
    public async Task FollowAsync(IChatEvents events, Guid chatId)
    {
        var subscription = await events.SubscribeAsync(chatId, CancellationToken.None);
        lock (_subscriptions)
        {
            _subscriptions.Add((subscription, Task.Run(() => ReadAsync(subscription))));
        }
    }

    /// <summary>
    /// Each request's estimate and its real wait, in seconds, for those told both, first told after
    /// <paramref name="from"/> (a <see cref="Stopwatch"/> timestamp).
    /// </summary>
    public IReadOnlyList<(int Estimated, double Waited, int? Position)> Pairs(long from) =>
        _told.Values.Where(t => t.Started is not null && t.At >= from)
            .Select(t => (t.Estimate, Stopwatch.GetElapsedTime(t.At, t.Started!.Value).TotalSeconds, t.Position)).ToList();

    private async Task ReadAsync(IChatEventSubscription subscription)
    {
        try
        {
            await foreach (var chatEvent in subscription.ReadAllAsync(_stop.Token))
            {
                if (chatEvent is not { Type: ChatEventTypes.Status, RequestId: { } request })
                {
                    continue;
                }

                var now = Stopwatch.GetTimestamp();
                if (chatEvent is { Status: "queued", EstimatedWaitSeconds: { } estimate })
                {
                    _told.TryAdd(request, new Told(estimate, now) { Position = chatEvent.QueuePosition });
                }
                else if (chatEvent.Status == "dispatched" && _told.TryGetValue(request, out var told) && told.Started is null)
                {
                    told.Started = now;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var (subscription, reading) in _subscriptions)
        {
            await reading;
            await subscription.DisposeAsync();
        }

        _stop.Dispose();
    }

    private sealed class Told(int estimate, long at)
    {
        public int Estimate => estimate;

        public long At => at;

        public long? Started { get; set; }

        public int? Position { get; init; }
    }
}
