using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Sessions.Queries;

public sealed record TranscriptDto(SessionDto Session, IReadOnlyList<MessageDto> Messages);

/// <summary>
/// The chat's current path; with <see cref="All"/> every message of its tree (each names its parent), as written.
/// </summary>
public sealed record GetTranscript(Guid Id, bool All = false) : IRequest<TranscriptDto>;

public sealed class GetTranscriptHandler(UserAccess access, IChatReadModel reads)
    : IRequestHandler<GetTranscript, TranscriptDto>
{
    public async Task<TranscriptDto> Handle(GetTranscript request, CancellationToken cancellationToken)
    {
        var (_, session) = await access.RequireSessionAsync(request.Id, cancellationToken);
        var messages = await reads.GetTranscriptAsync(session.Id, request.All, cancellationToken);
        return new TranscriptDto(session.ToDto(), messages);
    }
}
