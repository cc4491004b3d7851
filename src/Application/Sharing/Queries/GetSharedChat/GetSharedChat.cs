using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;

namespace MeatLizard.Application.Sharing.Queries;

/// <summary>What a share link shows, to anyone who holds it, signed in or not.</summary>
public sealed record GetSharedChat(string Token) : IRequest<SharedChatDto>;

public sealed class GetSharedChatHandler(IShareLinkStore links) : IRequestHandler<GetSharedChat, SharedChatDto>
{
    /// <summary>Tokens are 43 characters; anything much longer is not one, and is not hashed.</summary>
    private const int MaxTokenLength = 100;

    public async Task<SharedChatDto> Handle(GetSharedChat request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.Token) || request.Token.Length > MaxTokenLength)
        {
            throw NotFoundException.ShareLink();
        }

        return await links.GetSharedAsync(ShareTokens.Hash(request.Token), cancellationToken)
               ?? throw NotFoundException.ShareLink();
    }
}
