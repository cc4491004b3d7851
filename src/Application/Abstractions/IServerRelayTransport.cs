
namespace MeatLizard.Application.Abstractions;

/// <summary>The server bot's end of the relay: sends requests and cancels, receives what workers send.</summary>
public interface IServerRelayTransport : IRelayChannel;
