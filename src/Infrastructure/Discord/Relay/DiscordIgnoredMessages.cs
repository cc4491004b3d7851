using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// Counts messages the relay ignored, per reason (envelopes that fail to open are counted by the cipher): readable
/// here and published as the <c>meatlizard.discord.messages.ignored</c> counter (tag <c>reason</c>) on the
/// <c>MeatLizard.Discord</c> meter. Anyone in the guild can post, so each one is logged at Debug only, plus at most one
/// Information line per <see cref="LogInterval"/> saying how many were ignored since the last: a member cannot flood
/// the log.
/// </summary>
public sealed partial class DiscordIgnoredMessages
{
    public const string MeterName = "MeatLizard.Discord";

    public static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<IgnoredMessageReason, long> _counts = new();
    private readonly Counter<long> _counter;
    private readonly ILogger<DiscordIgnoredMessages> _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private long? _lastSummaryAt;
    private long _sinceSummary;

    public DiscordIgnoredMessages(IMeterFactory meterFactory, ILogger<DiscordIgnoredMessages> logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _logger = logger;
        _time = time;
        _counter = meterFactory.Create(MeterName).CreateCounter<long>(
            "meatlizard.discord.messages.ignored", unit: "{message}", description: "Discord messages the relay ignored, by reason");
    }

    /// <summary>Counts one ignored message, and logs it as said above.</summary>
    public void Record(IgnoredMessageReason reason, string messageId, string channelId)
    {
        Increment(reason);
        LogIgnored(_logger, messageId, channelId, reason);

        long ignored;
        lock (_gate)
        {
            _sinceSummary++;
            var now = _time.GetTimestamp();
            if (_lastSummaryAt is { } last && _time.GetElapsedTime(last, now) < LogInterval)
            {
                return;
            }

            _lastSummaryAt = now;
            ignored = _sinceSummary;
            _sinceSummary = 0;
        }

        LogSummary(_logger, ignored, reason, channelId, (int)LogInterval.TotalSeconds);
    }

    /// <summary>Counts one ignored message that is expected traffic (another client bot's): logged at Debug, never summarised.</summary>
    public void RecordQuietly(IgnoredMessageReason reason, string messageId, string channelId)
    {
        Increment(reason);
        LogIgnored(_logger, messageId, channelId, reason);
    }

    /// <summary>Counts one ignored message that the caller logs itself (e.g. an envelope file given up, at Warning).</summary>
    public void Increment(IgnoredMessageReason reason)
    {
        _counts.AddOrUpdate(reason, 1, (_, n) => n + 1);
        _counter.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));
    }

    public long Count(IgnoredMessageReason reason) => _counts.TryGetValue(reason, out var n) ? n : 0;

    public long Total => _counts.Values.Sum();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Ignored Discord message {MessageId} in channel {ChannelId}: {Reason}")]
    private static partial void LogIgnored(ILogger logger, string messageId, string channelId, IgnoredMessageReason reason);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Ignored {Count} Discord messages not meant for the relay (the latest: {Reason} in channel {ChannelId}); at most one such line every {IntervalSeconds} s, each one at Debug")]
    private static partial void LogSummary(ILogger logger, long count, IgnoredMessageReason reason, string channelId, int intervalSeconds);
}
