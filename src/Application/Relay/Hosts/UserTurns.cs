using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Relay.Hosts;

/// <summary>
/// The order queued requests are served in: round robin over users, so one user's many messages delay another's by at
/// most one slot turn, however much older they are. One per process.
/// </summary>
public sealed class UserTurns
{
    private const int MaxUsersRemembered = 10_000;

    private readonly CountedMap<UserId, long> _lastServed = new();
    private long _served;

    /// <summary>
    /// The claimed requests in the order to serve them: each user's oldest first (turns), and within a turn the user
    /// served longest ago (or never) first.
    /// </summary>
    public List<ClaimedRequest> InTurns(IReadOnlyList<ClaimedRequest> claimed)
    {
        var turns = new Dictionary<UserId, int>();
        return claimed
            .OrderBy(c => c.Request.CreatedAt)
            .Select(c => (Claimed: c, Turn: turns[c.Request.UserId] = turns.GetValueOrDefault(c.Request.UserId) + 1))
            .OrderBy(c => c.Turn)
            .ThenBy(c => _lastServed.GetValueOrDefault(c.Claimed.Request.UserId))
            .Select(c => c.Claimed)
            .ToList();
    }

    /// <summary>Notes that a request of <paramref name="user"/> was sent to a host, for <see cref="InTurns"/>.</summary>
    public void Served(UserId user)
    {
        if (_lastServed.Count >= MaxUsersRemembered)
        {
            // The users served longest ago are forgotten: they count as never served, which is where they stood anyway.
            foreach (var (id, _) in _lastServed.OrderBy(p => p.Value).Take(MaxUsersRemembered / 2).ToList())
            {
                _lastServed.TryRemove(id, out _);
            }
        }

        _lastServed[user] = Interlocked.Increment(ref _served);
    }
}
