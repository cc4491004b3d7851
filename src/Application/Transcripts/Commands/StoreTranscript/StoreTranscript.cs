using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Sessions.Queries;

namespace MeatLizard.Application.Transcripts.Commands;

/// <summary>Stores the caller's chat transcript (JSON and CSV) in the object store and returns download links.</summary>
public sealed record StoreTranscript(Guid SessionId) : IRequest<StoredTranscriptDto>, IRateLimitedRequest
{
    /// <summary>Every store writes two new objects; the retention sweep removes them later, this limits the rate.</summary>
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.TranscriptStore];
}

public sealed class StoreTranscriptHandler(UserAccess access, TranscriptArchive archive)
    : IRequestHandler<StoreTranscript, StoredTranscriptDto>
{
    public async Task<StoredTranscriptDto> Handle(StoreTranscript request, CancellationToken cancellationToken)
    {
        var (_, chat) = await access.RequireSessionAsync(request.SessionId, cancellationToken);
        return await archive.StoreChatAsync(chat, cancellationToken);
    }
}
