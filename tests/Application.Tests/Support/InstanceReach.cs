using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Tests.Support;

/// <summary>
/// The direct relay's reach in one of several API instances: it sends only to the hosts connected to it
/// (<paramref name="here"/>), and judges every host by the shared presence store.
/// </summary>
public sealed class InstanceReach(params Guid[] here) : IRelayReach
{
    public bool Reaches(Guid workerId) => here.Contains(workerId);

    public bool Judges(Guid workerId) => true;
}
