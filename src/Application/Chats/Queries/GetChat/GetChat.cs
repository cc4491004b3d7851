using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Chats.Queries;

public sealed record GetChat(Guid Id) : IRequest<SessionDto>;

public sealed class GetChatHandler(UserAccess access) : IRequestHandler<GetChat, SessionDto>
{
    public async Task<SessionDto> Handle(GetChat request, CancellationToken cancellationToken)
    {
        var (_, chat) = await access.RequireSessionAsync(request.Id, cancellationToken);
        return chat.ToDto();
    }
}
