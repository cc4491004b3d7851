namespace MeatLizard.Application.Abstractions;

/// <summary>
/// The relay's transport could not take a packet for want of the transport itself (Discord answering 5xx, or not at
/// all): sending it again once the way is back delivers it. Anything else a transport throws is not worth repeating.
/// </summary>
public sealed class RelayTransportUnavailableException(string message, Exception inner) : Exception(message, inner);
