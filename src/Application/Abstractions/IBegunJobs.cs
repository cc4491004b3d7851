namespace MeatLizard.Application.Abstractions;

/// <summary>
/// The attempts of requests this model host began answering (sent the server an envelope for), kept across its restarts
/// for a while. A run killed mid-answer leaves the dispatches it had taken unread as far as its channels' stored places
/// go, so the next run reads them again as it catches up: an attempt an earlier run began is not answered again from
/// the beginning (its pieces would follow the ones clients were shown) — the server, seeing the new run, sends it again
/// as a new attempt that goes on from what was shown.
/// </summary>
public interface IBegunJobs
{
    /// <summary>Whether an earlier run of this host began <paramref name="attempt"/> of the request (this run's never count).</summary>
    bool BegunByAnEarlierRun(Guid requestId, int attempt);

    /// <summary>Notes that this run began <paramref name="attempt"/> of the request: it has sent the server an envelope for it.</summary>
    void Begin(Guid requestId, int attempt);
}

/// <summary>No memory across runs: a host whose runs end with its process (embedded) has no earlier run to ask about.</summary>
public sealed class NoBegunJobs : IBegunJobs
{
    public bool BegunByAnEarlierRun(Guid requestId, int attempt) => false;

    public void Begin(Guid requestId, int attempt)
    {
    }
}
