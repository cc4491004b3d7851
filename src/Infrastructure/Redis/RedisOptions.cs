namespace MeatLizard.Infrastructure.Redis;

/// <summary>What rate limiting does while Redis cannot be reached.</summary>
public enum RedisFailMode
{
    /// <summary>Let requests through (the default): an outage must not stop people chatting.</summary>
    Open,

    /// <summary>Refuse requests with a short retry-after until Redis is back.</summary>
    Closed,
}

/// <summary>
/// Section "Cache:Redis" when <c>Cache:Provider</c> is <c>Redis</c>. The server comes from
/// <c>ConnectionStrings:Redis</c> (a StackExchange.Redis configuration string such as <c>host:6379,password=…</c>).
/// </summary>
public sealed class RedisOptions
{
    public const string Section = "Cache:Redis";

    public const string ConnectionStringKey = "ConnectionStrings:Redis";

    /// <summary>The StackExchange.Redis configuration string, from <see cref="ConnectionStringKey"/>.</summary>
    public string Configuration { get; set; } = string.Empty;

    /// <summary>Put before every key and channel, so several deployments can share one Redis.</summary>
    public string KeyPrefix { get; set; } = "meatlizard:";

    public RedisFailMode FailMode { get; set; } = RedisFailMode.Open;

    /// <summary>How long a rate-limit check refused in <see cref="RedisFailMode.Closed"/> asks the caller to wait.</summary>
    public TimeSpan FailClosedRetryAfter { get; set; } = TimeSpan.FromSeconds(5);
}
