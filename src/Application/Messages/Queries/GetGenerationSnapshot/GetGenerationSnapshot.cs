using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;

namespace MeatLizard.Application.Messages.Queries;

/// <summary>
/// What a client that (re)connects to a session's stream needs first: the generation still running, if any, with the
/// text produced so far and the last delta's sequence number (later deltas with a higher seq continue it).
/// </summary>
public sealed record GetGenerationSnapshot(Guid ChatId) : IRequest<ChatEvent?>;

public sealed class GetGenerationSnapshotHandler(
    UserAccess access, IRelayRequestRepository requests, IRelayControl relay, IChatReadModel reads)
    : IRequestHandler<GetGenerationSnapshot, ChatEvent?>
{
    public async Task<ChatEvent?> Handle(GetGenerationSnapshot request, CancellationToken cancellationToken)
    {
        var (_, chat) = await access.RequireSessionAsync(request.ChatId, cancellationToken);
        var unfinished = await requests.GetUnfinishedForSessionAsync(chat.Id, cancellationToken);
        if (unfinished is null)
        {
            return null;
        }

        var status = unfinished.Status.ToString().ToLowerInvariant();
        var queued = status == AnswerStatuses.Pending ? await reads.GetQueuePositionAsync(unfinished.Id, cancellationToken) : (int?)null;
        var streamed = await relay.GetProgressAsync(unfinished.Id, cancellationToken);
        return new ChatEvent(ChatEventTypes.Status, chat.Id.Value, unfinished.Id.Value, streamed?.LastSeq ?? 0,
            streamed?.Text ?? string.Empty, Status: status, QueuePosition: queued);
    }
}
