using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>The recent turns of many sessions, as both read models return them.</summary>
internal static class RecentTurns
{
    /// <summary>
    /// Every id asked for gets an entry; <paramref name="turns"/> come oldest first, so each session's list keeps that
    /// order.
    /// </summary>
    public static IReadOnlyDictionary<SessionId, IReadOnlyList<ChatTurn>> BySession(
        IReadOnlyCollection<SessionId> sessionIds, IEnumerable<(SessionId Session, ChatTurn Turn)> turns)
    {
        var lists = new Dictionary<SessionId, List<ChatTurn>>(sessionIds.Count);
        foreach (var id in sessionIds)
        {
            lists.TryAdd(id, []);
        }

        foreach (var (sessionId, turn) in turns)
        {
            lists[sessionId].Add(turn);
        }

        return lists.ToDictionary(p => p.Key, p => (IReadOnlyList<ChatTurn>)p.Value);
    }
}
