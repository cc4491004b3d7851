using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Memory;

/// <summary>
/// The latest heartbeat of each worker, held in this process. A worker counts as alive while its last heartbeat is
/// no older than <see cref="RelayOptions.WorkerTimeout"/>; workers silent for much longer are forgotten.
/// </summary>
public sealed class MemoryHostPresence(IOptions<RelayOptions> options, IClock clock) : IHostPresence
{
    /// <summary>How many timeouts a silent worker is remembered before it is dropped.</summary>
    private const int ForgetAfterTimeouts = 10;

    private readonly ConcurrentDictionary<Guid, HostHealth> _workers = new();

    public ValueTask RecordAsync(HostHealth health, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(health);
        cancellationToken.ThrowIfCancellationRequested();

        // A heartbeat that arrives late must not replace a newer one.
        _workers.AddOrUpdate(
            health.WorkerId,
            static (_, incoming) => incoming,
            static (_, current, incoming) => incoming.SeenAt >= current.SeenAt ? incoming : current,
            health);
        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<HostHealth>> ListAliveAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();

        var now = clock.UtcNow;
        var timeout = options.Value.WorkerTimeout;
        var alive = new List<HostHealth>();
        foreach (var (id, health) in _workers)
        {
            var silence = now - health.SeenAt;
            if (silence <= timeout)
            {
                alive.Add(health);
            }
            else if (silence > timeout * ForgetAfterTimeouts)
            {
                _workers.TryRemove(new KeyValuePair<Guid, HostHealth>(id, health));
            }
        }

        alive.Sort(static (a, b) => b.SeenAt.CompareTo(a.SeenAt));
        return ValueTask.FromResult<IReadOnlyList<HostHealth>>(alive);
    }
}
