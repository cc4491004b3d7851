using System.Globalization;
using MeatLizard.Application.Abstractions;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// The relay processes' outage reports on <c>{prefix}relay:outages</c>: <c>reporter|down-since|up-at|hosts-catch-up</c>,
/// times as UTC ticks, up-at empty while the outage lasts, the hosts' catch-up in ticks (a report without it, from an
/// earlier version, reads as none). Published without waiting; a report lost (Redis away too) leaves the
/// other server bots to judge by their own calls, as one alone does. The subscription is made at the first listener
/// and tried again every second until it holds; the connection restores it after a Redis restart.
/// </summary>
public sealed class RedisRelayPeerOutages(RedisConnection connection, RedisOutages outages) : IRelayPeerOutages, IDisposable
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    private readonly string _self = Guid.NewGuid().ToString("N");
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private Action<RelayOutageReport>? _listeners;
    private Task? _subscribed;
    private Action<RedisChannel, RedisValue>? _deliver;

    private RedisChannel Channel => new($"{connection.KeyPrefix}relay:outages", RedisChannel.PatternMode.Literal);

    public void Report(DateTimeOffset downSince, DateTimeOffset? upAt, TimeSpan hostsCatchUp) =>
        _ = PublishAsync(string.Create(CultureInfo.InvariantCulture,
            $"{_self}|{downSince.UtcTicks}|{(upAt is { } up ? up.UtcTicks.ToString(CultureInfo.InvariantCulture) : "")}|{Math.Max(0, hostsCatchUp.Ticks)}"));

    public void Listen(Action<RelayOutageReport> listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (_gate)
        {
            _listeners += listener;
            _subscribed ??= Task.Run(SubscribeAsync);
        }
    }

    /// <summary>The report in <paramref name="message"/>, null when it is not one (or is this process's own).</summary>
    public RelayOutageReport? Read(string? message)
    {
        var parts = message?.Split('|');
        var catchUp = 0L;
        if (parts is not { Length: 3 or 4 } || parts[0].Length is 0 or > 64 || parts[0] == _self
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var down)
            || down > DateTimeOffset.MaxValue.UtcTicks
            || parts.Length == 4 && !long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out catchUp))
        {
            return null;
        }

        DateTimeOffset? up = null;
        if (parts[2].Length > 0)
        {
            if (!long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var upTicks)
                || upTicks > DateTimeOffset.MaxValue.UtcTicks)
            {
                return null;
            }

            up = new DateTimeOffset(upTicks, TimeSpan.Zero);
        }

        return new RelayOutageReport(parts[0], new DateTimeOffset(down, TimeSpan.Zero), up, TimeSpan.FromTicks(catchUp));
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private Task PublishAsync(string message) => outages.PublishAsync(connection, Channel, message, "relay outage report",
        "the other server bots judge the model hosts by their own calls");

    private async Task SubscribeAsync()
    {
        var stopping = _stopping.Token;
        // One handler for every attempt (see RedisConnection.SubscribeAsync).
        _deliver ??= (_, message) => Deliver(message);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var subscriber = await connection.GetSubscriberAsync();
                await connection.SubscribeAsync(subscriber, Channel, _deliver);
                return;
            }
            catch (Exception ex) when (RedisOutages.IsOutage(ex))
            {
                outages.Record("relay outage subscribe", "this process judges the model hosts by its own calls", ex);
            }

            try
            {
                await Task.Delay(RetryInterval, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Deliver(RedisValue message)
    {
        if (Read(message) is not { } report)
        {
            return;
        }

        Action<RelayOutageReport>? listeners;
        lock (_gate)
        {
            listeners = _listeners;
        }

        listeners?.Invoke(report);
    }
}
