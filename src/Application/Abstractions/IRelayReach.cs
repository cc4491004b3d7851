namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Which model hosts the server's relay transport can reach, when not all that the presence store lists: the
/// in-process transport reaches only the worker in its own process, the direct relay only the hosts connected to this
/// API instance. Not registered: every host is reachable (Discord).
/// </summary>
public interface IRelayReach
{
    /// <summary>Whether what this process sends reaches the host: its dispatcher places requests on such hosts alone.</summary>
    bool Reaches(Guid workerId);

    /// <summary>
    /// Whether this process can tell from the presence store if the host is alive, and so judge the requests it has when
    /// it goes quiet: the in-process relay judges only its own worker, whose heartbeats it records; the direct relay's
    /// instances judge every host, as each records the heartbeats of those connected to it, and a host whose instance
    /// died would otherwise have no one to judge what it had.
    /// </summary>
    bool Judges(Guid workerId);
}
