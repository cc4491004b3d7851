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

    /// <summary>The longest <see cref="ChatSubscriptionLinger"/> allowed.</summary>
    public static readonly TimeSpan MaxChatSubscriptionLinger = TimeSpan.FromDays(1);

    /// <summary>
    /// How long an API instance stays subscribed to a session's chat-event channel after the last of its clients
    /// following that session left (0 to 1 day). A chat asks one message after another, each wait leaving when its
    /// answer came: the linger lets the next one join without a SUBSCRIBE round trip, so a chat costs one SUBSCRIBE
    /// and one UNSUBSCRIBE, not a pair per message.
    /// </summary>
    public TimeSpan ChatSubscriptionLinger { get; set; } = TimeSpan.FromSeconds(30);
}
