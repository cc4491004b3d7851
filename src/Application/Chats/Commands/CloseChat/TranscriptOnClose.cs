using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Chats.Queries;
using MeatLizard.Application.Transcripts;
using MeatLizard.Domain.Chats;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Chats.Commands;

/// <summary>
/// Stores a chat's transcript as it closes, with <see cref="TranscriptOptions.StoreOnClose"/>; a failure leaves the
/// chat closed (the transcript can still be stored on demand) and is only logged.
/// </summary>
public sealed partial class TranscriptOnClose(
    TranscriptArchive archive, IOptions<TranscriptOptions> options, ILogger<TranscriptOnClose> logger)
{
    /// <summary>The stored transcript's links, or null when none was stored.</summary>
    public async Task<StoredTranscriptDto?> StoreAsync(Chat chat, CancellationToken cancellationToken)
    {
        if (!options.Value.StoreOnClose)
        {
            return null;
        }

        try
        {
            return await archive.StoreChatAsync(chat, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStoreFailed(logger, chat.Id.Value, ex.GetType().Name);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Chat {SessionId} closed, but its transcript could not be stored ({ErrorType})")]
    private static partial void LogStoreFailed(ILogger logger, Guid sessionId, string errorType);
}
