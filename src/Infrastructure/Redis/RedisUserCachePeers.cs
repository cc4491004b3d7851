using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Persistence;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// The user caches of every process (API instances, server bot) tell each other of writes on the shared invalidation
/// channel (<see cref="RedisCacheInvalidations"/>, topic <c>user</c>, the id as argument). While this process cannot be
/// sure to hear them (Redis unreachable), its cache reads through to the database, counted and logged by
/// <see cref="RedisOutages"/>. A write returns once every process that heard of it has dropped its copy.
/// </summary>
public sealed class RedisUserCachePeers(RedisCacheInvalidations invalidations, RedisOutages outages) : IUserCachePeers
{
    private const string Topic = "user";

    public bool IsListening
    {
        get
        {
            if (invalidations.IsListening)
            {
                return true;
            }

            if (invalidations.IsDown)
            {
                outages.Record("user cache", "read from the database", "not subscribed to invalidations");
            }

            return false;
        }
    }

    public void OnInvalidated(Action<UserId?> invalidated)
    {
        ArgumentNullException.ThrowIfNull(invalidated);
        invalidations.Listen(Topic, argument =>
        {
            // Anything unreadable drops every row: one more read each is cheaper than a row kept by mistake.
            invalidated(Guid.TryParseExact(argument, "N", out var id) ? new UserId(id) : null);
        });
        invalidations.OnLost(() => invalidated(null));
    }

    public Task PublishAsync(UserId id) => invalidations.PublishConfirmedAsync(
        Topic, id.Value.ToString("N"), "other processes see the change when their copy expires (Cache:Users:Lifetime)");
}
