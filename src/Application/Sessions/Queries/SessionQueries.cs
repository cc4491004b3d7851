using AutoMapper;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Sessions.Queries;

public sealed record ListSessions : IRequest<IReadOnlyList<SessionDto>>;

public sealed class ListSessionsHandler(UserAccess access, IChatReadModel reads)
    : IRequestHandler<ListSessions, IReadOnlyList<SessionDto>>
{
    public async Task<IReadOnlyList<SessionDto>> Handle(ListSessions request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        return await reads.ListSessionsAsync(user.Id, cancellationToken);
    }
}

public sealed record GetSession(Guid Id) : IRequest<SessionDto>;

public sealed class GetSessionHandler(UserAccess access, IMapper mapper) : IRequestHandler<GetSession, SessionDto>
{
    public async Task<SessionDto> Handle(GetSession request, CancellationToken cancellationToken)
    {
        var (_, session) = await access.RequireSessionAsync(request.Id, cancellationToken);
        return mapper.Map<SessionDto>(session);
    }
}

public sealed record TranscriptDto(SessionDto Session, IReadOnlyList<MessageDto> Messages);

public sealed record GetTranscript(Guid Id) : IRequest<TranscriptDto>;

public sealed class GetTranscriptHandler(UserAccess access, IChatReadModel reads, IMapper mapper)
    : IRequestHandler<GetTranscript, TranscriptDto>
{
    public async Task<TranscriptDto> Handle(GetTranscript request, CancellationToken cancellationToken)
    {
        var (_, session) = await access.RequireSessionAsync(request.Id, cancellationToken);
        var messages = await reads.GetTranscriptAsync(session.Id, cancellationToken);
        return new TranscriptDto(mapper.Map<SessionDto>(session), messages);
    }
}
