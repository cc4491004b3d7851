namespace MeatLizard.Infrastructure.Discord.Gateway;

/// <summary>Timings of the gateway client; the defaults are Discord's, tests shorten them.</summary>
public sealed class GatewayTimings
{
    /// <summary>The first reconnect waits about this long, doubling on each failure up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Identifies are limited (max_concurrency per 5 s): at least this long between two of ours.</summary>
    public TimeSpan IdentifyInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Events we may send per <see cref="SendWindow"/> (Discord closes the connection beyond 120 per 60 s).</summary>
    public int SendLimit { get; set; } = 120;

    public TimeSpan SendWindow { get; set; } = TimeSpan.FromSeconds(60);
}
