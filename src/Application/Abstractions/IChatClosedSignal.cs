
namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Tells the relay that a chat was closed, so what it keeps for the chat (over Discord: the chat's channel) is archived
/// or deleted at once. Quick (it only queues the work) and best effort: the relay also finds closed chats by itself,
/// so a signal that does not arrive only delays it.
/// </summary>
public interface IChatClosedSignal
{
    void NotifyClosed(Guid chatId);
}

/// <summary>For relays that keep nothing per chat (in-process).</summary>
public sealed class NoChatClosedSignal : IChatClosedSignal
{
    public void NotifyClosed(Guid chatId)
    {
    }
}
