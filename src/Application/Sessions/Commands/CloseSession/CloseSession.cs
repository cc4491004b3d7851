using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Transcripts;

namespace MeatLizard.Application.Sessions.Commands;

/// <summary>
/// Closes the chat; a generation still running is cancelled first. With <see cref="TranscriptOptions.StoreOnClose"/>
/// the transcript is then stored and its links returned (null when not stored). Closing a closed chat again stores
/// nothing: the transcript is stored once per close, however many calls (side by side or one after another) ask.
/// </summary>
public sealed record CloseSession(Guid Id) : IRequest<StoredTranscriptDto?>;

public sealed class CloseSessionHandler(UserAccess access, ChatClosing closing)
    : IRequestHandler<CloseSession, StoredTranscriptDto?>
{
    public async Task<StoredTranscriptDto?> Handle(CloseSession request, CancellationToken cancellationToken)
    {
        var (user, chat) = await access.RequireSessionAsync(request.Id, cancellationToken);
        var closed = await closing.CloseAsync(chat, (c, now) => c.Close(user, now), cancellationToken);
        return closed.Transcript; // null when it was closed before: that close stored what there was to store
    }
}
