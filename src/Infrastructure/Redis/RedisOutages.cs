using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// Records each operation that went on without Redis: counted on the <c>meatlizard.redis.fallbacks</c> counter
/// (meter <c>MeatLizard.Redis</c>, tags <c>operation</c> and <c>outcome</c>) and logged, at most one line per
/// operation every <see cref="LogInterval"/> so an outage does not flood the log.
/// </summary>
public sealed partial class RedisOutages
{
    public const string MeterName = "MeatLizard.Redis";

    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private readonly Counter<long> _counter;
    private readonly ILogger<RedisOutages> _logger;
    private readonly Dictionary<string, long> _lastLogged = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private long _total;

    public RedisOutages(IMeterFactory meterFactory, ILogger<RedisOutages> logger)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _logger = logger;
        _counter = meterFactory.Create(MeterName).CreateCounter<long>(
            "meatlizard.redis.fallbacks", unit: "{operation}", description: "Operations done without Redis while it was unreachable");
    }

    /// <summary>How many operations went on without Redis since start.</summary>
    public long Total => Interlocked.Read(ref _total);

    /// <summary>True for the failures that mean "Redis is unreachable or too slow" rather than a bug.</summary>
    public static bool IsOutage(Exception exception) =>
        exception is RedisConnectionException or RedisTimeoutException or TimeoutException
            || (exception is RedisServerException server && server.Message.StartsWith("LOADING", StringComparison.Ordinal));

    /// <summary>
    /// Publishes <paramref name="message"/> on <paramref name="channel"/>, fire and forget: with Redis unreachable the
    /// outage is recorded, with what it costs (<paramref name="outcome"/>), rather than thrown — nothing waits for it.
    /// </summary>
    public async Task PublishAsync(RedisConnection connection, RedisChannel channel, RedisValue message, string operation,
        string outcome)
    {
        ArgumentNullException.ThrowIfNull(connection);
        try
        {
            var subscriber = await connection.GetSubscriberAsync();
            await connection.WithinTimeout(subscriber.PublishAsync(channel, message));
        }
        catch (Exception ex) when (IsOutage(ex))
        {
            Record(operation, outcome, ex);
        }
    }

    public void Record(string operation, string outcome, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        Record(operation, outcome, exception.GetType().Name);
    }

    /// <summary>As <see cref="Record(string, string, Exception)"/>, for a fallback noticed without an exception.</summary>
    public void Record(string operation, string outcome, string cause)
    {
        Interlocked.Increment(ref _total);
        _counter.Add(1, new KeyValuePair<string, object?>("operation", operation),
            new KeyValuePair<string, object?>("outcome", outcome));

        var now = Environment.TickCount64;
        lock (_gate)
        {
            if (_lastLogged.TryGetValue(operation, out var last) && now - last < LogInterval.TotalMilliseconds)
            {
                return;
            }

            _lastLogged[operation] = now;
        }

        LogOutage(_logger, operation, outcome, cause);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unreachable during {Operation}: {Outcome} ({Cause})")]
    private static partial void LogOutage(ILogger logger, string operation, string outcome, string cause);
}
