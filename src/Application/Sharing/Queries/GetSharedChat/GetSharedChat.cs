using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;

namespace MeatLizard.Application.Sharing.Queries;

/// <summary>What a share link shows, to anyone who holds it, signed in or not.</summary>
public sealed record GetSharedChat(string Token) : IRequest<SharedChatDto>;

public sealed class GetSharedChatHandler(IShareLinkStore links) : IRequestHandler<GetSharedChat, SharedChatDto>
{
    public async Task<SharedChatDto> Handle(GetSharedChat request, CancellationToken cancellationToken)
    {
        if (!ShareTokens.IsPlausible(request.Token))
        {
            throw NotFoundException.ShareLink();
        }

        return await links.GetSharedAsync(ShareTokens.Hash(request.Token), cancellationToken)
               ?? throw NotFoundException.ShareLink();
    }
}
