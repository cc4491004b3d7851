using MeatLizard.Application.Common;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>
/// The requests this process has told their hosts to stop (<see cref="HostEnvelopes"/>): a host that goes on streaming
/// an ended request is told once from here, not at every piece. What this process sends goes to every host connected to
/// it, so once here is once on each of its links; a host that dialled another instance since is told from there.
/// </summary>
public sealed class HostsToldToStop
{
    // Only a memory against repeats: forgetting all at once (a bounded cache) costs at most one more cancel each.
    private const int MaxRemembered = 10_000;

    private readonly CountedMap<Guid, byte> _told = new();

    /// <summary>Notes that <paramref name="requestId"/>'s host is told to stop; false when it was already.</summary>
    public bool Note(Guid requestId)
    {
        if (_told.Count >= MaxRemembered)
        {
            _told.Clear();
        }

        return _told.TryAdd(requestId, 0);
    }
}
