using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;

namespace MeatLizard.Application.Messages;

/// <summary>
/// The chats this process queued a message in, each as it stored it, with the stored version — so the next message in
/// the chat is queued without reading the chat first (one round trip to the database instead of two). Only a hint:
/// <see cref="Abstractions.IRelayRequestRepository.TryQueueAsync"/> writes only if the stored chat is still at that
/// version and not being answered, so a chat changed since (renamed, closed, its settings changed, a message queued
/// by another API instance) costs one failed write, then the usual read. Bounded: when it holds
/// <see cref="Capacity"/> chats it starts again empty.
/// </summary>
public sealed class KnownChats
{
    internal const int Capacity = 10_000;

    private readonly CountedMap<ChatId, Known> _chats = new();

    /// <summary>A copy of the chat as last stored by this process (the caller may change it), or null.</summary>
    public (Chat Chat, string Version)? Find(ChatId id)
    {
        if (!_chats.TryGetValue(id, out var known))
        {
            return null;
        }

        return (Copy(known.Chat), known.Version);
    }

    /// <summary>Keeps a copy of <paramref name="chat"/> as stored at <paramref name="version"/>.</summary>
    public void Remember(Chat chat, string version)
    {
        ArgumentNullException.ThrowIfNull(chat);
        if (_chats.Count >= Capacity)
        {
            _chats.Clear();
        }

        _chats[chat.Id] = new Known(Copy(chat), version);
    }

    /// <summary>The hint was wrong (the write it led to did not happen): the next message reads the chat.</summary>
    public void Forget(ChatId id) => _chats.TryRemove(id, out _);

    private static Chat Copy(Chat chat) => Chat.Restore(chat.Id, chat.OwnerId, chat.Title,
        chat.Status, chat.Model, chat.SystemPrompt, chat.Sampling, chat.CreatedAt, chat.UpdatedAt,
        chat.ClosedAt);

    private sealed record Known(Chat Chat, string Version);
}
