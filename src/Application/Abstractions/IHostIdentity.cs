namespace MeatLizard.Application.Abstractions;

/// <summary>
/// The model host's id, the same across its restarts: the server addresses requests to it (several hosts share the
/// relay channels), so a host that restarts must still take the requests sent to it before.
/// </summary>
public interface IHostIdentity
{
    Guid WorkerId { get; }
}
