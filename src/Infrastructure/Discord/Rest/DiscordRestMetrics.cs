using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;

namespace MeatLizard.Infrastructure.Discord.Rest;

/// <summary>
/// Discord REST calls by route template (<c>POST /channels/{channel_id}/messages</c>, never an id) and status, and
/// the 429s among them by scope (route bucket or global), on the <c>MeatLizard</c> meter.
/// </summary>
public sealed class DiscordRestMetrics
{
    private readonly Counter<long> _calls;
    private readonly Counter<long> _rateLimited;

    public DiscordRestMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create("MeatLizard");
        _calls = meter.CreateCounter<long>("meatlizard.discord.rest.calls", "{call}",
            "Discord REST calls by route and status (status 0: no answer, the connection failed)");
        _rateLimited = meter.CreateCounter<long>("meatlizard.discord.rest.rate_limited", "{call}",
            "Discord REST calls answered 429, by route and scope (route or global)");
    }

    public void Answered(DiscordRoute route, HttpStatusCode? status) =>
        _calls.Add(1, new TagList { { "route", route.ToString() }, { "status", status is { } s ? (int)s : 0 } });

    public void RateLimited(DiscordRoute route, bool global) =>
        _rateLimited.Add(1, new TagList { { "route", route.ToString() }, { "scope", global ? "global" : "route" } });
}
