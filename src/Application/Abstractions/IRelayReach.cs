namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Which model hosts the server's relay transport can reach, when not all that the presence store lists: the
/// in-process transport reaches only the worker in its own process. Not registered: every host is reachable (Discord).
/// </summary>
public interface IRelayReach
{
    bool Reaches(Guid workerId);
}
