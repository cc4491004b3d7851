
namespace MeatLizard.Application.Abstractions;

/// <summary>The client bot's (worker's) end of the relay.</summary>
public interface IHostRelayTransport : IRelayChannel;
