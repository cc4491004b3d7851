using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Transcripts;
using MeatLizard.Domain.Chats;

namespace MeatLizard.Application.Chats.Commands;

/// <summary>How a close went: whether this call closed the chat, whether a running answer was cancelled, the transcript.</summary>
public sealed record ChatClosed(bool WasOpen, bool GenerationCancelled, StoredTranscriptDto? Transcript);

/// <summary>
/// The one way a chat is closed (<see cref="CloseChat"/>, by its owner or an admin): a generation still running is cancelled first, the chat is closed by
/// one conditional write (so the transcript is stored once per close, however many calls ask), its relay channel is
/// let go, and the transcript is stored (<see cref="TranscriptOnClose"/>).
/// </summary>
public sealed class ChatClosing(
    IChatRepository chats, IRelayControl relay, IChatClosedSignal closed, TranscriptOnClose transcript,
    IClock clock)
{
    /// <summary>Closes <paramref name="chat"/>; <paramref name="close"/> closes the aggregate as its closer may.</summary>
    public async Task<ChatClosed> CloseAsync(Chat chat, Action<Chat, DateTimeOffset> close,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(close);
        var cancelled = await relay.CancelUnfinishedAsync(chat.Id, cancellationToken);
        var wasOpen = !chat.IsClosed;
        if (wasOpen)
        {
            close(chat, clock.UtcNow);
            wasOpen = await chats.TryCloseAsync(chat, cancellationToken);
        }

        // Also when it was closed already: its channel may have been left open (the relay was down then).
        closed.NotifyClosed(chat.Id.Value);
        var stored = wasOpen ? await transcript.StoreAsync(chat, cancellationToken) : null;
        return new ChatClosed(wasOpen, cancelled is not null, stored);
    }
}
