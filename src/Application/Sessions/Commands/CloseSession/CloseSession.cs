using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Sessions.Queries;
using MeatLizard.Application.Transcripts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Sessions.Commands;

/// <summary>
/// Closes the chat; a generation still running is cancelled first. With <see cref="TranscriptOptions.StoreOnClose"/>
/// the transcript is then stored and its links returned (null when not stored). Closing a closed chat again stores
/// nothing: the transcript is stored once per close, however many calls (side by side or one after another) ask.
/// </summary>
public sealed record CloseSession(Guid Id) : IRequest<StoredTranscriptDto?>;

public sealed partial class CloseSessionHandler(
    UserAccess access,
    IChatSessionRepository sessions,
    IRelayControl relay,
    ISessionClosedSignal closed,
    IClock clock,
    IChatReadModel reads,
    TranscriptArchive archive,
    IOptions<TranscriptOptions> options,
    ILogger<CloseSessionHandler> logger)
    : IRequestHandler<CloseSession, StoredTranscriptDto?>
{
    public async Task<StoredTranscriptDto?> Handle(CloseSession request, CancellationToken cancellationToken)
    {
        var (user, session) = await access.RequireSessionAsync(request.Id, cancellationToken);
        await relay.CancelUnfinishedAsync(session.Id, cancellationToken);
        session.Close(user, clock.UtcNow);
        if (!await sessions.TryCloseAsync(session, cancellationToken))
        {
            return null; // closed before: that close stored what there was to store
        }

        closed.NotifyClosed(session.Id.Value);
        if (!options.Value.StoreOnClose)
        {
            return null;
        }

        try
        {
            var messages = await reads.GetTranscriptAsync(session.Id, cancellationToken);
            return await archive.StoreAsync(
                new TranscriptDto(session.ToDto(), messages), session.OwnerId.Value, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The chat is closed either way; the transcript can still be stored on demand.
            LogStoreFailed(logger, session.Id.Value, ex.GetType().Name);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Chat {SessionId} closed, but its transcript could not be stored ({ErrorType})")]
    private static partial void LogStoreFailed(ILogger logger, Guid sessionId, string errorType);
}
