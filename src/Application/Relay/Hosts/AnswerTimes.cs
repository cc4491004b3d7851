using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay.Hosts;

/// <summary>
/// How long answers take on each model host, from dispatch to the stored answer: the measure a queued request's wait is
/// estimated from. One per process.
/// </summary>
public sealed class AnswerTimes
{
    private readonly ConcurrentDictionary<Guid, double> _answerSeconds = new();

    /// <summary>Notes one answer's time on <paramref name="host"/> (recent answers weigh most: each new one a fifth).</summary>
    public void Record(Guid host, TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            return;
        }

        _answerSeconds.AddOrUpdate(host, duration.TotalSeconds, (_, before) => (0.8 * before) + (0.2 * duration.TotalSeconds));
    }

    /// <summary>
    /// About how long the request at <paramref name="position"/> (1 = next) in a model's queue waits before a host
    /// starts it: the hosts serving the model (<paramref name="servers"/>) finish, together, one answer every so often
    /// (each its slots per answer time); the request starts once <paramref name="position"/> answers have finished.
    /// Null when no host serving the model has answered yet (nothing to estimate from).
    /// </summary>
    public TimeSpan? EstimateWait(IEnumerable<HostHealth> servers, int position)
    {
        var perSecond = 0.0;
        foreach (var host in servers)
        {
            if (_answerSeconds.TryGetValue(host.WorkerId, out var seconds))
            {
                perSecond += (host.Slots ?? 1) / seconds;
            }
        }

        return perSecond > 0 ? TimeSpan.FromSeconds(position / perSecond) : null;
    }
}
